// The token index: a projection of the token streams, kept in columns (bytes, typed arrays, interned strings) so 100k tokens take a few MB; the gateway looks tokens up here.
import type { TokenEvent, TokenIssuedData } from '../events.js';
import type { RecordedEvent } from '../store/port.js';
import { HexKeys, type HexKeysSnapshot } from './hex-keys.js';
import { ListTable, StringTable } from './interned.js';
import { TextColumn, type TextColumnSnapshot } from './text-column.js';
import { ensure, growable } from './growable.js';
import { EXPIRES, READ_ONLY, REVOKED, TokenColumns, type SavedColumns } from './token-columns.js';

/** What TokenIssued says, with times as milliseconds, plus what the token's stream added since. */
export interface TokenRecord extends Omit<TokenIssuedData, 'expiresAt'> {
  /** Milliseconds since the epoch, or null: never. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  /** The actor of TokenIssued (`admin`, `user:<name>`). */
  readonly createdBy: string;
  /** 0-based revision of the last event in the token's stream (the expected revision of the next append). */
  readonly revision: number;
  readonly revokedAt?: number;
  readonly revokedBy?: string;
  readonly revokeReason?: string;
}

export type TokenState = 'active' | 'expiring_soon' | 'expired' | 'revoked';
export const TOKEN_STATES: readonly TokenState[] = ['active', 'expiring_soon', 'expired', 'revoked'];

/** A token expiring within this window is `expiring_soon` (still valid). */
export const EXPIRING_SOON_MS = 7 * 24 * 60 * 60 * 1000;

export function tokenState(record: TokenRecord, now: number): TokenState {
  if (record.revokedAt !== undefined) return 'revoked';
  if (record.expiresAt === null) return 'active';
  if (record.expiresAt <= now) return 'expired';
  return record.expiresAt - now <= EXPIRING_SOON_MS ? 'expiring_soon' : 'active';
}

/** Neither revoked nor expired: what `tokens.maxPerUser` counts and what the gateway accepts. */
export const isUsable = (record: TokenRecord, now: number): boolean =>
  record.revokedAt === undefined && (record.expiresAt === null || record.expiresAt > now);

/** The checkpoint form (JSON): every token's field at its slot in one array or byte string per field. */
export interface TokenIndexSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly count: number;
  readonly ids: HexKeysSnapshot;
  readonly hashes: HexKeysSnapshot;
  readonly names: TextColumnSnapshot;
  readonly strings: TextColumnSnapshot;
  readonly lists: readonly (readonly string[])[];
  readonly columns: SavedColumns;
  readonly reasons: readonly (readonly [slot: number, reason: string])[];
}

const SNAPSHOT_FORMAT = 'token-columns/1';
/** sha256 (hashToken). */
const HASH_BYTES = 32;
/** `randomBytes(8)` in hex (core/tokens/commands.ts); an id of another form still works, from a Map. */
const ID_BYTES = 8;
/** How many built records are kept, by slot modulo this (a power of two). */
const RECENT = 4096;

/** TokenIssued's fields but its expiry: a TokenIssuedData or a TokenRecord. */
type Issued = Omit<TokenIssuedData, 'expiresAt'>;

/**
 * Mutable on purpose: with 100k tokens, copying on every event would make a replay quadratic.
 * The Projection holds the one instance; only its fold changes it. A token is a slot number;
 * a TokenRecord is built when asked for.
 */
export class TokenIndex {
  private count = 0;
  private ids = new HexKeys(ID_BYTES);
  private hashes = new HexKeys(HASH_BYTES);
  private names = new TextColumn();
  private strings = StringTable.empty();
  private lists = new ListTable();
  private columns = new TokenColumns();
  private reasons = new Map<number, string>();
  /** Each owner's first and last token (slot + 1), by the owner's number in `strings`. */
  private firstOf = growable(Uint32Array);
  private lastOf = growable(Uint32Array);
  /**
   * Records built lately, direct-mapped by slot: the same token asked for again is the same
   * object until it changes, so callers may keep something per record (policies/gateway-token.ts
   * keeps its Identity in a WeakMap).
   */
  private readonly recent: (TokenRecord | undefined)[] = new Array<TokenRecord | undefined>(RECENT);
  private readonly recentSlots = new Int32Array(RECENT).fill(-1);

  get size(): number {
    return this.count;
  }

  /** The gateway's lookup: one probe of the hash table, and a record (built, or as built lately). */
  findByHash(hash: string): TokenRecord | undefined {
    const slot = this.hashes.find(hash);
    return slot < 0 ? undefined : this.record(slot, true);
  }

  get(id: string): TokenRecord | undefined {
    const slot = this.ids.find(id);
    return slot < 0 ? undefined : this.record(slot, true);
  }

  /** The owner's tokens, oldest first. */
  ofOwner(owner: string): TokenRecord[] {
    const records: TokenRecord[] = [];
    const n = this.strings.find(owner);
    if (n === undefined || n >= this.firstOf.length) return records;
    const next = this.columns.nextOfOwner;
    for (let at = this.firstOf[n]!; at !== 0; at = next[at - 1]!) records.push(this.record(at - 1, false));
    return records;
  }

  *all(): IterableIterator<TokenRecord> {
    for (let slot = 0; slot < this.count; slot++) yield this.record(slot, false);
  }

  /** Fold one event in. Unknown event types are ignored (forward compatibility). */
  apply(event: RecordedEvent): void {
    const e = event as unknown as TokenEvent & RecordedEvent;
    switch (e.type) {
      case 'TokenIssued': {
        const d = e.data;
        // Fields, not a merged object: a replay folds 100k of these, and allocating during the fold
        // gets the page of events being folded promoted to the old generation.
        const expiresAt = d.expiresAt === null ? null : Date.parse(d.expiresAt);
        const createdBy = typeof e.metadata.actor === 'string' ? e.metadata.actor : 'unknown';
        this.issue(d, expiresAt, Date.parse(e.time), createdBy, e.revision);
        return;
      }
      case 'TokenRevoked': {
        const slot = this.ids.find(e.data.id);
        if (slot >= 0) this.revoke(slot, e.revision, Date.parse(e.time), e.data.by, e.data.reason);
        return;
      }
      default:
        return;
    }
  }

  snapshot(): TokenIndexSnapshot {
    const count = this.count;
    return {
      format: SNAPSHOT_FORMAT,
      count,
      ids: this.ids.snapshot(count),
      hashes: this.hashes.snapshot(count),
      names: this.names.snapshot(),
      strings: this.strings.snapshot(),
      lists: this.lists.snapshot(),
      columns: this.columns.snapshot(count),
      reasons: [...this.reasons],
    };
  }

  /**
   * The index from `snapshot()`, or from an array of records (the form of older checkpoints, and
   * a handy way to build an index in tests). Anything else throws: an empty index in its place
   * would turn away every token until the next replay.
   */
  static restore(saved: unknown): TokenIndex {
    if (Array.isArray(saved)) return TokenIndex.fromRecords(saved as TokenRecord[]);
    const index = isSnapshot(saved) ? TokenIndex.fromSnapshot(saved) : undefined;
    if (!index) throw new TypeError('not a token index checkpoint');
    return index;
  }

  private static fromSnapshot(saved: TokenIndexSnapshot): TokenIndex | undefined {
    const { count } = saved;
    const columns = TokenColumns.restore(count, saved.columns);
    const ids = HexKeys.restore(ID_BYTES, count, saved.ids);
    const hashes = HexKeys.restore(HASH_BYTES, count, saved.hashes);
    const names = TextColumn.restore(saved.names);
    const strings = StringTable.restore(saved.strings);
    if (!columns || !ids || !hashes || names?.size !== count || !strings) return undefined;
    const index = new TokenIndex();
    index.count = count;
    index.columns = columns;
    index.ids = ids;
    index.hashes = hashes;
    index.names = names;
    index.strings = strings;
    index.lists = new ListTable(saved.lists);
    index.reasons = new Map(saved.reasons);
    for (let slot = 0; slot < count; slot++) index.link(slot, columns.owner[slot]!);
    return index;
  }

  private static fromRecords(records: readonly TokenRecord[]): TokenIndex {
    const index = new TokenIndex();
    for (const r of records) {
      const slot = index.issue(r, r.expiresAt, r.createdAt, r.createdBy, r.revision);
      if (slot !== undefined && r.revokedAt !== undefined) index.revoke(slot, r.revision, r.revokedAt, r.revokedBy, r.revokeReason);
    }
    return index;
  }

  /** A new slot; undefined for a known id (a token stream starts with its one TokenIssued). */
  private issue(token: Issued, expiresAt: number | null, createdAt: number, createdBy: string, revision: number): number | undefined {
    if (this.ids.find(token.id) >= 0) return undefined;
    const slot = this.count++;
    this.columns.reserve(this.count);
    this.ids.set(slot, token.id);
    this.hashes.set(slot, token.hash);
    this.names.push(token.name);
    const c = this.columns;
    const owner = this.strings.number(token.owner);
    c.owner[slot] = owner;
    c.kind[slot] = this.strings.number(token.kind);
    c.createdBy[slot] = this.strings.number(createdBy);
    c.groups[slot] = this.lists.number(token.groups);
    c.pathPrefixes[slot] = this.lists.number(token.pathPrefixes);
    c.ipAllow[slot] = this.lists.number(token.ipAllow);
    c.flags[slot] = (token.readOnly ? READ_ONLY : 0) | (expiresAt !== null ? EXPIRES : 0);
    c.expiresAt[slot] = expiresAt ?? 0;
    c.createdAt[slot] = createdAt;
    c.revision[slot] = revision;
    this.link(slot, owner);
    return slot;
  }

  private revoke(slot: number, revision: number, at: number, by: string | undefined, reason: string | undefined): void {
    const c = this.columns;
    c.revision[slot] = revision;
    // The first revocation counts; a repeated one only moves the revision.
    if ((c.flags[slot]! & REVOKED) === 0) {
      c.flags[slot] = c.flags[slot]! | REVOKED;
      c.revokedAt[slot] = at;
      c.revokedBy[slot] = by === undefined ? 0 : this.strings.number(by) + 1;
      if (reason !== undefined) this.reasons.set(slot, reason);
    }
    // Records are replaced, not changed: whoever holds the old one keeps what it said.
    const i = slot & (RECENT - 1);
    if (this.recentSlots[i] === slot) {
      this.recentSlots[i] = -1;
      this.recent[i] = undefined;
    }
  }

  /** Append the slot to its owner's list. */
  private link(slot: number, owner: number): void {
    this.firstOf = ensure(this.firstOf, owner + 1);
    this.lastOf = ensure(this.lastOf, owner + 1);
    const last = this.lastOf[owner]!;
    if (last === 0) this.firstOf[owner] = slot + 1;
    else this.columns.nextOfOwner[last - 1] = slot + 1;
    this.lastOf[owner] = slot + 1;
  }

  /** `remember`: for single lookups; listings build without pushing those out. */
  private record(slot: number, remember: boolean): TokenRecord {
    const i = slot & (RECENT - 1);
    if (this.recentSlots[i] === slot) return this.recent[i]!;
    const record = this.build(slot);
    if (remember) {
      this.recentSlots[i] = slot;
      this.recent[i] = record;
    }
    return record;
  }

  private build(slot: number): TokenRecord {
    const c = this.columns;
    const flags = c.flags[slot]!;
    const record: TokenRecord = {
      id: this.ids.keyOf(slot),
      hash: this.hashes.keyOf(slot),
      owner: this.strings.value(c.owner[slot]!),
      name: this.names.get(slot),
      kind: this.strings.value(c.kind[slot]!) as TokenRecord['kind'],
      groups: this.lists.value(c.groups[slot]!),
      readOnly: (flags & READ_ONLY) !== 0,
      pathPrefixes: this.lists.value(c.pathPrefixes[slot]!),
      ipAllow: this.lists.value(c.ipAllow[slot]!),
      expiresAt: (flags & EXPIRES) !== 0 ? c.expiresAt[slot]! : null,
      createdAt: c.createdAt[slot]!,
      createdBy: this.strings.value(c.createdBy[slot]!),
      revision: c.revision[slot]!,
    };
    if ((flags & REVOKED) === 0) return record;
    const by = c.revokedBy[slot]!;
    const reason = this.reasons.get(slot);
    return {
      ...record,
      revokedAt: c.revokedAt[slot]!,
      ...(by !== 0 ? { revokedBy: this.strings.value(by - 1) } : {}),
      ...(reason !== undefined ? { revokeReason: reason } : {}),
    };
  }
}

/** The outline of `snapshot()`'s form; the parts check their own contents as they are restored. */
function isSnapshot(saved: unknown): saved is TokenIndexSnapshot {
  const s = saved as Partial<TokenIndexSnapshot> | null;
  return (
    s?.format === SNAPSHOT_FORMAT &&
    Number.isSafeInteger(s.count) &&
    Array.isArray(s.lists) &&
    Array.isArray(s.reasons)
  );
}

/** The fold, in the shape Projection takes. */
export function evolveTokens(index: TokenIndex, event: RecordedEvent): TokenIndex {
  index.apply(event);
  return index;
}

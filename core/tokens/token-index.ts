// The token index: a projection of the token streams into maps by hash, id and owner; the gateway looks tokens up here.
import type { TokenEvent, TokenIssuedData } from '../events.js';
import type { RecordedEvent } from '../store/port.js';

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

/**
 * Most tokens have no groups, prefixes or addresses, or the same few as many others: equal
 * lists share one frozen array, and repeated short strings one string (100k tokens add up).
 */
const NONE: readonly string[] = Object.freeze([]);
const MAX_INTERNED = 10_000;
const lists = new Map<string, readonly string[]>();
const words = new Map<string, string>();

function shared(list: readonly string[] | undefined): readonly string[] {
  if (!list || list.length === 0) return NONE;
  const key = list.join('\n');
  const known = lists.get(key);
  if (known) return known;
  const frozen = Object.freeze(list.map(word));
  if (lists.size < MAX_INTERNED) lists.set(key, frozen);
  return frozen;
}

function word<T extends string>(value: T): T {
  const known = words.get(value);
  if (known !== undefined) return known as T;
  if (words.size < MAX_INTERNED) words.set(value, value);
  return value;
}

/**
 * Mutable on purpose: with 100k tokens, copying the maps on every event would make a replay
 * quadratic. The Projection holds the one instance; only its fold changes it.
 */
export class TokenIndex {
  private readonly byHash = new Map<string, TokenRecord>();
  private readonly byId = new Map<string, TokenRecord>();
  private readonly byOwner = new Map<string, string[]>();

  get size(): number {
    return this.byId.size;
  }

  /** The gateway's lookup: one map access. */
  findByHash(hash: string): TokenRecord | undefined {
    return this.byHash.get(hash);
  }

  get(id: string): TokenRecord | undefined {
    return this.byId.get(id);
  }

  ofOwner(owner: string): TokenRecord[] {
    return (this.byOwner.get(owner) ?? []).map((id) => this.byId.get(id)!);
  }

  all(): IterableIterator<TokenRecord> {
    return this.byId.values();
  }

  /** Fold one event in. Unknown event types are ignored (forward compatibility). */
  apply(event: RecordedEvent): void {
    const e = event as unknown as TokenEvent & RecordedEvent;
    switch (e.type) {
      case 'TokenIssued': {
        const d = e.data;
        this.put({
          id: d.id,
          hash: d.hash,
          owner: word(d.owner),
          name: d.name,
          kind: word(d.kind),
          groups: shared(d.groups),
          readOnly: d.readOnly,
          pathPrefixes: shared(d.pathPrefixes),
          ipAllow: shared(d.ipAllow),
          expiresAt: d.expiresAt === null ? null : Date.parse(d.expiresAt),
          createdAt: Date.parse(e.time),
          createdBy: word(typeof e.metadata.actor === 'string' ? e.metadata.actor : 'unknown'),
          revision: e.revision,
        });
        return;
      }
      case 'TokenRevoked': {
        const current = this.byId.get(e.data.id);
        if (!current) return;
        this.put({
          ...current,
          revision: e.revision,
          // The first revocation counts; a repeated one only moves the revision.
          revokedAt: current.revokedAt ?? Date.parse(e.time),
          revokedBy: current.revokedBy ?? e.data.by,
          ...(current.revokedAt === undefined && e.data.reason !== undefined ? { revokeReason: e.data.reason } : {}),
        });
        return;
      }
      default:
        return;
    }
  }

  /** The checkpoint form: plain records (JSON). */
  snapshot(): TokenRecord[] {
    return [...this.byId.values()];
  }

  static restore(records: unknown): TokenIndex {
    const index = new TokenIndex();
    if (Array.isArray(records)) {
      // The parsed checkpoint's objects become the records themselves: no second copy of 100k records.
      for (const r of records as { -readonly [K in keyof TokenRecord]: TokenRecord[K] }[]) {
        r.groups = shared(r.groups);
        r.pathPrefixes = shared(r.pathPrefixes);
        r.ipAllow = shared(r.ipAllow);
        r.kind = word(r.kind);
        r.owner = word(r.owner);
        r.createdBy = word(r.createdBy);
        index.put(r);
      }
    }
    return index;
  }

  private put(record: TokenRecord): void {
    const known = this.byId.has(record.id);
    this.byId.set(record.id, record);
    this.byHash.set(record.hash, record);
    if (known) return;
    const owned = this.byOwner.get(record.owner);
    if (owned) owned.push(record.id);
    else this.byOwner.set(record.owner, [record.id]);
  }
}

/** The fold, in the shape Projection takes. */
export function evolveTokens(index: TokenIndex, event: RecordedEvent): TokenIndex {
  index.apply(event);
  return index;
}

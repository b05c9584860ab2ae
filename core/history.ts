// The change history: every configuration and token event, newest first, each with who, when, from where and a readable diff.
import { CONFIG_STREAM_PREFIXES, TOKEN_STREAM_PREFIXES, type TokenIssuedData } from './events.js';
import { jsonDiff, type Change } from './json-diff.js';
import { MASK } from './secrets.js';
import { evolve, initialConfigState, type ConfigState, type ProviderRecord } from './settings/config-state.js';
import type { JsonObject, JsonValue } from './settings/merge-patch.js';
import { maskSealed, type SecretFieldsOf } from './state-document.js';
import type { EventStore, Position, RecordedEvent } from './store/port.js';

/** Configuration and token streams: never the access streams. */
export const HISTORY_STREAM_PREFIXES: readonly string[] = [...CONFIG_STREAM_PREFIXES, ...TOKEN_STREAM_PREFIXES];

/** The event types the history describes (a new configuration or token event is added here and in `describe`). */
export const HISTORY_TYPES: readonly string[] = ['SettingsChanged', 'ProviderConfigured', 'ProviderRemoved', 'AdminTokenCreated', 'TokenIssued', 'TokenRevoked'];

export interface HistoryQuery {
  /** Cursor: entries strictly before this position (the `next` of the previous page). */
  readonly before?: Position;
  readonly limit: number;
  /** Inclusive bounds on the time the store recorded each event, ms since the epoch. */
  readonly from?: number;
  readonly to?: number;
  readonly actor?: string;
  /** Event types (absent: every type). */
  readonly types?: readonly string[];
}

/** The token an entry is about: never its hash or secret. */
export interface TokenSummary {
  readonly id: string;
  readonly owner?: string;
  readonly name?: string;
}

export interface HistoryEntry {
  readonly position: Position;
  readonly time: string;
  readonly type: string;
  readonly stream: string;
  readonly actor: string | null;
  readonly sourceIp: string | null;
  readonly correlationId: string | null;
  /** One line a person reads: `settings revision 3: 2 changes`, `token 1a2b… revoked (alice, "laptop")`. */
  readonly summary: string;
  /** Settings: each path the patch changed, against the document before it. Providers: each field. Secrets masked. */
  readonly changes: readonly Change[];
  readonly token?: TokenSummary;
}

export interface HistoryPage {
  readonly entries: readonly HistoryEntry[];
  /** Pass as `before` for the next page; null when nothing older matches. */
  readonly next: Position | null;
}

const PAGE = 500;

/**
 * One page of the history, newest first. Events are read backwards from the cursor; the time
 * range stops the read at its lower bound (times follow the global order, as one store stamps them).
 */
export async function readHistory(store: EventStore, query: HistoryQuery, secretFieldsOf: SecretFieldsOf): Promise<HistoryPage> {
  const found: RecordedEvent[] = [];
  let cursor = query.before;
  let next: Position | null = null;
  scan: for (;;) {
    const page = await store.readAll({
      direction: 'backwards',
      ...(cursor !== undefined ? { before: cursor } : {}),
      streamPrefixes: HISTORY_STREAM_PREFIXES,
      ...(query.types ? { types: query.types } : {}),
      maxCount: PAGE,
    });
    for (const event of page) {
      const time = Date.parse(event.time);
      if (query.from !== undefined && time < query.from) break scan;
      cursor = event.position;
      if (query.to !== undefined && time > query.to) continue;
      if (query.actor !== undefined && event.metadata.actor !== query.actor) continue;
      found.push(event);
      if (found.length === query.limit) {
        next = event.position;
        break scan;
      }
    }
    if (page.length < PAGE) break;
  }
  const describer = new Describer(store, secretFieldsOf);
  const entries: HistoryEntry[] = [];
  for (const event of found) entries.push(await describer.describe(event));
  return { entries, next };
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** Builds entries; folds each stream it needs once per page, with the projections' own fold. */
class Describer {
  private readonly folded = new Map<string, Promise<ConfigState[]>>();
  private readonly issued = new Map<string, Promise<TokenIssuedData | undefined>>();

  constructor(
    private readonly store: EventStore,
    private readonly secretFieldsOf: SecretFieldsOf,
  ) {}

  async describe(event: RecordedEvent): Promise<HistoryEntry> {
    const base = {
      position: event.position,
      time: event.time,
      type: event.type,
      stream: event.stream,
      actor: text(event.metadata.actor),
      sourceIp: text(event.metadata.sourceIp),
      correlationId: text(event.metadata.correlationId),
    };
    switch (event.type) {
      case 'SettingsChanged': {
        const [before, after] = await this.around(event);
        const changes = jsonDiff(before.document, after.document);
        const count = `${changes.length} change${changes.length === 1 ? '' : 's'}`;
        return { ...base, summary: `settings revision ${after.settingsRevision}: ${count}`, changes };
      }
      case 'ProviderConfigured':
      case 'ProviderRemoved': {
        const id = String((event.data as { id?: unknown }).id);
        const [before, after] = await this.around(event);
        const old = before.providers[id];
        const now = after.providers[id];
        const changes = this.providerChanges(old, now);
        const what = event.type === 'ProviderRemoved' ? 'removed' : old ? `changed: ${changes.length} field${changes.length === 1 ? '' : 's'}` : 'added';
        return { ...base, summary: `provider ${id} (${now?.kind ?? old?.kind ?? 'unknown kind'}) ${what}`, changes };
      }
      case 'TokenIssued': {
        const d = event.data as TokenIssuedData;
        const changes: Change[] = [
          { path: 'kind', new: d.kind },
          { path: 'groups', new: [...d.groups] },
          { path: 'readOnly', new: d.readOnly },
          { path: 'pathPrefixes', new: [...d.pathPrefixes] },
          { path: 'ipAllow', new: [...d.ipAllow] },
          { path: 'expiresAt', new: d.expiresAt },
        ];
        return { ...base, summary: `token ${d.id} issued to ${d.owner} (${JSON.stringify(d.name)})`, changes, token: { id: d.id, owner: d.owner, name: d.name } };
      }
      case 'TokenRevoked': {
        const d = event.data as { id: string; by?: string; reason?: string };
        const issued = await this.issuedOf(event.stream);
        const who = issued ? ` (${issued.owner}, ${JSON.stringify(issued.name)})` : '';
        const changes: Change[] = [
          { path: 'revokedBy', new: d.by ?? 'unknown' },
          ...(d.reason !== undefined ? [{ path: 'revokeReason', new: d.reason }] : []),
        ];
        const token = { id: d.id, ...(issued ? { owner: issued.owner, name: issued.name } : {}) };
        return { ...base, summary: `token ${d.id} revoked${who}`, changes, token };
      }
      case 'AssertionKeyRotated': {
        const d = event.data as { kid: string; activeFrom: string };
        return { ...base, summary: `assertion key ${d.kid} rotated in, signing from ${d.activeFrom}`, changes: [] };
      }
      case 'AdminTokenCreated':
        // Never the hash: that it exists is the whole story.
        return { ...base, summary: 'admin token created', changes: [] };
      default:
        return { ...base, summary: event.type, changes: [] };
    }
  }

  /** The configuration state of the event's stream just before it and just after it. */
  private async around(event: RecordedEvent): Promise<[ConfigState, ConfigState]> {
    const states = await this.fold(event.stream);
    return [states[event.revision - 1] ?? initialConfigState, states[event.revision] ?? initialConfigState];
  }

  /** The stream folded with `evolve`: the state after each of its events, by revision. */
  private fold(stream: string): Promise<ConfigState[]> {
    let states = this.folded.get(stream);
    if (!states) {
      states = this.store.readStream(stream).then((events) => {
        const out: ConfigState[] = [];
        let state = initialConfigState;
        for (const e of events) out[e.revision] = state = evolve(state, e);
        return out;
      });
      this.folded.set(stream, states);
    }
    return states;
  }

  private issuedOf(stream: string): Promise<TokenIssuedData | undefined> {
    let issued = this.issued.get(stream);
    if (!issued) {
      issued = this.store.readStream(stream, { maxCount: 1 }).then(([first]) => (first?.type === 'TokenIssued' ? (first.data as TokenIssuedData) : undefined));
      this.issued.set(stream, issued);
    }
    return issued;
  }

  /** kind, enabled, order and each config field; a secret shows as the mask, changed or not. */
  private providerChanges(old: ProviderRecord | undefined, now: ProviderRecord | undefined): Change[] {
    const shape = (r: ProviderRecord | undefined): JsonObject | undefined => r && { kind: r.kind, enabled: r.enabled, order: r.order, config: r.config };
    const secret = new Set([...(old ? this.secretFieldsOf(old.kind) : []), ...(now ? this.secretFieldsOf(now.kind) : [])].map((f) => `config.${f}`));
    const mask = (path: string, value: JsonValue | undefined): JsonValue | undefined => (value === undefined ? undefined : secret.has(path) ? MASK : maskSealed(value));
    return jsonDiff(shape(old), shape(now)).map((c) => {
      const o = mask(c.path, c.old);
      const n = mask(c.path, c.new);
      return { path: c.path, ...(o !== undefined ? { old: o } : {}), ...(n !== undefined ? { new: n } : {}) };
    });
  }
}

// How a gateway token is shown by the admin API and the self-service endpoint: never its hash, never its secret.
import { ValidationError } from '../core/errors.js';
import type { TokenIssuedData } from '../core/events.js';
import { TOKEN_STATES, tokenState, type TokenRecord, type TokenState } from '../core/tokens/token-index.js';
import type { TokenUsageIndex } from '../core/tokens/usage.js';

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** What TokenIssued says, less the hash, with its state and times as ISO 8601. */
export interface TokenView extends Omit<TokenIssuedData, 'hash'> {
  readonly state: TokenState;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
  readonly revokeReason?: string;
  /** From the access events (the token-usage projection): may lag the latest requests a little. */
  readonly lastUsedAt: string | null;
  readonly useCount: number;
}

export function tokenView(record: TokenRecord, usage: TokenUsageIndex, now: number): TokenView {
  const used = usage.get(record.id);
  return {
    id: record.id,
    owner: record.owner,
    name: record.name,
    kind: record.kind,
    groups: record.groups,
    readOnly: record.readOnly,
    pathPrefixes: record.pathPrefixes,
    ipAllow: record.ipAllow,
    state: tokenState(record, now),
    createdAt: iso(record.createdAt)!,
    createdBy: record.createdBy,
    expiresAt: iso(record.expiresAt),
    ...(record.revokedAt !== undefined ? { revokedAt: iso(record.revokedAt)!, revokedBy: record.revokedBy ?? 'unknown' } : {}),
    ...(record.revokeReason !== undefined ? { revokeReason: record.revokeReason } : {}),
    lastUsedAt: iso(used?.lastUsedAt),
    useCount: used?.uses ?? 0,
  };
}

/** `?state=`: one of the token states, or absent. */
export function parseStateFilter(value: unknown): TokenState | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'string' && (TOKEN_STATES as readonly string[]).includes(value)) return value as TokenState;
  throw new ValidationError('state must be one of the token states', [{ path: 'state', message: `one of: ${TOKEN_STATES.join(', ')}` }]);
}

/** Newest first; the filter on state is applied at `now`. */
export function listTokens(records: Iterable<TokenRecord>, usage: TokenUsageIndex, now: number, state?: TokenState): TokenView[] {
  const out: TokenView[] = [];
  for (const record of records) {
    if (state !== undefined && tokenState(record, now) !== state) continue;
    out.push(tokenView(record, usage, now));
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id.localeCompare(b.id)));
}

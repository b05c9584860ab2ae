// What a gateway token is, as every answer shows it: its TokenIssued fields less the hash, its state at an instant, times as ISO 8601.
import type { TokenIssuedData } from '../events.js';
import { tokenState, type TokenRecord, type TokenState } from './token-index.js';

export interface TokenFacts extends Omit<TokenIssuedData, 'hash'> {
  readonly state: TokenState;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
  readonly revokeReason?: string;
}

export const isoTime = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

/** Never the hash, never the secret; `state` as it is at `now`. */
export function tokenFacts(record: TokenRecord, now: number): TokenFacts {
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
    createdAt: isoTime(record.createdAt)!,
    createdBy: record.createdBy,
    expiresAt: isoTime(record.expiresAt),
    ...(record.revokedAt !== undefined ? { revokedAt: isoTime(record.revokedAt)!, revokedBy: record.revokedBy ?? 'unknown' } : {}),
    ...(record.revokeReason !== undefined ? { revokeReason: record.revokeReason } : {}),
  };
}

/** Newest first, ties by id: the order every token listing uses. */
export const newestFirst = (a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id.localeCompare(b.id);

// How a gateway token is shown by the admin API and the self-service endpoint: never its hash, never its secret.
import { ValidationError } from '../core/errors.js';
import { isoTime, newestFirst, tokenFacts, type TokenFacts } from '../core/tokens/token-facts.js';
import { TOKEN_STATES, tokenState, type TokenRecord, type TokenState } from '../core/tokens/token-index.js';
import type { TokenUsageIndex } from '../core/tokens/usage.js';

/** A token's facts plus its use, from the access events (the token-usage projection): may lag the latest requests a little. */
export interface TokenView extends TokenFacts {
  readonly lastUsedAt: string | null;
  readonly useCount: number;
}

export function tokenView(record: TokenRecord, usage: TokenUsageIndex, now: number): TokenView {
  const used = usage.get(record.id);
  return { ...tokenFacts(record, now), lastUsedAt: isoTime(used?.lastUsedAt), useCount: used?.uses ?? 0 };
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
  return out.sort(newestFirst);
}

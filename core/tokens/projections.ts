// The token projections (index and usage) as every process builds them: the gateway and the CLI share their checkpoints.
import { ACCESS_STREAM_PREFIX, TOKEN_STREAM_PREFIXES } from '../events.js';
import type { Logger } from '../logger.js';
import { Projection } from '../projection.js';
import type { EventStore } from '../store/port.js';
import { evolveTokens, TokenIndex } from './token-index.js';
import { evolveUsage, GATEWAY_PROVIDER, TokenUsageIndex } from './usage.js';

/** Bump when TokenIndex's snapshot or its fold changes shape, so old checkpoints are replayed instead of trusted. */
const TOKEN_PROJECTION_VERSION = 2;
const USAGE_PROJECTION_VERSION = 1;

export interface TokenProjectionOptions {
  readonly logger: Logger;
  /** false: resume from the checkpoint but never write one (a store opened read-only). */
  readonly saveCheckpoints?: boolean;
}

/** The token index (token streams): the gateway looks tokens up in it, the token commands check against it. */
export function tokenIndexProjection(store: EventStore, options: TokenProjectionOptions): Projection<TokenIndex> {
  // Snapshots of the token maps are large (100k tokens: tens of MB of JSON): checkpoint them less often.
  return new Projection(store, {
    name: 'tokens',
    version: TOKEN_PROJECTION_VERSION,
    streamPrefixes: TOKEN_STREAM_PREFIXES,
    initial: new TokenIndex(),
    evolve: evolveTokens,
    snapshot: (index) => index.snapshot(),
    restore: (saved) => TokenIndex.restore(saved),
    checkpointEvery: 1000,
    logger: options.logger,
    saveCheckpoints: options.saveCheckpoints ?? true,
  });
}

/** Last use and use count per gateway token, folded from the access events; may lag a little. */
export function tokenUsageProjection(store: EventStore, options: TokenProjectionOptions): Projection<TokenUsageIndex> {
  return new Projection(store, {
    name: 'token-usage',
    version: USAGE_PROJECTION_VERSION,
    streamPrefixes: [ACCESS_STREAM_PREFIX],
    // Only decisions on gateway tokens count: the store skips every other access event.
    dataEquals: { path: ['identity', 'provider'], value: GATEWAY_PROVIDER },
    initial: new TokenUsageIndex(),
    evolve: evolveUsage,
    snapshot: (index) => index.snapshot(),
    restore: (saved) => TokenUsageIndex.restore(saved),
    // Every gateway-token request is an event here: a checkpoint per 5000 of them serialised the
    // whole usage map on the event loop a few times a second under load. A start replays at most
    // this many decisions (a second or two) instead.
    checkpointEvery: 100_000,
    logger: options.logger,
    saveCheckpoints: options.saveCheckpoints ?? true,
  });
}

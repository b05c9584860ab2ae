// The token projections (index and usage) as every process builds them: the gateway and the CLI share their checkpoints.
import { BLOCK_EVENT, type StoredDecision } from '../decision-log/record.js';
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

export type TokenUsageProjection = Projection<TokenUsageIndex, readonly StoredDecision[]>;

/** Last use and use count per gateway token, folded from the decision log's blocks; may lag a little. */
export function tokenUsageProjection(store: EventStore, options: TokenProjectionOptions): TokenUsageProjection {
  return new Projection<TokenUsageIndex, readonly StoredDecision[]>(store, {
    name: 'token-usage',
    version: USAGE_PROJECTION_VERSION,
    streamPrefixes: [ACCESS_STREAM_PREFIX],
    initial: new TokenUsageIndex(),
    // Only a block's decisions on gateway tokens count: the store reads just those.
    load: (event) => (event.type === BLOCK_EVENT ? store.decisions.read({ block: event.position, provider: GATEWAY_PROVIDER }) : Promise.resolve([])),
    evolve: evolveUsage,
    snapshot: (index) => index.snapshot(),
    restore: (saved) => TokenUsageIndex.restore(saved),
    // A block is up to 4096 decisions: a start replays at most ~1000 blocks since the last
    // checkpoint, and the usage map is serialised a few times a minute at most under load.
    checkpointEvery: 1000,
    logger: options.logger,
    saveCheckpoints: options.saveCheckpoints ?? true,
  });
}

// Which rate-limit counts a node uses: per process, or shared through Redis when `redis` is configured.
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { LocalRateLimiter, type RateLimiter } from '../../core/rate-limit.js';
import { RedisRateLimiter } from '../../core/redis-rate-limit.js';
import type { ProcessConfig } from '../config.js';

/** The node's counts and how to let go of them at shutdown. */
export interface NodeRateLimiter {
  readonly limiter: RateLimiter;
  /** Set when counts are shared through Redis: its state for /readyz and /metrics. */
  readonly redis?: RedisRateLimiter;
  close(): Promise<void>;
}

export function openRateLimiter(config: ProcessConfig, clock: Clock, logger: Logger): NodeRateLimiter {
  if (!config.redis) return { limiter: new LocalRateLimiter(clock), close: async () => {} };
  const redis = new RedisRateLimiter({ url: config.redis, keyPrefix: config.redisKeyPrefix, clock, logger });
  return { limiter: redis, redis, close: () => redis.close() };
}

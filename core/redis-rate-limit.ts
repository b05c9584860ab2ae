// The rate-limit port over Redis: counts shared by every node, one atomic Lua script per count (or per lease, for cluster workers), per-node counting while Redis is away.
//
// Why a Lua script and not rate-limiter-flexible: the script keeps exactly the semantics of
// LocalRateLimiter (fixed windows aligned to the epoch, refused requests not counted), so a node
// falling back to its own counts and coming back changes nothing a client can see but the sharing;
// rate-limiter-flexible's fixed window starts at a key's first request and counts refused
// requests, and would add a dependency for ten lines. The window is read from Redis's own clock
// (TIME), so nodes whose clocks differ still agree on where a window ends.
import { Redis, type RedisOptions } from 'ioredis';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { LocalRateLimiter, type RateLimiter, type RateLimitGrant, type RateLimitPolicy, type RateLimitResult } from './rate-limit.js';

/**
 * The start of the counting scripts: KEYS[1] the bucket (a hash: r = the window's end, c = its
 * count); ARGV limit, window (ms). Leaves `limit`, `resetAt` (the current window's end, by Redis's
 * clock) and `count` (the window's count so far) for the rest of the script.
 */
const CURRENT_WINDOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local resetAt = (math.floor(now / window) + 1) * window
local stored = redis.call('HMGET', KEYS[1], 'r', 'c')
local count = 0
if tonumber(stored[1]) == resetAt then count = tonumber(stored[2]) or 0 end
`;

/** Counts one request. Returns {allowed 0|1, remaining, resetAt}. The key expires with its window. */
const CONSUME_LUA = `${CURRENT_WINDOW_LUA}
if count >= limit then return {0, 0, resetAt} end
count = count + 1
redis.call('HSET', KEYS[1], 'r', resetAt, 'c', count)
redis.call('PEXPIREAT', KEYS[1], resetAt)
return {1, limit - count, resetAt}
`;

/**
 * ARGV[3] want, ARGV[4] spread. Takes `min(left, max(want, ceil(left / spread)))` counts of the
 * current window at once (a lease, see RateLimiter.take) and returns {granted, left after the
 * grant, resetAt}. The same bucket as CONSUME_LUA, so the two draw on one count.
 */
const TAKE_LUA = `${CURRENT_WINDOW_LUA}
local want = tonumber(ARGV[3])
local spread = tonumber(ARGV[4])
local left = math.max(0, limit - count)
local granted = math.min(left, math.max(want, math.ceil(left / spread)))
if granted > 0 then
  redis.call('HSET', KEYS[1], 'r', resetAt, 'c', count + granted)
  redis.call('PEXPIREAT', KEYS[1], resetAt)
end
return {granted, left - granted, resetAt}
`;

/** KEYS[1] the bucket; ARGV resetAt, count. Returns unused counts of the window ending at resetAt; nothing once that window is over. */
const GIVE_BACK_LUA = `
local stored = redis.call('HMGET', KEYS[1], 'r', 'c')
if tonumber(stored[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'c', math.max(0, (tonumber(stored[2]) or 0) - tonumber(ARGV[2])))
return 1
`;

/** Where the counts are kept right now. */
export type RateLimitBackendState = 'redis' | 'local_fallback';

export interface RedisRateLimiterOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  readonly url: string;
  /** Prefix of every key this limiter writes (default `portcullis:`, then `rl:`); nodes that share limits share it. */
  readonly keyPrefix?: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest a count may wait for Redis before this request is counted locally (default 250 ms). */
  readonly commandTimeoutMs?: number;
  /** After a failed count, how long to count locally before asking Redis again (default 1000 ms). */
  readonly retryAfterMs?: number;
  /** Extra ioredis options (tests). */
  readonly redisOptions?: RedisOptions;
}

type ConsumeReply = [allowed: number, remaining: number, resetAt: number];
type TakeReply = [granted: number, remaining: number, resetAt: number];
type WithConsume = Redis & {
  portcullisConsume(key: string, limit: number, windowMs: number): Promise<ConsumeReply>;
  portcullisTake(key: string, limit: number, windowMs: number, want: number, spread: number): Promise<TakeReply>;
  portcullisGiveBack(key: string, resetAt: number, count: number): Promise<number>;
};

/** Counts of one key and window leased out and not given back yet, by where they were taken. */
interface Leased {
  readonly resetAt: number;
  redis: number;
  local: number;
}

/**
 * Shared fixed windows in Redis. When Redis cannot be reached (not connected, an error, no answer
 * within the timeout) the request is counted by a per-node {@link LocalRateLimiter} instead: limits
 * still hold per node, never "no limit" and never a refusal of all traffic. The switch is logged
 * once each way and visible through {@link state} (readiness, metrics). Nothing waits for Redis
 * while it is known to be away: the check is a status read.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: WithConsume;
  private readonly local: LocalRateLimiter;
  private readonly prefix: string;
  private readonly retryAfterMs: number;
  private current: RateLimitBackendState = 'local_fallback';
  /** The warning for the current outage was logged (the first one too, if Redis never answered). */
  private warned = false;
  private retryAt = 0;
  private lastError = 'not connected yet';
  private closed = false;
  /** Requests counted per node because Redis was away, and counts leased from the per-node counts then (for metrics). */
  localCounts = 0;
  /** Times the limiter switched to per-node counting (for metrics). */
  fallbacks = 0;
  /** Leases out (the cluster's), by key and window: a count goes back to where it was taken. */
  private readonly leased = new Map<string, Leased>();
  private nextSweep = 0;

  constructor(private readonly options: RedisRateLimiterOptions) {
    this.local = new LocalRateLimiter(options.clock);
    this.prefix = `${options.keyPrefix ?? 'portcullis:'}rl:`;
    this.retryAfterMs = options.retryAfterMs ?? 1000;
    const client = new Redis(options.url, {
      // Fail at once rather than queue while disconnected: the request is counted locally instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: 2000,
      // Counts made in one turn of the event loop go to Redis as one pipeline.
      enableAutoPipelining: true,
      retryStrategy: (times) => Math.min(times * 200, 2000),
      ...options.redisOptions,
    });
    client.defineCommand('portcullisConsume', { numberOfKeys: 1, lua: CONSUME_LUA });
    client.defineCommand('portcullisTake', { numberOfKeys: 1, lua: TAKE_LUA });
    client.defineCommand('portcullisGiveBack', { numberOfKeys: 1, lua: GIVE_BACK_LUA });
    this.client = client as WithConsume;
    client.on('ready', () => this.toRedis());
    client.on('error', (err: Error) => this.toLocal(err.message));
    client.on('close', () => this.toLocal('connection closed'));
  }

  /** Where counts go now: `redis`, or `local_fallback` while Redis is away. */
  get state(): RateLimitBackendState {
    return this.current;
  }

  /** The /readyz check: informative, never out of rotation (every node would be, at once). */
  status(): { ready: boolean; degraded?: boolean; detail?: string } {
    return this.current === 'redis'
      ? { ready: true, detail: 'rate limits shared through Redis' }
      : { ready: true, degraded: true, detail: `Redis unavailable (${this.lastError}): rate limits counted per node` };
  }

  consume(key: string, policy: RateLimitPolicy): RateLimitResult | Promise<RateLimitResult> {
    if (this.redisUsable()) return this.shared(key, policy);
    this.localCounts += 1;
    return this.local.consume(key, policy);
  }

  /**
   * A lease of the key's counts (the cluster primary asks on behalf of its workers), taken in Redis
   * in one script, so every node's workers together never admit more than the limit; from the
   * per-node counts while Redis is away.
   */
  take(key: string, policy: RateLimitPolicy, want: number, spread: number): RateLimitGrant | Promise<RateLimitGrant> {
    if (this.redisUsable()) return this.sharedTake(key, policy, want, spread);
    return this.localTake(key, policy, want, spread);
  }

  /**
   * Unused counts of a lease come back to where they were taken: the per-node counts first, up
   * to what was leased from them for this key and window, then Redis, never more than was leased
   * from it. A count whose origin is not known any more (its window ended, or it was already
   * given back) is dropped: it ends with its window, which may refuse a request early but never
   * admits one too many. A give-back Redis does not take is dropped the same way.
   */
  giveBack(key: string, resetAt: number, count: number): void {
    const slot = this.leased.get(key);
    if (slot === undefined || slot.resetAt !== resetAt) return;
    const toLocal = Math.min(count, slot.local);
    const toRedis = Math.min(count - toLocal, slot.redis);
    slot.local -= toLocal;
    slot.redis -= toRedis;
    if (slot.local === 0 && slot.redis === 0) this.leased.delete(key);
    if (toLocal > 0) this.local.giveBack(key, resetAt, toLocal);
    if (toRedis > 0 && this.client.status === 'ready') {
      this.client.portcullisGiveBack(this.prefix + key, resetAt, toRedis).catch(() => undefined);
    }
  }

  /** Resolves once the connection is up (tests, start-up); false if it is not within `ms`. */
  async whenConnected(ms: number): Promise<boolean> {
    if (this.current === 'redis') return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, ms);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.disconnect();
  }

  private async shared(key: string, policy: RateLimitPolicy): Promise<RateLimitResult> {
    try {
      const [allowed, remaining, resetAt] = await this.client.portcullisConsume(this.prefix + key, policy.limit, policy.windowMs);
      if (this.current !== 'redis') this.toRedis();
      return { allowed: allowed === 1, limit: policy.limit, remaining, resetAt };
    } catch (err) {
      this.toLocal((err as Error).message);
      this.retryAt = this.options.clock.now() + this.retryAfterMs;
      this.localCounts += 1;
      return this.local.consume(key, policy);
    }
  }

  /** Counts go to Redis: it is up, or a retry is due after an outage. */
  private redisUsable(): boolean {
    return this.current === 'redis' || (this.client.status === 'ready' && this.options.clock.now() >= this.retryAt);
  }

  private async sharedTake(key: string, policy: RateLimitPolicy, want: number, spread: number): Promise<RateLimitGrant> {
    let reply: TakeReply;
    try {
      reply = await this.client.portcullisTake(this.prefix + key, policy.limit, policy.windowMs, want, spread);
    } catch (err) {
      this.toLocal((err as Error).message);
      this.retryAt = this.options.clock.now() + this.retryAfterMs;
      return this.localTake(key, policy, want, spread);
    }
    if (this.current !== 'redis') this.toRedis();
    const [granted, remaining, resetAt] = reply;
    this.lease(key, resetAt).redis += granted;
    return { granted, remaining, resetAt };
  }

  private localTake(key: string, policy: RateLimitPolicy, want: number, spread: number): RateLimitGrant {
    const grant = this.local.take(key, policy, want, spread);
    this.localCounts += grant.granted;
    this.lease(key, grant.resetAt).local += grant.granted;
    return grant;
  }

  /** The record of what is leased out for `key` in the window ending at `resetAt` (a later window replaces an earlier one). */
  private lease(key: string, resetAt: number): Leased {
    const now = this.options.clock.now();
    if (now >= this.nextSweep) {
      for (const [k, slot] of this.leased) if (slot.resetAt <= now) this.leased.delete(k);
      this.nextSweep = now + 60_000;
    }
    let slot = this.leased.get(key);
    if (slot === undefined || slot.resetAt !== resetAt) {
      slot = { resetAt, redis: 0, local: 0 };
      this.leased.set(key, slot);
    }
    return slot;
  }

  private toRedis(): void {
    if (this.current === 'redis' || this.closed) return;
    this.current = 'redis';
    this.retryAt = 0;
    this.warned = false;
    this.options.logger.info({ rateLimitBackend: 'redis' }, 'rate limits are shared through Redis');
  }

  private toLocal(why: string): void {
    this.lastError = why;
    if (this.warned || this.closed) return;
    this.current = 'local_fallback';
    this.warned = true;
    this.fallbacks += 1;
    this.options.logger.warn({ rateLimitBackend: 'local_fallback', err: why }, 'Redis is unavailable: rate limits are counted per node until it returns');
  }
}

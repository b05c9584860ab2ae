// The rate-limit port and its per-node adapter: fixed windows counted on the injected clock.
import type { Clock } from './clock.js';

export interface RateLimitPolicy {
  /** Requests allowed per window and key. */
  readonly limit: number;
  readonly windowMs: number;
}

export interface RateLimitResult {
  readonly allowed: boolean;
  readonly limit: number;
  /** Requests left in the current window after this one (0 when refused). */
  readonly remaining: number;
  /** Milliseconds since the epoch at which the window ends and the count starts over. */
  readonly resetAt: number;
}

/** Counts taken from a key's budget at once: a lease that its holder admits requests from. */
export interface RateLimitGrant {
  /** Counts taken (0 when the window's budget is spent). */
  readonly granted: number;
  /** The window's budget left after this grant, not counting leases handed out and not yet used. */
  readonly remaining: number;
  readonly resetAt: number;
}

/**
 * Counts requests per key and window. Adapters: {@link LocalRateLimiter} (per node, the
 * default); RedisRateLimiter (core/redis-rate-limit.ts) when several nodes share limits.
 */
export interface RateLimiter {
  /** Count one request for `key` under `policy`; refused requests are not counted. */
  consume(key: string, policy: RateLimitPolicy): RateLimitResult | Promise<RateLimitResult>;
  /**
   * Take `max(want, ceil(left / spread))` counts of the current window at once, or all that are
   * left if fewer (the cluster's leases). Every count taken is spent, whether or not its holder
   * admits a request with it, until {@link giveBack} returns it. Adapters without it are asked
   * one count at a time.
   */
  take?(key: string, policy: RateLimitPolicy, want: number, spread: number): RateLimitGrant | Promise<RateLimitGrant>;
  /** Return `count` unused counts of the window ending at `resetAt`; nothing happens once that window is over. */
  giveBack?(key: string, resetAt: number, count: number): void;
  /** Where the counts are, for /readyz (adapters that depend on a service). */
  status?(): { ready: boolean; degraded?: boolean; detail?: string };
}

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Per-node fixed windows aligned to the epoch (a 60 s window resets at every full minute), read
 * from the injected clock, so tests and replays move time by hand. Synchronous and timer-free:
 * a decision costs a map lookup. Keys idle past their window are swept once a minute.
 */
export class LocalRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private nextSweep = 0;

  constructor(private readonly clock: Clock) {}

  consume(key: string, policy: RateLimitPolicy): RateLimitResult {
    const window = this.current(key, policy);
    const { resetAt } = window;
    if (window.count >= policy.limit) return { allowed: false, limit: policy.limit, remaining: 0, resetAt };
    window.count += 1;
    return { allowed: true, limit: policy.limit, remaining: policy.limit - window.count, resetAt };
  }

  take(key: string, policy: RateLimitPolicy, want: number, spread: number): RateLimitGrant {
    const window = this.current(key, policy);
    const left = Math.max(0, policy.limit - window.count);
    const granted = Math.min(left, Math.max(want, Math.ceil(left / spread)));
    window.count += granted;
    return { granted, remaining: left - granted, resetAt: window.resetAt };
  }

  giveBack(key: string, resetAt: number, count: number): void {
    const window = this.windows.get(key);
    if (window && window.resetAt === resetAt) window.count = Math.max(0, window.count - count);
  }

  /** Keys currently counted (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  /** The key's window at the clock's now (a fresh one once the last has ended). */
  private current(key: string, policy: RateLimitPolicy): Window {
    const now = this.clock.now();
    if (now >= this.nextSweep) this.sweep(now);
    const resetAt = (Math.floor(now / policy.windowMs) + 1) * policy.windowMs;
    let window = this.windows.get(key);
    if (!window || window.resetAt !== resetAt) {
      window = { count: 0, resetAt };
      this.windows.set(key, window);
    }
    return window;
  }

  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
    this.nextSweep = now + 60_000;
  }
}

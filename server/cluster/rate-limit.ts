// Rate limits shared by cluster workers: the counts live in the primary; workers take leases of them over IPC and admit from those locally.
import { systemClock, type Clock } from '../../core/clock.js';
import { ServiceUnavailableError } from '../../core/errors.js';
import type { RateLimiter, RateLimitGrant, RateLimitPolicy, RateLimitResult } from '../../core/rate-limit.js';
import {
  messageType, type RateLimitAnswer, type RateLimitAnswerMessage, type RateLimitAsk, type RateLimitAskMessage, type RateLimitReturn,
} from './protocol.js';

/** The IPC channel as both ends see it (a cluster Worker in the primary, `process` in a worker). */
export interface MessageChannel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  /** False once the channel is closed (sending then would only raise an error event). */
  readonly connected?: boolean;
}

/** A worker's counts are refused (503) when the primary cannot answer: the channel is gone. */
export class RateLimitUnavailableError extends ServiceUnavailableError {
  constructor() {
    super('rate_limit_unavailable', 'rate-limit counts are unavailable right now');
  }
}

/** Counts a worker holds for one key and window. */
interface Lease {
  readonly limit: number;
  readonly windowMs: number;
  readonly resetAt: number;
  /** Requests this worker may still admit with it. */
  left: number;
  /** The primary's unleased budget when the lease was granted (for the `remaining` a client sees). */
  readonly remaining: number;
  /** Last time a request was admitted from it (or when it was granted). */
  usedAt: number;
}

interface Waiter {
  resolve(result: RateLimitResult): void;
  reject(err: Error): void;
}

/** One lease asked of the primary, and the requests waiting for it. */
interface Ask {
  readonly id: number;
  /** Its entry in {@link ClusterRateLimiter.asks}: key and policy. */
  readonly slot: string;
  readonly key: string;
  readonly policy: RateLimitPolicy;
  readonly waiters: Waiter[];
}

export interface ClusterRateLimiterOptions {
  /** Decides when a lease's window has ended (the primary's clock decides which window a grant is for). */
  readonly clock?: Clock;
  /** A lease not used for this long goes back to the primary, for the other workers. Default 1000 ms. */
  readonly returnIdleAfterMs?: number;
  /** Check for idle leases on a timer every `returnIdleAfterMs` (default true; tests call {@link ClusterRateLimiter.returnIdle}). */
  readonly timer?: boolean;
}

/**
 * The worker's adapter of the rate-limit port. The primary keeps the one set of counts; a worker
 * takes a lease of a key's counts (a share of the window's budget left, see {@link answerRateLimits})
 * and admits requests from it synchronously, without IPC, until it is spent; then it asks for
 * another. Every count the primary grants is spent there, so the workers together never admit
 * more than the limit in a window. Unused counts go back to the primary when a lease sits idle,
 * when the policy changes and when the worker stops; otherwise they end with their window.
 *
 * Lease requests made during one turn of the event loop go to the primary as one message (sent
 * from `setImmediate`), one per key however many requests wait for it. The primary's clock
 * decides the window a grant is for; a worker stops admitting from a lease when its window ends.
 */
export class ClusterRateLimiter implements RateLimiter {
  private readonly clock: Clock;
  private readonly returnIdleAfterMs: number;
  private readonly leases = new Map<string, Lease>();
  /** Lease requests not answered yet (queued or sent), by key and policy. */
  private readonly asks = new Map<string, Ask>();
  private readonly sent = new Map<number, Ask>();
  private queue: Ask[] = [];
  private returns: RateLimitReturn[] = [];
  private scheduled = false;
  private nextId = 1;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(private readonly channel: MessageChannel, options: ClusterRateLimiterOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.returnIdleAfterMs = options.returnIdleAfterMs ?? 1000;
    channel.on('message', (message) => {
      if (messageType(message) === 'rl') this.settle((message as RateLimitAnswerMessage).answer);
    });
    if (options.timer ?? true) {
      this.timer = setInterval(() => this.returnIdle(), this.returnIdleAfterMs);
      this.timer.unref();
    }
  }

  consume(key: string, policy: RateLimitPolicy): RateLimitResult | Promise<RateLimitResult> {
    if (this.closed) return Promise.reject(new RateLimitUnavailableError());
    const lease = this.leases.get(key);
    if (lease !== undefined) {
      const admitted = this.admit(key, lease, policy);
      if (admitted !== undefined) return admitted;
    }
    return new Promise((resolve, reject) => this.ask(key, policy).waiters.push({ resolve, reject }));
  }

  /** Requests waiting for a lease (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const ask of this.asks.values()) n += ask.waiters.length;
    return n;
  }

  /** Counts this worker holds unused for `key` (for tests). */
  held(key: string): number {
    const lease = this.leases.get(key);
    return lease !== undefined && lease.resetAt > this.clock.now() ? lease.left : 0;
  }

  /** Hand back the leases not used for `returnIdleAfterMs`, and forget those whose window ended. */
  returnIdle(): void {
    const now = this.clock.now();
    for (const [key, lease] of this.leases) {
      if (lease.resetAt <= now) this.leases.delete(key);
      else if (now - lease.usedAt >= this.returnIdleAfterMs) this.handBack(key, lease);
    }
  }

  /** The worker stops (or the channel is gone): leases go back if they can, everything waiting and every later count fails. */
  close(): void {
    if (this.closed) return;
    for (const [key, lease] of this.leases) if (lease.resetAt > this.clock.now()) this.handBack(key, lease);
    this.leases.clear();
    if (this.returns.length > 0 && this.channel.connected !== false) {
      try {
        this.channel.send({ t: 'rl', ask: [], give: this.returns } satisfies RateLimitAskMessage);
      } catch {
        // The channel is gone: the counts end with their window.
      }
    }
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.returns = [];
    this.queue = [];
    for (const ask of this.asks.values()) for (const w of ask.waiters) w.reject(new RateLimitUnavailableError());
    this.asks.clear();
    this.sent.clear();
  }

  /** One request admitted from `lease`, or undefined when the lease cannot serve it (spent, ended, another policy). */
  private admit(key: string, lease: Lease, policy: RateLimitPolicy): RateLimitResult | undefined {
    const now = this.clock.now();
    if (lease.resetAt <= now) {
      // Its window is over, and with it the counts: nothing to hand back.
      this.leases.delete(key);
      return undefined;
    }
    if (lease.limit !== policy.limit || lease.windowMs !== policy.windowMs) {
      this.handBack(key, lease);
      return undefined;
    }
    if (lease.left === 0) {
      this.leases.delete(key);
      return undefined;
    }
    lease.left -= 1;
    lease.usedAt = now;
    return { allowed: true, limit: lease.limit, remaining: lease.remaining + lease.left, resetAt: lease.resetAt };
  }

  /** The lease request for `key` under `policy`: the one already on its way, or a new one. */
  private ask(key: string, policy: RateLimitPolicy): Ask {
    const slot = `${policy.limit}/${policy.windowMs}/${key}`;
    let ask = this.asks.get(slot);
    if (ask === undefined) {
      ask = { id: this.nextId++, slot, key, policy, waiters: [] };
      this.asks.set(slot, ask);
      this.queue.push(ask);
      this.schedule();
    }
    return ask;
  }

  private handBack(key: string, lease: Lease): void {
    this.leases.delete(key);
    if (lease.left > 0) {
      this.returns.push([key, lease.resetAt, lease.left]);
      lease.left = 0;
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    // `want`: the requests waiting now; later ones wait for the same answer and are served from its lease.
    const ask = this.queue.map((a): RateLimitAsk => {
      this.sent.set(a.id, a);
      return [a.id, a.key, a.policy.limit, a.policy.windowMs, a.waiters.length];
    });
    const give = this.returns;
    this.queue = [];
    this.returns = [];
    if (ask.length === 0 && give.length === 0) return;
    try {
      this.channel.send({ t: 'rl', ask, ...(give.length > 0 ? { give } : {}) } satisfies RateLimitAskMessage);
    } catch {
      this.close();
    }
  }

  private settle(answers: readonly RateLimitAnswer[]): void {
    const now = this.clock.now();
    for (const [id, granted, remaining, resetAt] of answers) {
      const ask = this.sent.get(id);
      if (!ask) continue;
      this.sent.delete(id);
      this.asks.delete(ask.slot);
      const { key, policy, waiters } = ask;
      const lease: Lease = { limit: policy.limit, windowMs: policy.windowMs, resetAt, left: granted, remaining, usedAt: now };
      let served = 0;
      while (served < waiters.length && lease.left > 0) {
        lease.left -= 1;
        waiters[served++]!.resolve({ allowed: true, limit: policy.limit, remaining: remaining + lease.left, resetAt });
      }
      // The counts left over are this worker's until its window ends (one that ended on the way is spent).
      if (lease.left > 0 && resetAt > now) {
        const old = this.leases.get(key);
        if (old !== undefined) this.handBack(key, old);
        this.leases.set(key, lease);
      }
      if (served === waiters.length) continue;
      const rest = waiters.slice(served);
      if (remaining === 0) {
        // No lease here and no budget left in the primary: refused until the window ends (the
        // primary's clock says which window it is, even if this one says that window is over).
        for (const w of rest) w.resolve({ allowed: false, limit: policy.limit, remaining: 0, resetAt });
      } else {
        // Requests that joined after the ask was sent, and the primary has budget left: ask again.
        this.ask(key, policy).waiters.push(...rest);
      }
    }
  }
}

/** The primary's end: leases sized for `workers` workers (default 1). */
export interface AnswerOptions {
  readonly workers?: number;
}

/**
 * The primary's side: grants a worker's lease requests from `limiter` (the one set of counts) and
 * takes back the counts it returns. A lease is `max(want, ceil(left / (2 × workers)))` counts, or
 * all that are left if fewer: while the budget is large every worker can hold a share of it and
 * still leave half of it unleased, and as it runs out the leases shrink to the requests actually
 * waiting, so counts held idle by one worker hold back at most a little of the others' traffic.
 * A limiter that cannot take several counts at once (neither port adapter today: the per-node
 * counts and Redis both can) is asked one count per waiting request: no lease is left over.
 * Returns a function that stops listening.
 */
export function answerRateLimits(
  channel: MessageChannel & { off?(event: 'message', listener: (m: unknown) => void): unknown },
  limiter: RateLimiter,
  options: AnswerOptions = {},
): () => void {
  const spread = 2 * Math.max(1, options.workers ?? 1);
  const listener = (message: unknown): void => {
    if (messageType(message) !== 'rl') return;
    const { ask, give } = message as RateLimitAskMessage;
    if (give) for (const [key, resetAt, count] of give) limiter.giveBack?.(key, resetAt, count);
    if (ask.length === 0) return;
    const grants = ask.map(([, key, limit, windowMs, want]) => grant(limiter, key, { limit, windowMs }, Math.max(1, want), spread));
    const reply = (settled: readonly RateLimitGrant[]): void => {
      const answer = settled.map((g, i): RateLimitAnswer => [ask[i]![0], g.granted, g.remaining, g.resetAt]);
      try {
        channel.send({ t: 'rl', answer } satisfies RateLimitAnswerMessage);
      } catch {
        // The worker is gone; its requests went with it.
      }
    };
    if (grants.some((g) => g instanceof Promise)) void Promise.all(grants).then(reply);
    else reply(grants as RateLimitGrant[]);
  };
  channel.on('message', listener);
  return () => channel.off?.('message', listener);
}

function grant(limiter: RateLimiter, key: string, policy: RateLimitPolicy, want: number, spread: number): RateLimitGrant | Promise<RateLimitGrant> {
  if (limiter.take) return limiter.take(key, policy, want, spread);
  const counted = Array.from({ length: want }, () => limiter.consume(key, policy));
  const sum = (results: readonly RateLimitResult[]): RateLimitGrant => ({
    granted: results.filter((r) => r.allowed).length,
    remaining: results.at(-1)!.remaining,
    resetAt: results.at(-1)!.resetAt,
  });
  return counted.some((r) => r instanceof Promise) ? Promise.all(counted).then(sum) : sum(counted as RateLimitResult[]);
}

// Rate limits shared by cluster workers: the counts live in the primary, workers ask over IPC in batches.
import { ServiceUnavailableError } from '../../core/errors.js';
import type { RateLimiter, RateLimitPolicy, RateLimitResult } from '../../core/rate-limit.js';
import { messageType, type RateLimitAnswer, type RateLimitAnswerMessage, type RateLimitAsk, type RateLimitAskMessage } from './protocol.js';

/** The IPC channel as both ends see it (a cluster Worker in the primary, `process` in a worker). */
export interface MessageChannel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

/** A worker's counts are refused (503) when the primary cannot answer: the channel is gone. */
export class RateLimitUnavailableError extends ServiceUnavailableError {
  constructor() {
    super('rate_limit_unavailable', 'rate-limit counts are unavailable right now');
  }
}

interface Pending {
  readonly limit: number;
  resolve(result: RateLimitResult): void;
  reject(err: Error): void;
}

/**
 * The worker's adapter of the rate-limit port. Every count made during one turn of the event
 * loop goes to the primary as one message (sent from `setImmediate`), so under load a message
 * carries many counts and the IPC cost per request stays small. The window arithmetic runs in
 * the primary, on its clock, so workers cannot disagree about window boundaries.
 */
export class ClusterRateLimiter implements RateLimiter {
  private readonly pending = new Map<number, Pending>();
  private batch: RateLimitAsk[] = [];
  private scheduled = false;
  private nextId = 1;
  private closed = false;

  constructor(private readonly channel: MessageChannel) {
    channel.on('message', (message) => {
      if (messageType(message) === 'rl') this.settle((message as RateLimitAnswerMessage).answer);
    });
  }

  consume(key: string, policy: RateLimitPolicy): Promise<RateLimitResult> {
    if (this.closed) return Promise.reject(new RateLimitUnavailableError());
    const id = this.nextId++;
    this.batch.push([id, key, policy.limit, policy.windowMs]);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return new Promise((resolve, reject) => this.pending.set(id, { limit: policy.limit, resolve, reject }));
  }

  /** Counts waiting for an answer (for tests and metrics). */
  get waiting(): number {
    return this.pending.size;
  }

  /** The channel is gone: everything waiting, and every later count, fails. */
  close(): void {
    this.closed = true;
    this.batch = [];
    for (const p of this.pending.values()) p.reject(new RateLimitUnavailableError());
    this.pending.clear();
  }

  private flush(): void {
    this.scheduled = false;
    const ask = this.batch;
    this.batch = [];
    if (ask.length === 0) return;
    try {
      this.channel.send({ t: 'rl', ask } satisfies RateLimitAskMessage);
    } catch {
      this.close();
    }
  }

  private settle(answers: readonly RateLimitAnswer[]): void {
    for (const [id, allowed, remaining, resetAt] of answers) {
      const p = this.pending.get(id);
      if (!p) continue;
      this.pending.delete(id);
      p.resolve({ allowed: allowed === 1, limit: p.limit, remaining, resetAt });
    }
  }
}

/**
 * The primary's side: answers a worker's batches from `limiter` (the one set of counts).
 * Returns a function that stops listening.
 */
export function answerRateLimits(channel: MessageChannel & { off?(event: 'message', listener: (m: unknown) => void): unknown }, limiter: RateLimiter): () => void {
  const listener = (message: unknown): void => {
    if (messageType(message) !== 'rl') return;
    const ask = (message as RateLimitAskMessage).ask;
    const results = ask.map(([, key, limit, windowMs]) => limiter.consume(key, { limit, windowMs }));
    const reply = (settled: readonly RateLimitResult[]): void => {
      const answer = settled.map((r, i): RateLimitAnswer => [ask[i]![0], r.allowed ? 1 : 0, r.remaining, r.resetAt]);
      try {
        channel.send({ t: 'rl', answer } satisfies RateLimitAnswerMessage);
      } catch {
        // The worker is gone; its requests went with it.
      }
    };
    if (results.some((r) => r instanceof Promise)) void Promise.all(results).then(reply);
    else reply(results as RateLimitResult[]);
  };
  channel.on('message', listener);
  return () => channel.off?.('message', listener);
}

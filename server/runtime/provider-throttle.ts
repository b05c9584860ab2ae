// Outbound calls to identity providers, throttled per configured provider with bottleneck: the vendor's budget, shared by all nodes through Redis when configured.
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.js';
import type { CallBudget, HttpFetch } from '../../core/provider.js';

/** For kinds that state no budget (self-hosted identity providers, generic OIDC/OAuth). */
export const DEFAULT_CALL_BUDGET: CallBudget = Object.freeze({ maxConcurrent: 16 });

/** What happened to one outbound call, for metrics. */
export interface ThrottleObserver {
  /** A call had to wait behind others: `maxConcurrent` calls were already queued or running. */
  queued?(provider: string): void;
  /** A call gave up while waiting: the caller's deadline passed first. */
  expired?(provider: string): void;
  /** A call finished: its time from start (not counting the wait), and whether it failed before an answer. */
  called?(provider: string, seconds: number, failed: boolean): void;
}

export interface ProviderThrottleOptions {
  /** Redis shared by the nodes: budgets are counted there. Absent: per node. */
  readonly redisUrl?: string;
  /** Prefix of the Redis keys (the process configuration's redisKeyPrefix). */
  readonly keyPrefix?: string;
  readonly logger: Logger;
  readonly observer?: ThrottleObserver;
}

/** One provider instance's throttled fetch. */
export interface ThrottledFetch {
  readonly fetch: HttpFetch;
  /** The instance is gone: calls still waiting fail, running ones finish; the limiter lets go of Redis. */
  release(): void;
}

function settingsOf(budget: CallBudget): Bottleneck.ConstructorOptions {
  const reservoir = budget.reservoir;
  return {
    maxConcurrent: budget.maxConcurrent,
    ...(reservoir ? { reservoir: reservoir.amount, reservoirRefreshAmount: reservoir.amount, reservoirRefreshInterval: reservoir.everyMs } : {}),
  };
}

/**
 * Gives every provider instance a fetch that waits for its budget. A call waits in the queue until
 * the budget allows it or the caller's deadline (the abort signal fetchJson passes, from its
 * timeout) passes: then it fails at once as a timeout, which the provider answers with
 * `503 provider_unavailable`. A job whose caller gave up still takes its slot when its turn
 * comes (bottleneck cannot take a job out of its queue) and returns without calling, so the
 * budget is never exceeded, only sometimes underused.
 *
 * With Redis, each provider's limiter is bottleneck's `ioredis` datastore under
 * `<keyPrefix>provider:<id>`, so every node draws on one budget. While Redis cannot be reached a
 * call is throttled by a per-node limiter with the same budget instead, with one warning.
 */
export class ProviderThrottle {
  private readonly connection: Bottleneck.IORedisConnection | undefined;
  private readonly client: Redis | undefined;
  private warned = false;

  constructor(private readonly options: ProviderThrottleOptions) {
    if (options.redisUrl) {
      // Fail commands at once while disconnected: the call falls back to the node's limiter.
      this.client = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (n) => Math.min(n * 200, 2000) });
      this.client.on('error', () => undefined);
      this.connection = new Bottleneck.IORedisConnection({ Redis, client: this.client });
      this.connection.on('error', () => undefined);
    }
  }

  /** A fetch for provider `id` that stays within `budget`. */
  limit(id: string, budget: CallBudget = DEFAULT_CALL_BUDGET, fetch: HttpFetch): ThrottledFetch {
    const settings = settingsOf(budget);
    const local = new Bottleneck(settings);
    const shared = this.connection
      ? new Bottleneck({
          ...settings,
          id: `${this.options.keyPrefix ?? 'portcullis:'}provider:${id}`,
          datastore: 'ioredis',
          connection: this.connection,
          clearDatastore: false,
          // Kept in Redis at least as long as the reservoir's period, so a quiet spell never refills it early.
          timeout: Math.max(5 * 60_000, (budget.reservoir?.everyMs ?? 0) + 60_000),
        })
      : undefined;
    shared?.on('error', () => undefined);
    const { observer, logger } = this.options;
    /** This node's calls queued or running (for the `queued` observation). */
    let active = 0;

    const throttled: HttpFetch = (input, init) => {
      const signal = init?.signal ?? undefined;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise<Response>((resolve, reject) => {
        /** Not started yet, and the caller still waits. */
        let waiting = true;
        const onAbort = (): void => {
          if (!waiting) return;
          waiting = false;
          done();
          observer?.expired?.(id);
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        if (active >= budget.maxConcurrent) observer?.queued?.(id);
        active += 1;
        let ran = false;
        // The job settles the caller's promise itself, so what the limiter does afterwards
        // (a Redis error while recording it done) cannot lose the answer or run the call twice.
        const job = async (): Promise<void> => {
          ran = true;
          if (!waiting) return;
          waiting = false;
          signal?.removeEventListener('abort', onAbort);
          try {
            await call();
          } finally {
            done();
          }
        };
        const call = async (): Promise<void> => {
          const begin = process.hrtime.bigint();
          try {
            const response = await fetch(input, init);
            observer?.called?.(id, Number(process.hrtime.bigint() - begin) / 1e9, false);
            resolve(response);
          } catch (error) {
            observer?.called?.(id, Number(process.hrtime.bigint() - begin) / 1e9, true);
            reject(error);
          }
        };
        const done = (): void => void (active -= 1);
        const viaLocal = (): void =>
          void local.schedule(job).catch((err: unknown) => {
            if (ran || !waiting) return;
            waiting = false;
            done();
            reject(err);
          });
        if (!shared) return viaLocal();
        if (this.client?.status !== 'ready') {
          // Not connected (never yet, or lost): bottleneck would wait for Redis; do not.
          this.fallingBack(id, `Redis connection ${this.client?.status ?? 'absent'}`);
          return viaLocal();
        }
        shared.schedule(job).then(
          () => {
            if (this.warned) {
              this.warned = false;
              logger.info({ provider: id }, 'provider call budgets are shared through Redis again');
            }
          },
          (err: unknown) => {
            if (ran) return;
            // The limiter itself failed (Redis away), not the call: throttle on this node instead.
            this.fallingBack(id, (err as Error).message);
            viaLocal();
          },
        );
      });
    };
    return {
      fetch: throttled,
      release: () => {
        // Calls still waiting fail (503, as an unreachable provider) rather than wait for a budget no one refills.
        void local.stop({ dropWaitingJobs: true }).catch(() => undefined).then(() => local.disconnect());
        if (shared) void shared.stop({ dropWaitingJobs: true }).catch(() => undefined).then(() => shared.disconnect(false));
      },
    };
  }

  /** Calls are throttled per node while Redis is away: say so once per outage. */
  private fallingBack(provider: string, why: string): void {
    this.localCalls += 1;
    if (this.warned) return;
    this.warned = true;
    this.options.logger.warn({ provider, err: why }, 'Redis is unavailable: provider call budgets are counted per node until it returns');
  }

  /** Calls throttled per node because Redis was away (for metrics and tests). */
  localCalls = 0;

  /** Budgets are counted in Redis now (connected), or Redis is not configured: undefined. */
  get sharing(): boolean | undefined {
    return this.client ? this.client.status === 'ready' : undefined;
  }

  async close(): Promise<void> {
    await this.connection?.disconnect(false).catch(() => undefined);
    this.client?.disconnect();
  }
}

// Following the store: its head read every few seconds against the position of the subscriptions that decide requests, for /metrics (lag) and /readyz (store reachable, caught up).
import type { Logger } from '../../core/logger.js';
import type { Position } from '../../core/store/position.js';
import type { EventStore } from '../../core/store/port.js';

/**
 * Samples the store's head position every `everyMs` (default 2 s), off the request path. The
 * subscription counts as caught up once it has reached the head read at the previous sample: a
 * node that keeps up is never more than one sample behind, a node that replays or lost its
 * subscription is.
 */
export class StoreFollowWatch {
  private timer: NodeJS.Timeout | undefined;
  private previousHead: Position | undefined;
  private head: Position | undefined;
  private error: string | undefined;
  private sampled = false;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    /** The subscription's position: the least of the projections requests are decided with (configuration, tokens). */
    private readonly position: () => Position | undefined,
    private readonly logger: Logger,
    private readonly everyMs = 2000,
  ) {}

  start(): void {
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Read the head now (tests; the timer does it otherwise). */
  sample(): Promise<void> {
    this.sampling ??= (async () => {
      try {
        const head = await this.store.headPosition();
        if (this.error !== undefined) this.logger.info('the event store answers again');
        this.error = undefined;
        this.previousHead = this.sampled ? this.head : head;
        this.head = head;
        this.sampled = true;
      } catch (err) {
        if (this.error === undefined) this.logger.warn({ err: (err as Error).message }, 'the event store does not answer: serving the last known settings');
        this.error = (err as Error).message || 'unreachable';
      }
    })().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  /** Positions between the subscription and the last head read; undefined before the first read. */
  get lag(): number | undefined {
    if (!this.sampled) return undefined;
    if (this.head === undefined) return 0;
    const at = this.position();
    const behind = BigInt(this.head) - (at === undefined ? 0n : BigInt(at));
    return behind > 0n ? Number(behind) : 0;
  }

  /** /readyz: the store answered the last read. Informative: nodes keep enforcing the last known settings. */
  storeStatus(): { ready: boolean; degraded?: boolean; detail?: string } {
    if (this.error !== undefined) return { ready: true, degraded: true, detail: `store unavailable (${this.error}): serving the last known settings` };
    return this.sampled ? { ready: true } : { ready: true, detail: 'not read yet' };
  }

  /**
   * /readyz: the subscription has reached the head read one sample ago. Not ready before the first
   * read: a node (re)started while others kept changing the store says ready only once it has
   * been compared with the head and has reached it.
   */
  subscriptionStatus(): { ready: boolean; detail?: string } {
    if (!this.sampled) return { ready: false, detail: 'not compared with the store head yet' };
    if (this.previousHead === undefined) return { ready: true };
    const at = this.position();
    const caughtUp = at !== undefined && BigInt(at) >= BigInt(this.previousHead);
    return caughtUp ? { ready: true } : { ready: false, detail: `${this.lag ?? '?'} positions behind the store head` };
  }
}

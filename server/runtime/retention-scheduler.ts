// `serve` applies audit.retention on a schedule: at start, then every hour, in one process per store (the single process, or the cluster primary).
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { applyRetention, type RetentionResult, type RetentionSettings, type RetentionStore } from '../../core/retention/apply.js';

export const RETENTION_EVERY_MS = 3_600_000;
/** How often the timer asks whether a run is due (the clock decides; a test's fake clock included). */
const POLL_MS = 60_000;

export class RetentionScheduler {
  /** Undefined: due now (the first run, at start). */
  #nextMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<RetentionResult | undefined> | undefined;

  constructor(
    private readonly store: RetentionStore,
    /** Read at each run: a settings change applies from the next one. */
    private readonly retention: () => RetentionSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly everyMs: number = RETENTION_EVERY_MS,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.tick(), Math.min(POLL_MS, this.everyMs));
    this.#timer.unref();
    void this.tick();
  }

  /** Run if due (never two at once); resolves with what the run did, or undefined when none ran or it failed (logged). */
  tick(): Promise<RetentionResult | undefined> {
    const now = this.clock.now();
    if (this.#running || (this.#nextMs !== undefined && now < this.#nextMs)) return Promise.resolve(undefined);
    this.#nextMs = now + this.everyMs;
    this.#running = this.#run(now).finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** No new run; waits for one under way, so the store can close after. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #run(now: number): Promise<RetentionResult | undefined> {
    const settings = this.retention();
    if (settings.maxDays === false && settings.maxEntries === false) return undefined;
    try {
      const result = await applyRetention(this.store, settings, now);
      for (const p of result.dropped) {
        this.logger.info({ stream: p.stream, events: p.events, decisions: p.decisions, rule: p.rule, first: p.first, last: p.last }, 'retention dropped a day of the decision log');
      }
      if (result.heldBack && result.heldBack.reason !== 'today') {
        this.logger.info({ stream: result.heldBack.stream, reason: result.heldBack.reason }, 'retention keeps a day it would drop, for now');
      }
      return result;
    } catch (err) {
      this.logger.error({ err }, 'could not apply audit retention; retrying at the next run');
      return undefined;
    }
  }
}

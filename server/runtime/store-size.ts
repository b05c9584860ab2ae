// Watching the store's size on disk against storeSizeWarnBytes: a warning in the log when it grows past it, and a line in /readyz.
import type { Logger } from '../../core/logger.js';
import type { EventStore } from '../../core/store/port.js';

export const STORE_SIZE_EVERY_MS = 300_000;

export class StoreSizeWatch {
  #bytes: number | undefined;
  #over = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Pick<EventStore, 'sizeBytes'>,
    private readonly warnBytes: number,
    private readonly logger: Logger,
  ) {}

  start(everyMs = STORE_SIZE_EVERY_MS): void {
    this.#timer = setInterval(() => void this.check(), everyMs);
    this.#timer.unref();
    void this.check();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Measure once; warns when the size crosses the limit upwards (again after it fell below), never every time. */
  async check(): Promise<number | undefined> {
    try {
      this.#bytes = await this.store.sizeBytes();
    } catch (err) {
      this.logger.warn({ err }, 'could not measure the store size');
      return this.#bytes;
    }
    const over = this.#bytes !== undefined && this.#bytes > this.warnBytes;
    if (over && !this.#over) {
      this.logger.warn({ storeSizeBytes: this.#bytes, storeSizeWarnBytes: this.warnBytes }, 'the event store has grown past storeSizeWarnBytes; see audit.retention (docs/audit.md#retention)');
    }
    this.#over = over;
    return this.#bytes;
  }

  /** The /readyz check: informative only, a large store does not take the node out of rotation. */
  get status(): { ready: true; detail?: string } {
    if (this.#bytes === undefined) return { ready: true };
    return this.#over
      ? { ready: true, detail: `store ${this.#bytes} bytes, past storeSizeWarnBytes ${this.warnBytes}` }
      : { ready: true, detail: `store ${this.#bytes} bytes of ${this.warnBytes}` };
  }
}

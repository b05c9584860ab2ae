// Catch-up subscription shared by the adapters: always re-read from the store by position, so no gap or duplicate.
import { setImmediate as giveWay } from 'node:timers/promises';

import type { Position, ReadAllOptions, RecordedEvent, SubscribeOptions } from './port.js';

/**
 * Wakes subscribers after an in-process append. `version` lets a subscriber notice an append
 * that happened while it was reading, before it started to wait.
 */
export class AppendNotifier {
  #version = 0;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  get version(): number {
    return this.#version;
  }

  get closed(): boolean {
    return this.#closed;
  }

  notify(): void {
    this.#version += 1;
    this.#wakeAll();
  }

  /** Ends every subscription: a closed store has nothing more to deliver. */
  close(): void {
    this.#closed = true;
    this.#wakeAll();
  }

  /**
   * Resolve on the next append, after `pollMs` (other processes), or when `signal` aborts;
   * whichever comes first. Leaves no timer or listener behind.
   */
  wait(sinceVersion: number, pollMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed || signal?.aborted || this.#version !== sinceVersion) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        this.#waiters.delete(done);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.#waiters.add(done);
      if (pollMs !== undefined) timer = setTimeout(done, pollMs);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

export interface CatchUpSource {
  readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;
  headPosition(): Promise<Position | undefined>;
  readonly notifier: AppendNotifier;
  /** Poll for appends by other processes; undefined when only this process writes. */
  readonly pollIntervalMs?: number;
}

/**
 * Events read at a time. Between two pages the subscriber gives way to the event loop: a
 * follower that fell behind by thousands of events (the token-usage projection reads every
 * gateway-token decision back) must not hold up the requests being served while it catches up.
 */
const PAGE_SIZE = 200;

/** Every event after `after`, then live events, until the signal aborts or the store closes. */
export async function* catchUp(source: CatchUpSource, options: SubscribeOptions = {}): AsyncGenerator<RecordedEvent> {
  const { signal, streamPrefixes, dataEquals } = options;
  const filtered = streamPrefixes !== undefined || dataEquals !== undefined;
  let after = options.after;
  const live = (): boolean => !signal?.aborted && !source.notifier.closed;
  while (live()) {
    // Taken before the read: an append that lands during the read makes wait() return at once.
    const seen = source.notifier.version;
    // Also taken before the read: with a filter, a page that is not full has returned every
    // matching event up to this head, so the next read may start there. Without that, a filtered
    // subscriber would rescan every non-matching event since its last match on every poll.
    const head = filtered ? await source.headPosition() : undefined;
    const page = await source.readAll({ after, maxCount: PAGE_SIZE, streamPrefixes, dataEquals });
    for (const event of page) {
      if (!live()) return;
      after = event.position;
      yield event;
    }
    if (page.length === PAGE_SIZE) await giveWay();
    else {
      if (head !== undefined && (after === undefined || BigInt(head) > BigInt(after))) {
        after = head;
        options.onSkipped?.(head);
      }
      await source.notifier.wait(seen, source.pollIntervalMs, signal);
    }
  }
}

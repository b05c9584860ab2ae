// In-memory event store for tests and simulations: same semantics as the SQLite adapter, nothing on disk.
import { systemClock, type Clock } from '../clock.js';
import { hashEvent } from './hash.js';
import {
  StoreUnavailableError,
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type CountEventsOptions,
  type EventCount,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  matchesData,
} from './port.js';
import { deepFreeze } from './freeze.js';
import { MemoryDecisionLog } from './memory-decisions.js';
import { AppendNotifier, catchUp } from './subscription.js';
import {
  checkExpectedRevision,
  checkNewEvents,
  checkStreamName,
  limitOf,
  matchesPrefixes,
  matchesTypes,
  parsePosition,
  toPosition,
} from './checks.js';

export class MemoryEventStore implements EventStore {
  readonly notifier = new AppendNotifier();
  readonly #clock: Clock;
  /** Global order; positions are 1-based and kept increasing across deletions. */
  #events: RecordedEvent[] = [];
  readonly #byId = new Map<string, RecordedEvent>();
  readonly #streams = new Map<string, RecordedEvent[]>();
  readonly #checkpoints = new Map<string, string>();
  #lastPosition = 0;
  #closed = false;

  constructor(options: { clock?: Clock } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  readonly decisions: MemoryDecisionLog = new MemoryDecisionLog({
    // The block's decisions are in place before subscribers learn of its event.
    appendEvent: (stream, event, store) => {
      const result = this.#append(stream, [event], {});
      store(Number(result.position));
      this.notifier.notify();
      return result;
    },
  });

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    const result = this.#append(stream, events, options);
    this.notifier.notify();
    return result;
  }

  #append(stream: string, events: readonly NewEvent[], options: AppendOptions): AppendResult {
    this.#open();
    checkStreamName(stream);
    checkNewEvents(events);
    const expected = options.expectedRevision ?? 'any';
    const existing = this.#streams.get(stream) ?? [];
    const fresh: NewEvent[] = [];
    let lastStored: RecordedEvent | undefined;
    for (const e of events) {
      const stored = this.#byId.get(e.id);
      if (stored === undefined) fresh.push(e);
      else if (stored.stream !== stream) throw new TypeError(`event id ${e.id} is already stored in stream ${stored.stream}`);
      else if (lastStored === undefined || stored.revision > lastStored.revision) lastStored = stored;
    }
    const current = existing.length - 1;
    if (fresh.length === 0 && lastStored !== undefined) return { nextRevision: current, position: lastStored.position };
    checkExpectedRevision(stream, expected, current);

    const time = new Date(this.#clock.now()).toISOString();
    const recorded = existing.slice();
    let prevHash = this.#events.at(-1)?.hash ?? '';
    for (const e of fresh) {
      // A JSON round trip gives what the SQLite adapter would hand back; freezing keeps history immutable.
      const content = {
        id: e.id,
        type: e.type,
        stream,
        revision: recorded.length,
        time,
        data: deepFreeze(JSON.parse(JSON.stringify(e.data ?? null)) as unknown),
        metadata: deepFreeze(JSON.parse(JSON.stringify(e.metadata ?? {})) as EventMetadata),
      };
      const hash = hashEvent(prevHash, content);
      this.#lastPosition += 1;
      const event: RecordedEvent = Object.freeze({ ...content, position: toPosition(this.#lastPosition), prevHash, hash });
      recorded.push(event);
      this.#events.push(event);
      this.#byId.set(e.id, event);
      prevHash = hash;
    }
    this.#streams.set(stream, recorded);
    const last = recorded.at(-1) as RecordedEvent;
    return { nextRevision: last.revision, position: last.position };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.#open();
    const events = this.#streams.get(stream) ?? [];
    const limit = limitOf(options.maxCount);
    if (options.direction === 'backwards') {
      const from = Math.min(options.fromRevision ?? events.length - 1, events.length - 1);
      return events.slice(Math.max(0, from + 1 - limit), from + 1).reverse();
    }
    const from = Math.max(0, options.fromRevision ?? 0);
    return events.slice(from, from + limit);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.#open();
    const after = options.after === undefined ? 0 : parsePosition(options.after);
    const before = options.before === undefined ? Number.POSITIVE_INFINITY : parsePosition(options.before);
    const limit = limitOf(options.maxCount);
    const result: RecordedEvent[] = [];
    const matches = (e: RecordedEvent): boolean =>
      matchesPrefixes(e.stream, options.streamPrefixes) && matchesTypes(e.type, options.types) && matchesData(e.data, options.dataEquals);
    // [first, end): the events strictly between `after` and `before`.
    const first = firstAfter(this.#events, after);
    const end = before === Number.POSITIVE_INFINITY ? this.#events.length : firstAfter(this.#events, before - 1);
    if (options.direction === 'backwards') {
      for (let i = end - 1; i >= first && result.length < limit; i--) if (matches(this.#events[i]!)) result.push(this.#events[i]!);
    } else {
      for (let i = first; i < end && result.length < limit; i++) if (matches(this.#events[i]!)) result.push(this.#events[i]!);
    }
    return result;
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    return catchUp({ readAll: (o) => this.readAll(o), headPosition: () => this.headPosition(), notifier: this.notifier }, options);
  }

  async sizeBytes(): Promise<number | undefined> {
    return undefined;
  }

  async headPosition(): Promise<Position | undefined> {
    this.#open();
    return this.#events.at(-1)?.position;
  }

  async countEvents(options: CountEventsOptions = {}): Promise<EventCount> {
    this.#open();
    const after = options.after === undefined ? 0 : parsePosition(options.after);
    const from = firstAfter(this.#events, after);
    const count = Math.min(limitOf(options.maxCount), this.#events.length - from);
    const last = this.#events[from + count - 1];
    return count > 0 && last ? { count, last: { position: last.position, hash: last.hash } } : { count: 0 };
  }

  async deleteStream(stream: string): Promise<void> {
    this.#open();
    const events = this.#streams.get(stream);
    if (events === undefined) return;
    this.#streams.delete(stream);
    for (const e of events) {
      this.#byId.delete(e.id);
      this.decisions.drop(e.position);
    }
    this.#events = this.#events.filter((e) => e.stream !== stream);
  }

  async loadCheckpoint(name: string): Promise<Checkpoint | undefined> {
    this.#open();
    const saved = this.#checkpoints.get(name);
    return saved === undefined ? undefined : (JSON.parse(saved) as Checkpoint);
  }

  async saveCheckpoint(name: string, checkpoint: Checkpoint): Promise<void> {
    this.#open();
    parsePosition(checkpoint.position);
    this.#checkpoints.set(name, JSON.stringify({ position: checkpoint.position, state: checkpoint.state ?? null }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.notifier.close();
  }

  #open(): void {
    if (this.#closed) throw new StoreUnavailableError('event store is closed');
  }
}

/** Index of the first event with a position above `after` (binary search: positions increase). */
function firstAfter(events: readonly RecordedEvent[], after: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Number((events[mid] as RecordedEvent).position) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// KurrentDB event store (KurrentDB 25.1+, through @kurrent/kurrentdb-client): one chain for all writers, kept by a chain stream that every append moves in the same atomic multi-stream append.
import {
  END,
  KurrentDBClient,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendStreamRequest,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';

import type { Clock } from '../clock.js';
import { checkExpectedRevision, checkNewEvents, checkStreamName, limitOf, matchesTypes, parsePosition } from './checks.js';
import { hashCanonicalEvent, serializeEvent } from './hash.js';
import { ChainView, isChainRecord, type ChainEntry, type ChainRecord } from './kurrentdb-chain.js';
import { KurrentDecisionLog, type StreamWrite } from './kurrentdb-decisions.js';
import {
  CHECKPOINT_METADATA,
  chainStream,
  checkpointStream,
  deletionMetadata,
  fromKurrentEvent,
  kurrentStream,
  parseKurrentUrl,
  toKurrentEvent,
  type KurrentEventData,
  type KurrentRecorded,
  type KurrentTarget,
  type MappedEvent,
} from './kurrentdb-mapping.js';
import {
  matchesData,
  StoreUnavailableError,
  WrongExpectedRevisionError,
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type CountEventsOptions,
  type DecisionLogStore,
  type EventCount,
  type EventStore,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
} from './port.js';
import { AppendNotifier, catchUp } from './subscription.js';

export interface KurrentStoreOptions {
  readonly clock?: Clock;
  /** How often a caught-up subscription reads anyway, should a wake-up be lost. Default 500 ms. */
  readonly pollIntervalMs?: number;
}

const ATTEMPTS = 20;

/**
 * Ordering and the chain: KurrentDB has one log ($all), but no counter that gives consecutive
 * positions and no lock. Every append therefore writes, in one atomic multi-stream append, its
 * events and one record to the chain stream `<namespace>~chain`, expecting that stream at the
 * revision it read. Of two nodes racing, one wins; the other reads the chain again and retries.
 * The chain stream is thus the order of appends: each takes the positions after the last
 * record's and chains its first event to the last record's hash. Positions are that sequence
 * (kept in each event's metadata), so they are consecutive within an append, as the port wants.
 * Each node follows the chain stream into memory: the ids stored (an append skips ids already
 * there, and refuses one stored in another stream) and where each append sits in $all, so a
 * read after a position starts at the right place in $all.
 */
export class KurrentEventStore implements EventStore {
  readonly notifier = new AppendNotifier();
  readonly decisions: DecisionLogStore;
  readonly pollIntervalMs: number;
  readonly #client: KurrentDBClient;
  readonly #target: KurrentTarget;
  readonly #clock: Clock | undefined;
  readonly #chain = new ChainView();
  #wake: { unsubscribe(): Promise<void> } | undefined;
  #closed = false;

  /**
   * @throws TypeError for a malformed URL; StoreUnavailableError naming the hosts (never the password) when the server cannot be read
   */
  static async open(url: string, options: KurrentStoreOptions = {}): Promise<KurrentEventStore> {
    const target = parseKurrentUrl(url);
    const client = KurrentDBClient.connectionString(target.connectionString);
    const store = new KurrentEventStore(client, target, options);
    try {
      await store.#followChain();
    } catch (err) {
      await client.dispose().catch(() => undefined);
      throw store.#unavailable(err instanceof StoreUnavailableError && err.cause !== undefined ? err.cause : err, 'cannot be opened');
    }
    return store;
  }

  private constructor(client: KurrentDBClient, target: KurrentTarget, options: KurrentStoreOptions) {
    this.#client = client;
    this.#target = target;
    this.#clock = options.clock;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.decisions = new KurrentDecisionLog({
      write: (writes) => this.#write(writes),
      readAllWithDecisions: (o) => this.#readAll(o),
    });
  }

  get where(): string {
    return `namespace ${this.#target.namespace} at ${this.#target.where}`;
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    checkStreamName(stream);
    checkNewEvents(events);
    return this.#write([{ stream, events: events.map(serializeEvent), expected: options.expectedRevision ?? 'any' }]);
  }

  /**
   * Write events of one or more streams with one chain record, atomically; the result is the last
   * stream's. Retried from a fresh read of the chain when another node appended first.
   */
  async #write(writes: readonly StreamWrite[]): Promise<AppendResult> {
    this.#open();
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      await this.#followChain();
      const head = this.#chain.head;
      let position = head?.last ?? 0;
      let hash = head?.hash ?? '';
      const time = new Date(this.#clock?.now() ?? Date.now()).toISOString();
      const requests: AppendStreamRequest[] = [];
      const streams: { stream: string; ids: string[] }[] = [];
      let result: AppendResult | undefined;
      for (const write of writes) {
        const current = await this.#lastRevision(write.stream);
        const stored = write.events.flatMap((e) => this.#chain.stored(e.id) ?? []);
        const elsewhere = write.events.find((e) => {
          const where = this.#chain.stored(e.id);
          return where !== undefined && where.stream !== write.stream;
        });
        if (elsewhere) throw new TypeError(`event id ${elsewhere.id} is already stored in stream ${this.#chain.stored(elsewhere.id)!.stream}`);
        const fresh = write.events.filter((e) => this.#chain.stored(e.id) === undefined);
        if (fresh.length === 0) {
          result = { nextRevision: current, position: String(Math.max(...stored.map((where) => where.position))) as Position };
          continue;
        }
        checkExpectedRevision(write.stream, write.expected ?? 'any', current);
        const data: KurrentEventData[] = [];
        const ids: string[] = [];
        let revision = current;
        for (const e of fresh) {
          revision += 1;
          position += 1;
          const next = hashCanonicalEvent(hash, { id: e.id, type: e.type, stream: write.stream, revision, time }, e.data, e.metadata);
          const decisions = write.decisions?.get(e.id);
          data.push(toKurrentEvent(e, { sequence: position, revision, time, prevHash: hash, hash: next, ...(decisions ? { decisions } : {}) }));
          hash = next;
          ids.push(e.id);
        }
        // The chain stream's expected revision is the guard; the stream's own state was checked above against the same chain.
        requests.push({ streamName: kurrentStream(this.#target.namespace, write.stream), events: data as AppendStreamRequest['events'], expectedState: 'any' });
        streams.push({ stream: write.stream, ids });
        result = { nextRevision: revision, position: String(position) as Position };
      }
      if (requests.length === 0) return result!;
      const record: ChainRecord = { kind: 'appended', streams, first: (head?.last ?? 0) + 1, last: position, hash };
      if (await this.#appendWithChain(head, record, requests)) {
        this.notifier.notify();
        return result!;
      }
    }
    throw new StoreUnavailableError(`KurrentDB event store at ${this.#target.where}: the chain kept moving under ${ATTEMPTS} attempts to append`);
  }

  /** One atomic multi-stream append of `requests` and the chain record; false when another node moved the chain first. */
  async #appendWithChain(head: ChainEntry | undefined, record: ChainRecord, requests: readonly AppendStreamRequest[]): Promise<boolean> {
    const chain: AppendStreamRequest = {
      streamName: chainStream(this.#target.namespace),
      events: [{ id: crypto.randomUUID(), contentType: 'application/json', type: record.kind === 'appended' ? 'ChainAppended' : 'ChainStreamDeleted', data: { ...record }, metadata: {} }] as AppendStreamRequest['events'],
      expectedState: head === undefined ? 'no_stream' : head.revision,
    };
    try {
      await this.#client.multiStreamAppend([chain, ...requests]);
      return true;
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) return false;
      throw this.#unavailable(err);
    }
  }

  /** Read the chain stream's records after the last one known (all of them, at open). */
  async #followChain(): Promise<void> {
    const from = this.#chain.head?.revision;
    const events = this.#client.readStream(chainStream(this.#target.namespace), { fromRevision: from === undefined ? START : from + 1n });
    try {
      for await (const resolved of events as AsyncIterable<ResolvedEvent>) {
        const e = resolved.event;
        if (!e) continue;
        const data: unknown = e.data;
        if (!isChainRecord(data)) throw new StoreUnavailableError(`KurrentDB event store at ${this.#target.where}: record ${e.revision} of the chain stream is not one Portcullis wrote`);
        this.#chain.add({ ...data, revision: e.revision, at: e.position });
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return;
      throw this.#unavailable(err);
    }
  }

  async #lastRevision(stream: string): Promise<number> {
    return (await this.#readStream(stream, { direction: 'backwards', maxCount: 1 }))[0]?.event.revision ?? -1;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return (await this.#readStream(stream, options)).map((m) => m.event);
  }

  /**
   * A stream's events. A revision to start from is Portcullis's; KurrentDB's is that plus the
   * stream's offset (nonzero after a deletion: see ChainFields.revision), read from its first event.
   */
  async #readStream(stream: string, options: ReadStreamOptions): Promise<MappedEvent[]> {
    this.#open();
    const limit = limitOf(options.maxCount);
    if (limit === 0) return [];
    const backwards = options.direction === 'backwards';
    let fromRevision: bigint | typeof START | typeof END = backwards ? END : START;
    if (options.fromRevision !== undefined) {
      if (!Number.isSafeInteger(options.fromRevision) || options.fromRevision < 0) throw new TypeError(`invalid fromRevision: ${options.fromRevision}`);
      const [first] = await this.#readStream(stream, { maxCount: 1 });
      if (first === undefined) return [];
      fromRevision = BigInt(options.fromRevision) + first.kurrentRevision - BigInt(first.event.revision);
    }
    const found: MappedEvent[] = [];
    try {
      const events = this.#client.readStream(kurrentStream(this.#target.namespace, stream), {
        direction: backwards ? 'backwards' : 'forwards',
        fromRevision,
        ...(Number.isFinite(limit) ? { maxCount: limit } : {}),
      });
      for await (const resolved of events as AsyncIterable<ResolvedEvent>) {
        const mapped = resolved.event && fromKurrentEvent(this.#target.namespace, resolved.event as KurrentRecorded);
        if (mapped && !this.#chain.deleted(stream, Number(mapped.event.position))) found.push(mapped);
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw this.#unavailable(err);
    }
    return found;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return (await this.#readAll(options)).map((r) => r.event);
  }

  /**
   * $all filtered on the server by stream prefix (`<namespace>.<prefix>`), started where the
   * chain says the first wanted position can be: after the chain record of the append before
   * it (forwards), or at the record of the append after it (backwards). Types and data are
   * filtered here.
   */
  async #readAll(options: ReadAllOptions): Promise<MappedEvent[]> {
    this.#open();
    const after = options.after === undefined ? 0 : parsePosition(options.after);
    const before = options.before === undefined ? Number.MAX_SAFE_INTEGER : parsePosition(options.before);
    const limit = limitOf(options.maxCount);
    const { streamPrefixes: prefixes, types, dataEquals } = options;
    if (limit === 0 || prefixes?.length === 0 || types?.length === 0) return [];
    await this.#followChain();
    const backwards = options.direction === 'backwards';
    const namespace = this.#target.namespace;
    const found: MappedEvent[] = [];
    try {
      const events = this.#client.readAll({
        direction: backwards ? 'backwards' : 'forwards',
        fromPosition: backwards ? this.#chain.startBefore(before) : this.#chain.startAfter(after),
        filter: streamNameFilter({ prefixes: (prefixes ?? ['']).map((p) => kurrentStream(namespace, p)) }),
      });
      for await (const resolved of events as AsyncIterable<AllStreamResolvedEvent>) {
        const mapped = resolved.event && fromKurrentEvent(namespace, resolved.event as KurrentRecorded);
        if (!mapped || this.#chain.deleted(mapped.event.stream, Number(mapped.event.position))) continue;
        const at = Number(mapped.event.position);
        if (backwards ? at <= after : at >= before) break;
        if (backwards ? at >= before : at <= after) continue;
        if (!matchesTypes(mapped.event.type, types) || !matchesData(mapped.event.data, dataEquals)) continue;
        found.push(mapped);
        if (found.length >= limit) break;
      }
    } catch (err) {
      throw this.#unavailable(err);
    }
    return found;
  }

  async countEvents(options: CountEventsOptions = {}): Promise<EventCount> {
    const events = await this.readAll({ ...(options.after !== undefined ? { after: options.after } : {}), ...(options.maxCount !== undefined ? { maxCount: options.maxCount } : {}) });
    const last = events.at(-1);
    return last === undefined ? { count: 0 } : { count: events.length, last: { position: last.position, hash: last.hash } };
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    this.#startWakeUps();
    return catchUp(
      { readAll: (o) => this.readAll(o), headPosition: () => this.headPosition(), notifier: this.notifier, pollIntervalMs: this.pollIntervalMs },
      options,
    );
  }

  /**
   * A catch-up subscription to the chain stream from its end wakes this node's subscribers on
   * every other node's append, as LISTEN/NOTIFY does on PostgreSQL; they read through readAll,
   * so the order and the no-gap, no-duplicate rule are the shared helper's. Polling stays.
   */
  #startWakeUps(): void {
    if (this.#wake || this.#closed) return;
    const subscription = this.#client.subscribeToStream(chainStream(this.#target.namespace), { fromRevision: END });
    subscription.on('data', () => this.notifier.notify());
    subscription.on('error', () => {
      this.#wake = undefined;
    });
    this.#wake = subscription;
  }

  async headPosition(): Promise<Position | undefined> {
    const [last] = await this.readAll({ direction: 'backwards', maxCount: 1 });
    return last?.position;
  }

  async sizeBytes(): Promise<number | undefined> {
    // The server's disk is shared by every namespace and not reported per stream.
    return undefined;
  }

  /**
   * Record the deletion in the chain first (from then on every node's reads leave the stream's
   * events out, $all included, which shows them until the scavenger runs, and the next append
   * chains to the last event left, as on the other stores), then truncate the stream with `$tb`
   * so KurrentDB drops them. A crash in between leaves the truncation to the next deletion of
   * the stream. Retention never deletes the stream holding the store's last event.
   */
  async deleteStream(stream: string): Promise<void> {
    this.#open();
    checkStreamName(stream);
    await this.#followChain();
    const [last] = await this.#readStream(stream, { direction: 'backwards', maxCount: 1 });
    let recorded = false;
    for (let attempt = 0; attempt < ATTEMPTS && !recorded; attempt++) {
      await this.#followChain();
      const head = this.#chain.head;
      const left = await this.#lastEventOutside(stream);
      const record: ChainRecord = { kind: 'deleted', streams: [{ stream, ids: [] }], first: head?.last ?? 0, last: head?.last ?? 0, hash: left?.hash ?? '' };
      recorded = await this.#appendWithChain(head, record, []);
    }
    if (!recorded) throw new StoreUnavailableError(`KurrentDB event store at ${this.#target.where}: the chain kept moving under ${ATTEMPTS} attempts to record a deletion`);
    if (last === undefined) return;
    const name = kurrentStream(this.#target.namespace, stream);
    try {
      const { metadata } = await this.#client.getStreamMetadata(name);
      await this.#client.setStreamMetadata(name, deletionMetadata(metadata ?? {}, Number(last.kurrentRevision)) as Parameters<KurrentDBClient['setStreamMetadata']>[1]);
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  /** The newest event of any other stream: what the chain continues from once `stream` is gone. */
  async #lastEventOutside(stream: string): Promise<RecordedEvent | undefined> {
    let before: Position | undefined;
    for (;;) {
      const page = await this.readAll({ direction: 'backwards', maxCount: 100, ...(before !== undefined ? { before } : {}) });
      const found = page.find((e) => e.stream !== stream);
      if (found !== undefined || page.length < 100) return found;
      before = page.at(-1)!.position;
    }
  }

  async loadCheckpoint(name: string): Promise<Checkpoint | undefined> {
    this.#open();
    try {
      for await (const resolved of this.#client.readStream(checkpointStream(this.#target.namespace, name), { direction: 'backwards', fromRevision: END, maxCount: 1 }) as AsyncIterable<ResolvedEvent>) {
        const data = resolved.event?.data as { position?: string; state?: unknown } | undefined;
        if (data?.position !== undefined) return { position: data.position as Position, state: data.state ?? null };
      }
    } catch (err) {
      if (err instanceof StreamNotFoundError) return undefined;
      throw this.#unavailable(err);
    }
    return undefined;
  }

  async saveCheckpoint(name: string, checkpoint: Checkpoint): Promise<void> {
    this.#open();
    parsePosition(checkpoint.position);
    const stream = checkpointStream(this.#target.namespace, name);
    try {
      const result = await this.#client.appendToStream(stream, {
        id: crypto.randomUUID(),
        contentType: 'application/json',
        type: 'CheckpointSaved',
        data: { position: checkpoint.position, state: checkpoint.state ?? null },
        metadata: undefined,
      } as Parameters<KurrentDBClient['appendToStream']>[1]);
      if (result.nextExpectedRevision === 0n) await this.#client.setStreamMetadata(stream, CHECKPOINT_METADATA as Parameters<KurrentDBClient['setStreamMetadata']>[1]);
    } catch (err) {
      throw this.#unavailable(err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.notifier.close();
    await this.#wake?.unsubscribe().catch(() => undefined);
    await this.#client.dispose().catch(() => undefined);
  }

  #open(): void {
    if (this.#closed) throw new StoreUnavailableError('event store is closed');
  }

  /** Errors of the port and misuse pass; anything else from the client means the server cannot serve us now. */
  #unavailable(err: unknown, what = 'unavailable'): unknown {
    if (err instanceof StoreUnavailableError || err instanceof WrongExpectedRevisionError || err instanceof TypeError) return err;
    const reason = err instanceof Error ? err.message : String(err);
    return new StoreUnavailableError(`KurrentDB event store at ${this.#target.where} ${what}: ${reason}`, { cause: err });
  }
}

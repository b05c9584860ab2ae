// The event store port: EventStoreDB's model (streams, revisions, one global order) for every adapter.
import type { DecisionQuery, SealedBlock, StoredDecision } from '../decision-log/record.js';

/** Where an append expects the stream to be. A number is the revision of the stream's last event. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

export type { Position } from './position.js';
import type { Position } from './position.js';

export interface EventMetadata {
  /** Who caused the event: `admin`, `user:<name>`, `system`, `gateway`. */
  readonly actor?: string;
  readonly correlationId?: string;
  readonly causationId?: string;
  /** Address of the admin (or caller) whose command produced the event. */
  readonly sourceIp?: string;
  readonly [key: string]: unknown;
}

/** An event as a writer hands it to the store. `id` makes appends idempotent. */
export interface NewEvent<T extends string = string, D = unknown> {
  readonly id: string;
  readonly type: T;
  readonly data: D;
  readonly metadata?: EventMetadata;
}

/**
 * A new event whose data and metadata are already their canonical JSON (`canonicalJson` in
 * hash.ts): a writer that serialises events as it records them hands a store the text it keeps
 * and hashes, so nothing is parsed or serialised again on the way in.
 */
export interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

/** An event as the store returns it. */
export interface RecordedEvent<T extends string = string, D = unknown> {
  readonly id: string;
  readonly type: T;
  readonly stream: string;
  /** 0-based index of the event in its stream. */
  readonly revision: number;
  readonly position: Position;
  /** ISO 8601 time at which the store recorded it. */
  readonly time: string;
  readonly data: D;
  readonly metadata: EventMetadata;
  /** Hash of the previous event in global order ('' for the first event). */
  readonly prevHash: string;
  /** sha256 over prevHash and this event's content (see core/store/hash.ts). */
  readonly hash: string;
}

export interface AppendOptions {
  readonly expectedRevision?: ExpectedRevision;
  /**
   * Wait for the write to reach the disk before resolving (fsync). Default true.
   * Access events are appended in batches with `durable: false`.
   */
  readonly durable?: boolean;
}

export interface AppendResult {
  /** Revision of the stream's last event after the append. */
  readonly nextRevision: number;
  /** Position of the last event written; of the last matching stored event when every id was already stored. */
  readonly position: Position;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  readonly direction?: Direction;
  /** Inclusive starting revision. Defaults to the first (forwards) or last (backwards) event. */
  readonly fromRevision?: number;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Omit to start at the beginning. */
  readonly after?: Position;
  /** Exclusive: events strictly before this position. Omit to read up to the head. */
  readonly before?: Position;
  /** `backwards`: newest first (the history views page from the head down). Default forwards. */
  readonly direction?: Direction;
  readonly maxCount?: number;
  /** Only events whose stream name starts with one of these prefixes. */
  readonly streamPrefixes?: readonly string[];
  /** Only events of these types; an empty list matches nothing. */
  readonly types?: readonly string[];
  /** Only events whose data holds this string at this path; adapters filter inside the store where they can. */
  readonly dataEquals?: DataEquals;
}

/** `{ path: ['identity', 'provider'], value: 'gateway' }`: `data.identity.provider === 'gateway'`. */
export interface DataEquals {
  readonly path: readonly string[];
  readonly value: string;
}

/** The filter of {@link ReadAllOptions.dataEquals}, for adapters that apply it in JavaScript. */
export function matchesData(data: unknown, filter: DataEquals | undefined): boolean {
  if (filter === undefined) return true;
  let at: unknown = data;
  for (const key of filter.path) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return false;
    at = (at as Record<string, unknown>)[key];
  }
  return at === filter.value;
}

export interface SubscribeOptions {
  readonly after?: Position;
  readonly streamPrefixes?: readonly string[];
  readonly dataEquals?: DataEquals;
  readonly signal?: AbortSignal;
  /**
   * A filtered subscription has seen every event up to `position`, the last ones matching
   * nothing: a follower waiting for that position (read-your-writes) can stop waiting.
   */
  readonly onSkipped?: (position: Position) => void;
}

/** What {@link EventStore.countEvents} found: how many events, and the last of them. */
export interface EventCount {
  readonly count: number;
  /** The last event counted, by position and hash; absent when none was. */
  readonly last?: { readonly position: Position; readonly hash: string };
}

export interface CountEventsOptions {
  /** Exclusive: count events strictly after this position. Omit to start at the beginning. */
  readonly after?: Position;
  /** Count at most this many (the first ones after `after`). */
  readonly maxCount?: number;
}

/** Projection checkpoints: a snapshot of a projection's state at a position. */
export interface Checkpoint {
  readonly position: Position;
  readonly state: unknown;
}

export interface EventStore {
  /**
   * Append events to one stream atomically.
   * Events whose id is already stored are skipped; when all are, the call succeeds without
   * checking the expected revision (a retried append is a no-op).
   * @throws WrongExpectedRevisionError when the stream is not where `expectedRevision` says.
   */
  append(stream: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult>;

  /** Read one stream. A stream that does not exist yields nothing. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;

  /** Read the global order between exclusive positions, forwards (default) or backwards. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Catch-up subscription: every stored event after `after`, then live events as they are
   * appended, in global order, without gap or duplicate. Ends when `signal` aborts.
   * Appends made by other processes on the same store are seen too (adapters poll).
   */
  subscribe(options?: SubscribeOptions): AsyncIterable<RecordedEvent>;

  /** Position of the last stored event, or undefined for an empty store. */
  headPosition(): Promise<Position | undefined>;

  /**
   * Count stored events in global order after `after`, at most `maxCount`, and name the last one
   * counted, without reading their content: how the checkpoint signer follows the chain's length
   * and head cheaply, a chunk at a time.
   */
  countEvents(options?: CountEventsOptions): Promise<EventCount>;

  /**
   * Bytes the store takes on disk, indexes included (SQLite: the file and its write-ahead log;
   * PostgreSQL: its schema's tables); undefined for a store that keeps nothing on disk.
   */
  sizeBytes(): Promise<number | undefined>;

  /** Delete a whole stream (retention of day-partitioned access streams). */
  deleteStream(stream: string): Promise<void>;

  loadCheckpoint(name: string): Promise<Checkpoint | undefined>;
  saveCheckpoint(name: string, checkpoint: Checkpoint): Promise<void>;

  /** The decision log's blocks and decisions (docs/audit.md). */
  readonly decisions: DecisionLogStore;

  close(): Promise<void>;
}

/**
 * Where the decision log is stored: blocks of decisions, each block one AccessDecisionsRecorded
 * event in the hash chain (core/decision-log/block-event.ts), its decisions kept apart in a
 * compact form and read back as plain records. Deleting an access stream deletes its blocks'
 * decisions with it.
 */
export interface DecisionLogStore {
  /**
   * Store blocks in order: each one's event, in the access stream of its UTC day, and its
   * decisions, all in one transaction (a crash leaves all of them or none; several blocks share
   * the commit's cost). A block whose id is already stored is not stored again. The result is
   * the last block's.
   * @throws TypeError for no block, or one that is not a sealed batch, is empty or spans two UTC days
   */
  appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult>;

  /** Decisions in address order (backwards: newest first), narrowed by the query. */
  read(query?: DecisionQuery): Promise<StoredDecision[]>;
}

/** The stream was not at the revision the append expected. */
export class WrongExpectedRevisionError extends Error {
  readonly code = 'wrong_expected_revision' as const;
  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    /** Revision of the stream's last event, or -1 when the stream does not exist. */
    readonly actual: number,
  ) {
    super(`stream ${stream}: expected revision ${String(expected)}, actual ${actual}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** The store cannot be reached or refused a write (disk full, read-only file, connection lost). */
export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Stream names are short, printable and contain no whitespace. */
export const STREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:$-]{0,199}$/;

// SQLite event store, the embedded default: one file, WAL, serialized appends, the hash chain kept per row.
import { closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

import { systemClock, type Clock } from '../clock.js';
import { hashCanonicalEvent, serializeEvent } from './hash.js';
import {
  StoreUnavailableError,
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type CountEventsOptions,
  type EventCount,
  type DecisionLogStore,
  type EventMetadata,
  type EventStore,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SerializedEvent,
  type SubscribeOptions,
} from './port.js';
import { SCHEMA_VERSION, createSchema, prepareStatements, readAllSql, type EventRow, type ReadAllShape, type Statements } from './sqlite-schema.js';
import { hasDecisionTables } from './sqlite-decision-schema.js';
import { NO_DECISION_LOG, SqliteDecisionLog } from './sqlite-decisions.js';
import { AppendNotifier, catchUp } from './subscription.js';
import { checkExpectedRevision, checkNewEvents, checkStreamName, limitOf, parsePosition, toPosition } from './checks.js';

export interface SqliteStoreOptions {
  /** How often a caught-up subscription looks for appends by other processes. Default 200 ms. */
  readonly pollIntervalMs?: number;
  /** Open an existing store without write access (e.g. `portcullis verify` on a live file). */
  readonly readonly?: boolean;
  /** How long to wait for another writer's lock before failing with StoreUnavailableError. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  readonly clock?: Clock;
}

// Codes (and their extended forms, e.g. SQLITE_IOERR_WRITE) that mean the file cannot be used now.
const UNAVAILABLE = /^SQLITE_(READONLY|FULL|IOERR|CANTOPEN|BUSY|LOCKED|PERM|NOTADB|CORRUPT)(_|$)/;

/** Turn SQLite's environment failures into the port's error, saying what failed on which file; leave everything else as it is. */
function mapError(err: unknown, what: string): unknown {
  if (err instanceof Database.SqliteError && UNAVAILABLE.test(err.code)) {
    return new StoreUnavailableError(`${what}: ${err.message} (${err.code})`, { cause: err });
  }
  return err;
}

/** Opening failed before SQLite was asked (the directory could not be made): the file and the system's code. */
function openError(err: unknown, file: string): unknown {
  if (err instanceof StoreUnavailableError) return err;
  const code = (err as { code?: unknown }).code;
  if (!(err instanceof Database.SqliteError) && typeof code === 'string') {
    return new StoreUnavailableError(`cannot open the event store ${file}: ${code}`, { cause: err });
  }
  return mapError(err, `cannot open the event store ${file}`);
}

/** A new store holds user names and addresses: the file is its owner's only (SQLite gives its -wal and -shm the same mode). */
function createOwnerOnly(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * A read-only connection cannot checkpoint, so SQLite leaves behind the -wal and -shm files it
 * made for it. A brief writable connection closes as the last one normally does and removes them,
 * unless another process has the store open (then the files are that process's and stay).
 */
function removeWalFiles(file: string): void {
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('user_version', { simple: true });
    } finally {
      db.close();
    }
  } catch {
    // Only tidying: the files do no harm, and a store this process cannot write keeps them.
  }
}

/** The insert met an id the store already holds. */
const isDuplicateId = (err: unknown): boolean =>
  err instanceof Database.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE' && err.message.includes('events.id');

export class SqliteEventStore implements EventStore {
  readonly notifier = new AppendNotifier();
  readonly pollIntervalMs: number;
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #readAll = new Map<string, Database.Statement<unknown[], EventRow>>();
  readonly #clock: Clock;
  readonly #appendTx: (stream: string, events: readonly SerializedEvent[], options: AppendOptions) => AppendResult;
  /** One read transaction, so the count and the last event's hash come from the same snapshot. */
  readonly #countTx: (after: number, limit: number) => EventCount;
  readonly #decisionLog: SqliteDecisionLog | undefined;
  readonly decisions: DecisionLogStore;
  #durable = true;
  #closed = false;
  readonly #file: string;
  /** Read-only and no -wal file before: remove the ones this connection made, at close. */
  readonly #tidyOnClose: boolean;

  /**
   * Open (creating the file, mode 0600, and its directories if needed) a store at `file`.
   * @throws StoreUnavailableError naming the file when it cannot be opened (read-only: when it does not exist)
   */
  static open(file: string, options: SqliteStoreOptions = {}): SqliteEventStore {
    let db: Database.Database | undefined;
    try {
      if (options.readonly && !existsSync(file)) {
        throw new StoreUnavailableError(`no event store at ${file} (the file does not exist; check store or PORTCULLIS_STORE)`);
      }
      if (!options.readonly) {
        mkdirSync(dirname(file), { recursive: true });
        createOwnerOnly(file);
      }
      const tidyOnClose = options.readonly === true && !existsSync(`${file}-wal`);
      db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        createSchema(db);
      }
      const version = db.pragma('user_version', { simple: true });
      // A schema 1 store (before the decision log) can still be read, and is upgraded when opened for writing.
      if (version !== SCHEMA_VERSION && !(options.readonly && version === 1)) {
        throw new StoreUnavailableError(`${file} is not a Portcullis event store of schema version ${SCHEMA_VERSION}`);
      }
      return new SqliteEventStore(db, file, tidyOnClose, options);
    } catch (err) {
      db?.close();
      throw openError(err, file);
    }
  }

  private constructor(db: Database.Database, file: string, tidyOnClose: boolean, options: SqliteStoreOptions) {
    this.#db = db;
    this.#file = file;
    this.#tidyOnClose = tidyOnClose;
    this.#sql = prepareStatements(db);
    this.#clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    // Start durable (fsync on every commit); append() switches per call and remembers the setting.
    db.pragma('synchronous = FULL');
    const tx = db.transaction((stream: string, events: readonly SerializedEvent[], opts: AppendOptions, idsAreNew: boolean) =>
      this.#appendInTransaction(stream, events, opts, idsAreNew),
    );
    this.#countTx = db.transaction((after: number, limit: number): EventCount => {
      const { count, last } = this.#sql.countAfter.get(after, limit) ?? { count: 0, last: null };
      const hash = last === null ? undefined : this.#sql.hashAt.get(last)?.hash;
      return count > 0 && last !== null && hash !== undefined ? { count, last: { position: toPosition(last), hash } } : { count: 0 };
    });
    // IMMEDIATE takes the write lock before reading the head, so no other process can slip in between.
    this.#appendTx = (stream, events, opts) => {
      // An append with an expected revision looks its ids up first: a retry of one that was
      // written must succeed again, not fail on the revision it moved.
      if (opts.expectedRevision !== undefined && opts.expectedRevision !== 'any') return tx.immediate(stream, events, opts, false);
      try {
        // Ids are nearly always new: insert at once and let the unique index say otherwise,
        // instead of looking every id up first (a statement per event).
        return tx.immediate(stream, events, opts, true);
      } catch (err) {
        if (!isDuplicateId(err)) throw err;
        // Rolled back. A retried append, or an id stored in another stream: look each one up.
        return tx.immediate(stream, events, opts, false);
      }
    };
    this.#decisionLog = hasDecisionTables(db)
      ? new SqliteDecisionLog(db, {
          appendEvent: (stream, event) => {
            const fresh = this.#sql.byId.get(event.id) === undefined;
            return { result: this.#appendInTransaction(stream, [event], {}, fresh), fresh };
          },
          write: (work) =>
            this.#run(() => {
              // Like access events before them, blocks are not worth an fsync each: a crash loses at
              // most the last commits (whole blocks), never part of one.
              this.#syncOnCommit(false);
              const result = work();
              this.notifier.notify();
              return result;
            }),
          read: (work) => this.#run(work),
        })
      : undefined;
    this.decisions = this.#decisionLog ?? NO_DECISION_LOG;
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendSerialized(stream, events.map(serializeEvent), options);
  }

  /**
   * {@link append} for events whose data and metadata are already canonical JSON text (the
   * caller vouches for it: a text that is not canonical breaks the chain's verification).
   */
  async appendSerialized(stream: string, events: readonly SerializedEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    checkStreamName(stream);
    checkNewEvents(events);
    return this.#run(() => {
      this.#syncOnCommit(options.durable ?? true);
      const result = this.#appendTx(stream, events, options);
      this.notifier.notify();
      return result;
    });
  }

  #appendInTransaction(stream: string, events: readonly SerializedEvent[], options: AppendOptions, idsAreNew: boolean): AppendResult {
    const current = this.#sql.streamHead.get(stream)?.revision ?? -1;
    const { fresh, lastStored } = idsAreNew ? { fresh: events, lastStored: undefined } : this.#unstored(stream, events);
    if (fresh.length === 0 && lastStored !== undefined) {
      return { nextRevision: current, position: toPosition(lastStored.position) };
    }
    checkExpectedRevision(stream, options.expectedRevision ?? 'any', current);

    const time = new Date(this.#clock.now()).toISOString();
    let prevHash = this.#sql.headHash.get()?.hash ?? '';
    let revision = current;
    let position = 0;
    for (const e of fresh) {
      revision += 1;
      const hash = hashCanonicalEvent(prevHash, { id: e.id, type: e.type, stream, revision, time }, e.data, e.metadata);
      const info = this.#sql.insert.run(e.id, stream, revision, e.type, time, e.data, e.metadata, prevHash, hash);
      position = Number(info.lastInsertRowid);
      prevHash = hash;
    }
    return { nextRevision: revision, position: toPosition(position) };
  }

  /** The events whose ids are not stored yet, and the latest stored one of the others (an idempotent retry). */
  #unstored(stream: string, events: readonly SerializedEvent[]): { fresh: SerializedEvent[]; lastStored?: { position: number } } {
    const fresh: SerializedEvent[] = [];
    let lastStored: { revision: number; position: number } | undefined;
    for (const e of events) {
      const stored = this.#sql.byId.get(e.id);
      if (stored === undefined) fresh.push(e);
      else if (stored.stream !== stream) throw new TypeError(`event id ${e.id} is already stored in stream ${stored.stream}`);
      else if (lastStored === undefined || stored.position > lastStored.position) lastStored = stored;
    }
    return lastStored ? { fresh, lastStored } : { fresh };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = sqlLimit(limitOf(options.maxCount));
    return this.#run(() => {
      const rows =
        options.direction === 'backwards'
          ? this.#sql.readBackward.all({ stream, from: options.fromRevision ?? Number.MAX_SAFE_INTEGER, limit })
          : this.#sql.readForward.all({ stream, from: options.fromRevision ?? 0, limit });
      return rows.map(toRecorded);
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after === undefined ? 0 : parsePosition(options.after);
    const before = options.before === undefined ? Number.MAX_SAFE_INTEGER : parsePosition(options.before);
    const limit = sqlLimit(limitOf(options.maxCount));
    const prefixes = options.streamPrefixes ?? [];
    const match = options.dataEquals;
    const types = options.types;
    const params: (number | string)[] = [after, before];
    // substr() counts characters, as [...prefix] does.
    for (const prefix of prefixes) params.push([...prefix].length, prefix);
    if (match) {
      const [last] = match.path.slice(-1);
      // Data is stored as JSON.stringify wrote it (no whitespace), so a match contains this text.
      params.push(last === undefined ? JSON.stringify(match.value) : `${JSON.stringify(last)}:${JSON.stringify(match.value)}`);
      // SQLite's JSON path with quoted labels: any key, dots included.
      params.push(`$${match.path.map((key) => `.${JSON.stringify(key)}`).join('')}`, match.value);
    }
    if (types !== undefined) params.push(...types);
    params.push(limit);
    if (options.streamPrefixes !== undefined && prefixes.length === 0) return [];
    if (types !== undefined && types.length === 0) return [];
    const shape: ReadAllShape = { prefixes: prefixes.length, dataMatch: match !== undefined, types: types?.length, backwards: options.direction === 'backwards' };
    return this.#run(() => this.#readAllStatement(shape).all(...params).map(toRecorded));
  }

  #readAllStatement(shape: ReadAllShape): Database.Statement<unknown[], EventRow> {
    const key = `${shape.prefixes}:${shape.dataMatch}:${shape.types ?? '-'}:${shape.backwards}`;
    let statement = this.#readAll.get(key);
    if (!statement) {
      statement = this.#db.prepare<unknown[], EventRow>(readAllSql(shape));
      this.#readAll.set(key, statement);
    }
    return statement;
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    return catchUp(
      { readAll: (o) => this.readAll(o), headPosition: () => this.headPosition(), notifier: this.notifier, pollIntervalMs: this.pollIntervalMs },
      options,
    );
  }

  async sizeBytes(): Promise<number | undefined> {
    // The write-ahead log holds committed events not yet copied into the file: they take disk too.
    const size = (path: string): number => statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    return size(this.#file) + size(`${this.#file}-wal`);
  }

  async headPosition(): Promise<Position | undefined> {
    return this.#run(() => {
      const head = this.#sql.headPosition.get()?.position;
      return head === null || head === undefined ? undefined : toPosition(head);
    });
  }

  async countEvents(options: CountEventsOptions = {}): Promise<EventCount> {
    const after = options.after === undefined ? 0 : parsePosition(options.after);
    const limit = sqlLimit(limitOf(options.maxCount));
    return this.#run(() => this.#countTx(after, limit));
  }

  async deleteStream(stream: string): Promise<void> {
    this.#run(() =>
      this.#db.transaction(() => {
        this.#decisionLog?.deleteBlocksOf(stream);
        this.#sql.deleteStream.run(stream);
      }).immediate(),
    );
  }

  async loadCheckpoint(name: string): Promise<Checkpoint | undefined> {
    return this.#run(() => {
      const row = this.#sql.loadCheckpoint.get(name);
      return row === undefined ? undefined : { position: toPosition(row.position), state: JSON.parse(row.state) as unknown };
    });
  }

  async saveCheckpoint(name: string, checkpoint: Checkpoint): Promise<void> {
    const position = parsePosition(checkpoint.position);
    const state = JSON.stringify(checkpoint.state ?? null);
    this.#run(() => {
      // A checkpoint is a shortcut: one lost in a crash costs a longer replay, never an event, so
      // it is not worth an fsync on the event loop of a busy gateway.
      this.#syncOnCommit(false);
      this.#sql.saveCheckpoint.run({ name, position, state });
    });
  }

  /** fsync at the next commit (synchronous FULL) or leave it to WAL checkpoints (NORMAL). */
  #syncOnCommit(durable: boolean): void {
    // The pragma cannot change inside a transaction, so it is set just before one.
    if (durable === this.#durable) return;
    this.#db.pragma(`synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
    this.#durable = durable;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.notifier.close();
    this.#db.close();
    if (this.#tidyOnClose) removeWalFiles(this.#file);
  }

  #run<T>(work: () => T): T {
    if (this.#closed) throw new StoreUnavailableError('event store is closed');
    try {
      return work();
    } catch (err) {
      throw mapError(err, `event store ${this.#file} unavailable`);
    }
  }
}

/** SQLite reads LIMIT -1 as "no limit". */
function sqlLimit(limit: number): number {
  return Number.isFinite(limit) ? limit : -1;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    type: row.type,
    stream: row.stream,
    revision: row.revision,
    position: toPosition(row.position),
    time: row.time,
    data: JSON.parse(row.data) as unknown,
    metadata: JSON.parse(row.metadata) as EventMetadata,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

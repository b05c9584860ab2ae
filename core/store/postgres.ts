// PostgreSQL event store, for several nodes: appends take turns on the chain head, so positions commit in order and the chain stays one.
import pg from 'pg';

import type { Clock } from '../clock.js';
import { checkExpectedRevision, checkNewEvents, checkStreamName, limitOf, parsePosition } from './checks.js';
import { hashCanonicalEvent, serializeEvent, canonicalJson } from './hash.js';
import { HistoryImportError, type BlockDecisions, type HistoryImport } from './import.js';
import { mapPostgresError } from './postgres-errors.js';
import { AppendListener } from './postgres-listener.js';
import { checkSchema, migrateSchema, quoteIdent } from './postgres-schema.js';
import { daysOf, insertDecisions, PostgresDecisionLog, type BlockRows } from './postgres-decisions.js';
import { accessStreamDay, DecisionPartitions } from './postgres-partitions.js';
import { BLOCK_EVENT, type DecisionRecord } from '../decision-log/record.js';
import { addRow, emptyRows, statements, toRecorded, type EventRow, type Rows, type Statements } from './postgres-sql.js';
import { parsePostgresUrl, type PostgresTarget } from './postgres-url.js';
import {
  StoreUnavailableError,
  type AppendOptions,
  type AppendResult,
  type Checkpoint,
  type CountEventsOptions,
  type DecisionLogStore,
  type ExpectedRevision,
  type EventCount,
  type EventStore,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SerializedEvent,
  type SubscribeOptions,
} from './port.js';
import { AppendNotifier, catchUp } from './subscription.js';

export interface PostgresStoreOptions {
  /** Open an existing store without writing (`portcullis verify`): nothing is created, every transaction is read-only. */
  readonly readonly?: boolean;
  /** How often a caught-up subscription reads anyway, should a notification be lost. Default 500 ms. */
  readonly pollIntervalMs?: number;
  /** LISTEN for other nodes' appends. Default true. */
  readonly listen?: boolean;
  /** Wait before the LISTEN connection is tried again after it failed. Default 1000 ms. */
  readonly listenRetryMs?: number;
  /** How long an append waits for the chain head before failing with StoreUnavailableError. Default 5000 ms. */
  readonly lockTimeoutMs?: number;
  /** Stamp events with this clock; by default the database's, one clock for every node. */
  readonly clock?: Clock;
}

/** The last position handed out and the hash the next event chains to. */
interface ChainHead {
  readonly position: bigint;
  readonly hash: string;
}

/**
 * Ordering: a writer locks the single row of `chain_head` before anything else and holds it to
 * its commit, taking its positions from it. PostgreSQL makes a transaction visible before it
 * releases its locks (CommitTransaction: "ProcArrayEndTransaction … must be done _before_
 * releasing locks"), so whoever sees an event sees every event before it: readers and
 * subscriptions read `position > after` and can neither skip nor repeat. The same lock makes
 * the hash chain one chain. docs/deployment.md says why this and not an xid8 horizon.
 */
export class PostgresEventStore implements EventStore, HistoryImport {
  readonly notifier = new AppendNotifier();
  readonly pollIntervalMs: number;
  readonly #pool: pg.Pool;
  readonly #target: PostgresTarget;
  readonly #sql: Statements;
  readonly #readAll = new Map<string, string>();
  readonly #clock: Clock | undefined;
  readonly #listener: AppendListener | undefined;
  /** The quoted schema. */
  readonly #schema: string;
  /** Blocks of decisions: each block's event in the chain, its decisions as rows beside it. */
  readonly decisions: DecisionLogStore;
  /** The decision log's day partitions this node knows of. */
  readonly #partitions: DecisionPartitions;
  #closed = false;

  /**
   * Connect, then create or migrate the schema (read-only: check it is there and current).
   * @throws TypeError for a malformed URL or option; StoreUnavailableError naming host, port and database (never the password) when it cannot be opened
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresEventStore> {
    const target = parsePostgresUrl(url);
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      max: target.poolSize,
      connectionTimeoutMillis: target.connectTimeoutMs,
      // Names the schema, so an operator can tell each store's connections apart in pg_stat_activity.
      application_name: `portcullis ${target.schema}`,
      lock_timeout: options.lockTimeoutMs ?? 5000,
      // A node that hangs inside an append must not hold every other node's appends for long.
      idle_in_transaction_session_timeout: 60_000,
    });
    // An idle connection that dies (a server restart) is dropped from the pool; the next use connects anew.
    pool.on('error', () => undefined);
    if (options.readonly) pool.on('connect', (client) => void client.query('SET default_transaction_read_only = on').catch(() => undefined));
    try {
      const client = await pool.connect();
      // See #underChainLock: a connection lost between the migration's statements must not end the process.
      const lost = (): void => undefined;
      client.on('error', lost);
      try {
        if (options.readonly) await checkSchema(client, target.schema, target.where);
        else await migrateSchema(client, target.schema, target.where);
      } finally {
        client.off('error', lost);
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw openError(err, target.where);
    }
    return new PostgresEventStore(pool, target, options);
  }

  private constructor(pool: pg.Pool, target: PostgresTarget, options: PostgresStoreOptions) {
    this.#pool = pool;
    this.#target = target;
    this.#sql = statements(target.schema);
    this.#schema = quoteIdent(target.schema);
    this.#clock = options.clock;
    this.#partitions = new DecisionPartitions(this.#schema);
    this.decisions = new PostgresDecisionLog({
      schema: this.#schema,
      query: (sql, params) => this.#query(sql, params),
      inChainTransaction: async (work) => {
        const done = await this.#underChainLock(false, async (client, head) => {
          let at = head;
          return work(client, async (stream, event) => {
            checkStreamName(stream);
            const appended = await this.#appendIn(client, at, stream, [serializeEvent(event)], 'any');
            at = appended.head;
            return appended;
          });
        });
        this.notifier.notify();
        return done;
      },
    }, this.#partitions);
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    if (options.listen ?? true) {
      this.#listener = new AppendListener({
        connect: () =>
          new pg.Client({
            connectionString: target.connectionString,
            connectionTimeoutMillis: target.connectTimeoutMs,
            application_name: `portcullis listen ${target.schema}`,
          }),
        channel: channelOf(target.schema),
        onWake: () => this.notifier.notify(),
        ...(options.listenRetryMs !== undefined ? { retryMs: options.listenRetryMs } : {}),
      });
    }
  }

  /** The schema and where it lives (`host:port/database`), for messages. */
  get where(): string {
    return `schema ${this.#target.schema} at ${this.#target.where}`;
  }

  /** True while the LISTEN connection is up (it is opened by the first subscription). */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendSerialized(stream, events.map(serializeEvent), options);
  }

  /**
   * {@link append} for events whose data and metadata are already canonical JSON text (the
   * audit writer's). The decision log appends its blocks here too.
   */
  async appendSerialized(stream: string, events: readonly SerializedEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    checkStreamName(stream);
    checkNewEvents(events);
    const { result } = await this.#underChainLock(options.durable ?? true, (client, head) =>
      this.#appendIn(client, head, stream, events, options.expectedRevision ?? 'any'),
    );
    this.notifier.notify();
    return result;
  }

  /**
   * Append inside a transaction that holds the chain lock, from `head`; answers the result, the
   * head after it, and whether anything was stored (false: every id was stored already).
   */
  async #appendIn(
    client: pg.PoolClient,
    head: ChainHead,
    stream: string,
    events: readonly SerializedEvent[],
    expected: ExpectedRevision,
  ): Promise<{ result: AppendResult; head: ChainHead; fresh: boolean }> {
    const state = await client.query<{ revision: number | null; stored: { id: string; stream: string; position: string }[]; now: string }>(
      this.#sql.streamState,
      [stream, events.map((e) => e.id)],
    );
    const { revision, stored, now } = state.rows[0]!;
    const current = revision ?? -1;
    const storedIds = new Map(stored.map((s) => [s.id, s]));
    let lastStored: string | undefined;
    for (const s of stored) {
      if (s.stream !== stream) throw new TypeError(`event id ${s.id} is already stored in stream ${s.stream}`);
      if (lastStored === undefined || BigInt(s.position) > BigInt(lastStored)) lastStored = s.position;
    }
    const fresh = events.filter((e) => !storedIds.has(e.id));
    // A retried append: every id is stored, so it already happened.
    if (fresh.length === 0 && lastStored !== undefined) return { result: { nextRevision: current, position: lastStored as Position }, head, fresh: false };
    checkExpectedRevision(stream, expected, current);

    const time = this.#clock ? new Date(this.#clock.now()).toISOString() : now;
    const rows = emptyRows();
    let prevHash = head.hash;
    let position = head.position;
    let next = current;
    for (const e of fresh) {
      next += 1;
      position += 1n;
      const hash = hashCanonicalEvent(prevHash, { id: e.id, type: e.type, stream, revision: next, time }, e.data, e.metadata);
      addRow(rows, { position: String(position), id: e.id, stream, revision: next, type: e.type, time, data: e.data, metadata: e.metadata, prevHash, hash });
      prevHash = hash;
    }
    await this.#insert(client, rows);
    return { result: { nextRevision: next, position: String(position) as Position }, head: { position, hash: prevHash }, fresh: true };
  }

  /** {@link HistoryImport.importRecorded}: one transaction, each event checked against the chain before it is written. */
  async importRecorded(events: readonly RecordedEvent[], decisionsOf?: BlockDecisions): Promise<void> {
    if (events.length === 0) return;
    // The decisions of every block in the page, read from the source before the transaction starts.
    const blockDecisions = new Map<string, readonly DecisionRecord[]>();
    if (decisionsOf) for (const e of events) if (e.type === BLOCK_EVENT) blockDecisions.set(e.id, await decisionsOf(e));
    await this.#underChainLock(true, async (client, head) => {
      const taken = await client.query<{ id: string }>(this.#sql.storedIds, [events.map((e) => e.id)]);
      const clash = taken.rows[0]?.id;
      if (clash !== undefined) {
        const e = events.find((x) => x.id === clash)!;
        throw new HistoryImportError(`event ${clash} is already stored in ${this.where}`, e.position);
      }
      const rows = emptyRows();
      let prevHash = head.hash;
      let position = head.position;
      for (const e of events) {
        checkStreamName(e.stream);
        if (e.prevHash !== prevHash) {
          throw new HistoryImportError(`event ${e.id} does not continue the chain: its prevHash is not the hash of the event before it`, e.position);
        }
        const data = canonicalJson(e.data);
        const metadata = canonicalJson(e.metadata);
        if (hashCanonicalEvent(e.prevHash, e, data, metadata) !== e.hash) {
          throw new HistoryImportError(`event ${e.id} does not match its hash`, e.position);
        }
        position += 1n;
        addRow(rows, { position: String(position), id: e.id, stream: e.stream, revision: e.revision, type: e.type, time: e.time, data, metadata, prevHash, hash: e.hash });
        prevHash = e.hash;
      }
      await this.#insert(client, rows);
      const blocks: BlockRows[] = [];
      for (const [i, e] of events.entries()) {
        const decisions = blockDecisions.get(e.id);
        if (decisions) blocks.push({ position: rows.positions[i]!, stream: e.stream, decisions });
      }
      await this.#partitions.ensure(client, daysOf(blocks));
      await insertDecisions(client, this.#schema, blocks);
    }).catch((err: unknown) => {
      this.#partitions.forget();
      throw err;
    });
    this.notifier.notify();
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const limit = sqlLimit(limitOf(options.maxCount));
    const rows =
      options.direction === 'backwards'
        ? await this.#query<EventRow>(this.#sql.readBackward, [stream, options.fromRevision ?? 2_147_483_647, limit])
        : await this.#query<EventRow>(this.#sql.readForward, [stream, options.fromRevision ?? 0, limit]);
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const after = options.after === undefined ? '0' : String(parsePosition(options.after));
    const before = options.before === undefined ? MAX_POSITION : String(parsePosition(options.before));
    const limit = sqlLimit(limitOf(options.maxCount));
    const { streamPrefixes: prefixes, types, dataEquals: match } = options;
    if (prefixes !== undefined && prefixes.length === 0) return [];
    if (types !== undefined && types.length === 0) return [];
    const params: unknown[] = [after, before, limit];
    if (prefixes !== undefined) params.push(prefixes);
    if (types !== undefined) params.push(types);
    if (match) {
      const [last] = match.path.slice(-1);
      params.push(last === undefined ? JSON.stringify(match.value) : `${JSON.stringify(last)}:${JSON.stringify(match.value)}`, match.path, match.value);
    }
    const shape = { prefixes: prefixes !== undefined, types: types !== undefined, dataMatch: match !== undefined, backwards: options.direction === 'backwards' };
    const key = `${shape.prefixes}:${shape.types}:${shape.dataMatch}:${shape.backwards}`;
    let sql = this.#readAll.get(key);
    if (sql === undefined) {
      sql = this.#sql.readAll(shape);
      this.#readAll.set(key, sql);
    }
    return (await this.#query<EventRow>(sql, params)).map(toRecorded);
  }

  async countEvents(options: CountEventsOptions = {}): Promise<EventCount> {
    const after = options.after === undefined ? '0' : String(parsePosition(options.after));
    const limit = sqlLimit(limitOf(options.maxCount));
    const [row] = await this.#query<{ count: number; last: string | null; hash: string | null }>(this.#sql.countAfter, [after, limit]);
    if (!row || row.count === 0 || row.last === null || row.hash === null) return { count: 0 };
    return { count: row.count, last: { position: row.last as Position, hash: row.hash } };
  }

  subscribe(options: SubscribeOptions = {}): AsyncIterable<RecordedEvent> {
    this.#listener?.start();
    return catchUp(
      { readAll: (o) => this.readAll(o), headPosition: () => this.headPosition(), notifier: this.notifier, pollIntervalMs: this.pollIntervalMs },
      options,
    );
  }

  async sizeBytes(): Promise<number | undefined> {
    const [row] = await this.#query<{ bytes: string }>(
      `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [this.#target.schema],
    );
    return Number(row?.bytes ?? 0);
  }

  async headPosition(): Promise<Position | undefined> {
    const [row] = await this.#query<{ position: string | null }>(this.#sql.headPosition, []);
    return row?.position == null ? undefined : (row.position as Position);
  }

  async deleteStream(stream: string): Promise<void> {
    // Under the chain head's lock: an append in flight must not take a deleted event as its predecessor.
    await this.#underChainLock(true, async (client) => {
      // A day's access stream takes its partition of decisions with it, dropped whole rather
      // than deleted row by row (its rows are all of that stream's blocks: insertDecisions).
      const day = accessStreamDay(stream);
      if (day !== undefined) await this.#partitions.drop(client, day);
      await client.query(this.#sql.deleteStream, [stream]);
      await client.query(this.#sql.resetHeadHash);
    });
  }

  async loadCheckpoint(name: string): Promise<Checkpoint | undefined> {
    const [row] = await this.#query<{ position: string; state: string }>(this.#sql.loadCheckpoint, [name]);
    return row === undefined ? undefined : { position: row.position as Position, state: JSON.parse(row.state) as unknown };
  }

  async saveCheckpoint(name: string, checkpoint: Checkpoint): Promise<void> {
    const position = parsePosition(checkpoint.position);
    await this.#query(this.#sql.saveCheckpoint, [name, position, JSON.stringify(checkpoint.state ?? null)]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.notifier.close();
    await this.#listener?.close();
    await this.#pool.end().catch(() => undefined);
  }

  async #insert(client: pg.PoolClient, rows: Rows): Promise<void> {
    const last = rows.positions.length - 1;
    await client.query(this.#sql.insert, [
      rows.positions, rows.ids, rows.streams, rows.revisions, rows.types, rows.times, rows.data, rows.metadata, rows.prevHashes, rows.hashes,
      rows.positions[last], rows.hashes[last], channelOf(this.#target.schema),
    ]);
  }

  async #query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    this.#open();
    try {
      return (await this.#pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw mapPostgresError(err, this.#target.where);
    }
  }

  /**
   * Run `work` in a transaction that holds the chain head's row lock from its first statement to
   * its commit; `durable: false` commits without waiting for the WAL to reach the disk.
   */
  async #underChainLock<T>(durable: boolean, work: (client: pg.PoolClient, head: ChainHead) => Promise<T>): Promise<T> {
    this.#open();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw mapPostgresError(err, this.#target.where);
    }
    let broken: Error | undefined;
    // A connection lost between two statements is an 'error' event on the checked-out client, not a
    // rejected query (pg-pool listens only on idle clients and inside pool.query); unheard, it would
    // end the process. Heard, the next statement fails and the client is not given back.
    const lost = (err: Error): void => void (broken ??= err);
    client.on('error', lost);
    try {
      // One round trip (no parameters, so several statements may share it): the lock is taken at once.
      const begun = (await client.query(`${durable ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit = off'}; ${this.#sql.lockHead}`)) as unknown as pg.QueryResult[];
      const row = begun.at(-1)?.rows[0] as { position: string; hash: string } | undefined;
      if (row === undefined) throw new StoreUnavailableError(`the chain head of the event store in ${this.where} is missing`);
      const result = await work(client, { position: BigInt(row.position), hash: row.hash });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e instanceof Error ? e : new Error(String(e))));
      throw mapPostgresError(err, this.#target.where);
    } finally {
      if (broken === undefined) client.off('error', lost);
      client.release(broken);
    }
  }

  #open(): void {
    if (this.#closed) throw new StoreUnavailableError('event store is closed');
  }
}

/** The NOTIFY channel of a schema's store (an identifier: the schema name is at most 48 characters). */
export function channelOf(schema: string): string {
  return `${schema}.appended`;
}

/** Above every position a store hands out (bigint): `before` when none is given. */
const MAX_POSITION = '9223372036854775807';

/** PostgreSQL reads LIMIT NULL as "no limit". */
function sqlLimit(limit: number): number | null {
  return Number.isFinite(limit) ? limit : null;
}

/** Opening failed: whatever the reason, it is the operator's to fix, so it is said in one line naming the server. */
function openError(err: unknown, where: string): unknown {
  const mapped = mapPostgresError(err, where, 'cannot be opened');
  if (mapped instanceof StoreUnavailableError || mapped instanceof TypeError) return mapped;
  const e = mapped as { message?: unknown; code?: unknown };
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  return new StoreUnavailableError(`PostgreSQL event store at ${where} cannot be opened: ${String(e.message)}${code}`, { cause: err });
}

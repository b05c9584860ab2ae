// The decision log in the SQLite store: a block's event and its decision rows in one transaction, and reads that resolve them back.
import type Database from 'better-sqlite3';

import { BatchView } from '../decision-log/batch-view.js';
import { blockEvent } from '../decision-log/block-event.js';
import { BLOCK_EVENT, MAX_BLOCK_DECISIONS, addressKey, type DecisionQuery, type SealedBlock, type StoredDecision } from '../decision-log/record.js';
import { limitOf, parsePosition } from './checks.js';
import { serializeEvent } from './hash.js';
import { StoreUnavailableError, type AppendResult, type DecisionLogStore, type SerializedEvent } from './port.js';
import { prepareDecisionStatements, readDecisionsSql, type DecisionReadRow, type DecisionStatements, type ReadShape } from './sqlite-decision-schema.js';
import { DecisionRowReader } from './sqlite-decision-read.js';
import { DecisionRowWriter } from './sqlite-decision-rows.js';
import { SqliteStrings } from './sqlite-strings.js';

/** What the event store lends the decision log: its chain, inside the block's transaction, and its error handling. */
export interface BlockHost {
  /** Inside a transaction: append the block's event unless its id is stored; `fresh` when it was appended now. */
  appendEvent(stream: string, event: SerializedEvent): { result: AppendResult; fresh: boolean };
  /** Run a write (an IMMEDIATE transaction around `work`, committed without fsync), mapping errors as every store call does. */
  write<T>(work: () => T): T;
  /** Run a read, mapping errors likewise. */
  read<T>(work: () => T): T;
}

const NO_ADDRESS = Number.MAX_SAFE_INTEGER;

export class SqliteDecisionLog implements DecisionLogStore {
  readonly #db: Database.Database;
  readonly #sql: DecisionStatements;
  readonly #strings: SqliteStrings;
  readonly #host: BlockHost;
  readonly #reads = new Map<string, Database.Statement<unknown[], DecisionReadRow>>();
  readonly #appendTx: (blocks: readonly { stream: string; event: SerializedEvent; view: BatchView }[]) => AppendResult;
  readonly #rows: DecisionRowWriter;
  readonly #reader: DecisionRowReader;

  constructor(db: Database.Database, host: BlockHost) {
    this.#db = db;
    this.#host = host;
    this.#sql = prepareDecisionStatements(db);
    this.#strings = new SqliteStrings(this.#sql);
    this.#rows = new DecisionRowWriter(this.#sql, this.#strings);
    this.#reader = new DecisionRowReader(this.#strings);
    const tx = db.transaction((blocks: readonly { stream: string; event: SerializedEvent; view: BatchView }[]) => {
      let last: AppendResult | undefined;
      for (const { stream, event, view } of blocks) {
        const { result, fresh } = host.appendEvent(stream, event);
        if (fresh) this.#rows.insert(Number(result.position), view);
        last = result;
      }
      return last!;
    });
    this.#appendTx = (blocks) => tx.immediate(blocks);
  }

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (blocks.length === 0) throw new TypeError('appendBlocks needs at least one block');
    const prepared = blocks.map(({ id, batch }) => {
      const view = new BatchView(batch);
      const { stream, event } = blockEvent(id, view);
      return { stream, event: serializeEvent(event), view };
    });
    return this.#host.write(() => {
      let committed = false;
      try {
        const result = this.#appendTx(prepared);
        committed = true;
        return result;
      } finally {
        this.#strings.settle(committed);
      }
    });
  }

  async read(query: DecisionQuery = {}): Promise<StoredDecision[]> {
    const limit = limitOf(query.limit);
    return this.#host.read(() => {
      const bounds = this.#addressBounds(query);
      if (bounds === undefined || limit === 0) return [];
      const params: (number | string)[] = [bounds.lo, bounds.hi];
      const time = query.from !== undefined || query.to !== undefined;
      if (time) params.push(query.from ?? -NO_ADDRESS, query.to ?? NO_ADDRESS);
      for (const text of [query.username, query.tokenId, query.provider]) {
        if (text === undefined) continue;
        const id = this.#strings.find(text);
        if (id === undefined) return [];
        params.push(id);
      }
      params.push(Number.isFinite(limit) ? limit : -1);
      const shape: ReadShape = {
        time,
        username: query.username !== undefined,
        token: query.tokenId !== undefined,
        provider: query.provider !== undefined,
        backwards: query.direction === 'backwards',
      };
      return this.#statement(shape).all(...params).map((row) => this.#reader.read(row));
    });
  }

  /** Delete the decisions of an access stream's blocks (inside the caller's transaction). */
  deleteBlocksOf(stream: string): void {
    for (const position of this.#sql.blocksOfStream.all(stream, BLOCK_EVENT)) {
      const lo = addressKey(position, 0);
      this.#sql.deleteRange.run(lo, lo + MAX_BLOCK_DECISIONS - 1);
      this.#sql.deleteBlock.run(position);
    }
  }

  /** The address range a query can touch, or undefined when it touches none. */
  #addressBounds(query: DecisionQuery): { lo: number; hi: number } | undefined {
    let lo = 0;
    let hi = NO_ADDRESS;
    if (query.block !== undefined) {
      lo = addressKey(parsePosition(query.block), 0);
      hi = lo + MAX_BLOCK_DECISIONS - 1;
    }
    if (query.from !== undefined) {
      const block = this.#sql.lowestBlockFrom.get(query.from);
      if (block === null || block === undefined) return undefined;
      lo = Math.max(lo, addressKey(block, 0));
    }
    if (query.to !== undefined) {
      const block = this.#sql.highestBlockBefore.get(query.to);
      if (block === null || block === undefined) return undefined;
      hi = Math.min(hi, addressKey(block, MAX_BLOCK_DECISIONS - 1));
    }
    if (query.after !== undefined) {
      const key = addressKey(parsePosition(query.after.block), query.after.index);
      if (query.direction === 'backwards') hi = Math.min(hi, key - 1);
      else lo = Math.max(lo, key + 1);
    }
    return lo <= hi ? { lo, hi } : undefined;
  }

  #statement(shape: ReadShape): Database.Statement<unknown[], DecisionReadRow> {
    const key = `${+shape.time}${+shape.username}${+shape.token}${+shape.provider}${+shape.backwards}`;
    let statement = this.#reads.get(key);
    if (!statement) {
      statement = this.#db.prepare<unknown[], DecisionReadRow>(readDecisionsSql(shape)).raw(true);
      this.#reads.set(key, statement);
    }
    return statement;
  }
}

/** The decision log of a schema 1 store opened read-only: it has no decisions, and takes none. */
export const NO_DECISION_LOG: DecisionLogStore = {
  appendBlocks: () => Promise.reject(new StoreUnavailableError('this store predates the decision log and is open read-only')),
  read: () => Promise.resolve([]),
};

// The decision log in the SQLite store: a block's event and its decision rows in one transaction, and reads that resolve them back.
import type Database from 'better-sqlite3';

import { BatchView, Own } from '../decision-log/batch-view.js';
import { blockEvent } from '../decision-log/block-event.js';
import { Packer, unpackIp, unpackRequestId } from '../decision-log/compact.js';
import {
  BLOCK_EVENT,
  MAX_BLOCK_DECISIONS,
  addressKey,
  type DecisionQuery,
  type DecisionRecord,
  type SealedBlock,
  type StoredDecision,
  type TraceOutcome,
  type TraceStep,
} from '../decision-log/record.js';
import { limitOf, parsePosition, toPosition } from './checks.js';
import { serializeEvent } from './hash.js';
import { StoreUnavailableError, type AppendResult, type DecisionLogStore, type SerializedEvent } from './port.js';
import { prepareDecisionStatements, readDecisionsSql, type DecisionRow, type DecisionStatements, type ReadShape } from './sqlite-decision-schema.js';
import { DetailWriter, readDetail } from './sqlite-decision-detail.js';
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

const OUTCOMES: readonly (TraceOutcome | undefined)[] = [undefined, 'pass', 'allow', 'deny'];
const NO_ADDRESS = Number.MAX_SAFE_INTEGER;

export class SqliteDecisionLog implements DecisionLogStore {
  readonly #db: Database.Database;
  readonly #sql: DecisionStatements;
  readonly #strings: SqliteStrings;
  readonly #host: BlockHost;
  readonly #reads = new Map<string, Database.Statement<unknown[], DecisionRow>>();
  readonly #appendTx: (blocks: readonly { stream: string; event: SerializedEvent; view: BatchView }[]) => AppendResult;
  /** One per packed column of a row: each binds its own scratch buffer. */
  readonly #packers = { clientIp: new Packer(), peerIp: new Packer(), requestId: new Packer() };
  readonly #details = new DetailWriter();
  /** Interned stage lists and group lists (JSON arrays) parsed, by string id; bounded like the strings' cache. */
  readonly #stageLists = new Map<number, readonly string[]>();
  readonly #groupLists = new Map<number, readonly string[]>();
  readonly #traces = new Map<string, readonly TraceStep[]>();

  constructor(db: Database.Database, host: BlockHost) {
    this.#db = db;
    this.#host = host;
    this.#sql = prepareDecisionStatements(db);
    this.#strings = new SqliteStrings(this.#sql);
    const tx = db.transaction((blocks: readonly { stream: string; event: SerializedEvent; view: BatchView }[]) => {
      let last: AppendResult | undefined;
      for (const { stream, event, view } of blocks) {
        const { result, fresh } = host.appendEvent(stream, event);
        if (fresh) this.#insertRows(Number(result.position), view);
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
      return this.#statement(shape).all(...params).map((row) => this.#toStored(row));
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

  /**
   * A block's rows, read straight from its sealed batch: each string the batch interned is
   * looked up in the store once per block, and no object is built per decision.
   */
  #insertRows(position: number, view: BatchView): void {
    const ids = new Map<number, number>();
    const id = (ref: number): number => {
      let stored = ids.get(ref);
      if (stored === undefined) ids.set(ref, (stored = this.#strings.intern(view.text(ref))));
      return stored;
    };
    const { clientIp, peerIp, requestId } = this.#packers;
    // Decisions that went the same way through the stages share the id of their stage list;
    // most follow one that did, so the list is looked up only when it changes.
    const stageLists = new Map<string, number>();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    let previous = -1;
    let trace = 0;
    for (let i = 0; i < view.count; i++) {
      const time = view.time(i);
      if (previous < 0 || !view.sameStages(i, previous)) trace = this.#stageListId(view, i, stageLists);
      previous = i;
      const subject = view.subject(i);
      const client = view.ownRange(i, Own.ClientIp);
      const peer = view.ownRange(i, Own.PeerIp);
      const samePeer = view.bytes.compare(view.bytes, client[0], client[1], peer[0], peer[1]) === 0;
      this.#sql.insert.run(
        addressKey(position, i),
        time,
        subject !== 0 ? id(view.username(i)) : null,
        subject !== 0 && view.token(i) !== 0 ? id(view.token(i)) : null,
        subject !== 0 ? id(view.provider(i)) : null,
        view.allow(i) ? 1 : 0,
        view.status(i),
        id(view.reason(i)),
        id(view.method(i)),
        view.own(i, Own.Path),
        clientIp.ip(view.own(i, Own.ClientIp)),
        this.#details.write(
          view.credential(i),
          id(view.host(i)),
          id(view.stage(i)),
          trace,
          view.outcomes(i),
          subject !== 0 ? id(subject) : 0,
          subject !== 0 ? id(view.groups(i)) : 0,
          requestId.requestId(view.own(i, Own.RequestId)),
          samePeer ? undefined : peerIp.ip(view.own(i, Own.PeerIp)),
        ),
      );
      if (time < first) first = time;
      if (time > last) last = time;
    }
    this.#sql.insertBlock.run(position, first, last, view.count);
  }

  #stageListId(view: BatchView, i: number, known: Map<string, number>): number {
    const names: string[] = [];
    for (let k = 0; k < view.steps(i); k++) names.push(view.text(view.stageOfStep(i, k)));
    const text = JSON.stringify(names);
    let id = known.get(text);
    if (id === undefined) known.set(text, (id = this.#strings.intern(text)));
    return id;
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

  #statement(shape: ReadShape): Database.Statement<unknown[], DecisionRow> {
    const key = `${+shape.time}${+shape.username}${+shape.token}${+shape.provider}${+shape.backwards}`;
    let statement = this.#reads.get(key);
    if (!statement) {
      statement = this.#db.prepare<unknown[], DecisionRow>(readDecisionsSql(shape)).raw(true);
      this.#reads.set(key, statement);
    }
    return statement;
  }

  #toStored(row: DecisionRow): StoredDecision {
    const [address, time, username, token, provider, allow, status, reason, method, path, clientIp, packed] = row;
    const text = (id: number): string => this.#strings.text(id);
    const detail = readDetail(packed);
    const client = unpackIp(clientIp);
    const decision: DecisionRecord = {
      time,
      requestId: unpackRequestId(detail.requestId),
      method: text(method),
      host: text(detail.host),
      path,
      clientIp: client,
      peerIp: detail.peerIp === undefined ? client : unpackIp(detail.peerIp),
      ...(detail.credential !== undefined ? { credential: detail.credential } : {}),
      allow: allow === 1,
      status,
      reason: text(reason),
      stage: text(detail.stage),
      ...(detail.subject !== undefined
        ? {
            identity: {
              subject: text(detail.subject),
              username: text(username!),
              provider: text(provider!),
              groups: this.#list(this.#groupLists, detail.groups!, (t) => JSON.parse(t) as string[]),
              ...(token !== null ? { tokenId: text(token) } : {}),
            },
          }
        : {}),
      trace: this.#trace(detail.trace, detail.outcomes),
    };
    const block = Math.floor(address / MAX_BLOCK_DECISIONS);
    return { block: toPosition(block), index: address - block * MAX_BLOCK_DECISIONS, decision };
  }

  /** Decisions with the same stages and outcomes share one trace array. */
  #trace(stageList: number, outcomes: number): readonly TraceStep[] {
    const key = `${stageList}:${outcomes}`;
    let steps = this.#traces.get(key);
    if (steps === undefined) {
      const stages = this.#list(this.#stageLists, stageList, (t) => JSON.parse(t) as string[]);
      steps = stages.map((stage, k) => ({ stage, outcome: OUTCOMES[Math.floor(outcomes / 4 ** k) % 4] ?? 'pass' }));
      if (this.#traces.size >= 10_000) this.#traces.clear();
      this.#traces.set(key, steps);
    }
    return steps;
  }

  #list(cache: Map<number, readonly string[]>, id: number, parse: (text: string) => readonly string[]): readonly string[] {
    let list = cache.get(id);
    if (list === undefined) {
      list = parse(this.#strings.text(id));
      if (cache.size >= 10_000) cache.clear();
      cache.set(id, list);
    }
    return list;
  }
}

/** The decision log of a schema 1 store opened read-only: it has no decisions, and takes none. */
export const NO_DECISION_LOG: DecisionLogStore = {
  appendBlocks: () => Promise.reject(new StoreUnavailableError('this store predates the decision log and is open read-only')),
  read: () => Promise.resolve([]),
};

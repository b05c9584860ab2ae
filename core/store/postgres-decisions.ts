// The decision log in the PostgreSQL store: each block's decisions as rows beside its event, in the partition of their day, written in the block's transaction.
import type pg from 'pg';
import { BatchView } from '../decision-log/batch-view.js';
import { blockEvent, type BlockEvent } from '../decision-log/block-event.js';
import { decodeBatch } from '../decision-log/decode.js';
import type { DecisionQuery, DecisionRecord, SealedBlock, StoredDecision } from '../decision-log/record.js';
import { limitOf, parsePosition } from './checks.js';
import type { AppendResult, DecisionLogStore, NewEvent, Position } from './port.js';
import { sqlState } from './postgres-errors.js';
import { accessStreamDay, dayOf, type DecisionPartitions } from './postgres-partitions.js';

/** What the decision log needs of its store: one chain-locked transaction, and plain reads. */
export interface DecisionLogHost {
  /**
   * Run `work` in one transaction under the chain lock (not waiting for fsync: decisions are
   * batched like the audit trail always was); `append` stores one event idempotently by id.
   */
  inChainTransaction<T>(work: (client: pg.PoolClient, append: BlockAppend) => Promise<T>): Promise<T>;
  query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]>;
  /** The quoted schema. */
  readonly schema: string;
}

/** Append one event; `fresh` is false when its id was stored already (a retried block). */
export type BlockAppend = (stream: string, event: NewEvent) => Promise<{ readonly result: AppendResult; readonly fresh: boolean }>;

/**
 * Migration step 2 (released; step 3 in postgres-partitions.ts partitions it by day): the
 * columns queries filter on, plus the decision itself as JSON (the digest is computed from it on verify).
 */
export const decisionTablesSql = (s: string): string => `
  CREATE TABLE ${s}.decisions (
    position bigint  NOT NULL REFERENCES ${s}.events (position) ON DELETE CASCADE,
    idx      integer NOT NULL,
    time     bigint  NOT NULL,
    username text,
    token_id text,
    provider text,
    detail   json    NOT NULL,
    PRIMARY KEY (position, idx)
  );
  CREATE INDEX decisions_time ON ${s}.decisions (time);
  CREATE INDEX decisions_user ON ${s}.decisions (username, time) WHERE username IS NOT NULL;
  CREATE INDEX decisions_token ON ${s}.decisions (token_id, time) WHERE token_id IS NOT NULL;`;

/** A stored block's decisions, to be inserted: `position` is its event's. */
export interface BlockRows {
  readonly position: string;
  readonly stream: string;
  readonly decisions: readonly DecisionRecord[];
}

/** The UTC days the blocks' decisions fall on, each one's partition to be there before the insert. */
export function daysOf(blocks: readonly Pick<BlockRows, 'decisions'>[]): Set<number> {
  const days = new Set<number>();
  for (const { decisions } of blocks) for (const d of decisions) days.add(dayOf(d.time));
  return days;
}

/**
 * Insert the decisions of several blocks in one statement (arrays unnested: one round trip
 * whatever the count). Each decision must fall on its block's stream's day: retention drops
 * that day's partition with the stream, and must take no other stream's decisions with it.
 * @throws TypeError for a decision outside its block's day (an import from a store that broke that rule)
 */
export async function insertDecisions(client: pg.ClientBase, schema: string, blocks: readonly BlockRows[]): Promise<void> {
  const positions: string[] = [];
  const idx: number[] = [];
  const times: number[] = [];
  const usernames: (string | null)[] = [];
  const tokenIds: (string | null)[] = [];
  const providers: (string | null)[] = [];
  const details: string[] = [];
  for (const { position, stream, decisions } of blocks) {
    const day = accessStreamDay(stream);
    for (const [i, d] of decisions.entries()) {
      if (day === undefined || dayOf(d.time) !== day) throw new TypeError(`a decision of block ${position} is not of the day of its stream ${stream}`);
      positions.push(position);
      idx.push(i);
      times.push(d.time);
      usernames.push(d.identity?.username ?? null);
      tokenIds.push(d.identity?.tokenId ?? null);
      providers.push(d.identity?.provider ?? null);
      details.push(JSON.stringify(d));
    }
  }
  if (positions.length === 0) return;
  await client.query(
    `INSERT INTO ${schema}.decisions (position, idx, time, username, token_id, provider, detail)
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::json[])`,
    [positions, idx, times, usernames, tokenIds, providers, details],
  );
}

export class PostgresDecisionLog implements DecisionLogStore {
  constructor(
    private readonly host: DecisionLogHost,
    private readonly partitions: DecisionPartitions,
  ) {}

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (blocks.length === 0) throw new TypeError('appendBlocks needs at least one block');
    // Every block checked and decoded before anything is written: one bad block stores none.
    const decoded = blocks.map(({ id, batch }) => ({ ...blockEvent(id, new BatchView(batch)), decisions: decodeBatch(batch) }));
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#store(decoded);
      } catch (err) {
        // Another node may have dropped a day this node thought was there (PostgreSQL finds no
        // partition for a row: check_violation); once, this node checks every day again and retries.
        this.partitions.forget();
        if (attempt === 1 && sqlState(err) === '23514') continue;
        throw err;
      }
    }
  }

  #store(blocks: readonly (BlockEvent & { readonly decisions: readonly DecisionRecord[] })[]): Promise<AppendResult> {
    return this.host.inChainTransaction(async (client, append) => {
      await this.partitions.ensure(client, daysOf(blocks));
      let last: AppendResult | undefined;
      const rows: BlockRows[] = [];
      for (const { stream, event, decisions } of blocks) {
        const { result, fresh } = await append(stream, event);
        if (fresh) rows.push({ position: result.position, stream, decisions });
        last = result;
      }
      // Every block of the call in one INSERT.
      await insertDecisions(client, this.host.schema, rows);
      return last!;
    });
  }

  async read(query: DecisionQuery = {}): Promise<StoredDecision[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown): string => `$${params.push(value)}`;
    if (query.block !== undefined) where.push(`position = ${param(String(parsePosition(query.block)))}`);
    if (query.from !== undefined) where.push(`time >= ${param(query.from)}`);
    if (query.to !== undefined) where.push(`time < ${param(query.to)}`);
    if (query.username !== undefined) where.push(`username = ${param(query.username)}`);
    if (query.tokenId !== undefined) where.push(`token_id = ${param(query.tokenId)}`);
    if (query.provider !== undefined) where.push(`provider = ${param(query.provider)}`);
    const backwards = query.direction === 'backwards';
    if (query.after !== undefined) {
      const block = param(String(parsePosition(query.after.block)));
      const index = param(query.after.index);
      where.push(`(position, idx) ${backwards ? '<' : '>'} (${block}::bigint, ${index}::int)`);
    }
    const limit = limitOf(query.limit);
    const order = backwards ? 'position DESC, idx DESC' : 'position, idx';
    const sql = `SELECT position::text AS position, idx, detail FROM ${this.host.schema}.decisions
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}${Number.isFinite(limit) ? ` LIMIT ${param(limit)}` : ''}`;
    const rows = await this.host.query<{ position: string; idx: number; detail: DecisionRecord }>(sql, params);
    return rows.map((r) => ({ block: r.position as Position, index: r.idx, decision: r.detail }));
  }
}

// The decision log in the PostgreSQL store: each block's decisions as rows beside its event, written in the block's transaction.
import type pg from 'pg';
import { BatchView } from '../decision-log/batch-view.js';
import { blockEvent } from '../decision-log/block-event.js';
import { decodeBatch } from '../decision-log/decode.js';
import type { DecisionQuery, DecisionRecord, SealedBlock, StoredDecision } from '../decision-log/record.js';
import { limitOf, parsePosition } from './checks.js';
import type { AppendResult, DecisionLogStore, NewEvent, Position } from './port.js';

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

/** The columns queries filter on, plus the decision itself as JSON (the digest is computed from it on verify). */
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

/** Insert a block's decisions in one statement (arrays unnested: one round trip whatever the count). */
export async function insertDecisions(client: pg.PoolClient, schema: string, position: string, decisions: readonly DecisionRecord[]): Promise<void> {
  if (decisions.length === 0) return;
  await client.query(
    `INSERT INTO ${schema}.decisions (position, idx, time, username, token_id, provider, detail)
     SELECT $1::bigint, * FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::json[])`,
    [
      position,
      decisions.map((_, i) => i),
      decisions.map((d) => d.time),
      decisions.map((d) => d.identity?.username ?? null),
      decisions.map((d) => d.identity?.tokenId ?? null),
      decisions.map((d) => d.identity?.provider ?? null),
      decisions.map((d) => JSON.stringify(d)),
    ],
  );
}

export class PostgresDecisionLog implements DecisionLogStore {
  constructor(private readonly host: DecisionLogHost) {}

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (blocks.length === 0) throw new TypeError('appendBlocks needs at least one block');
    // Every block checked and decoded before anything is written: one bad block stores none.
    const decoded = blocks.map(({ id, batch }) => ({ ...blockEvent(id, new BatchView(batch)), decisions: decodeBatch(batch) }));
    return this.host.inChainTransaction(async (client, append) => {
      let last: AppendResult | undefined;
      for (const { stream, event, decisions } of decoded) {
        const { result, fresh } = await append(stream, event);
        if (fresh) await insertDecisions(client, this.host.schema, result.position, decisions);
        last = result;
      }
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

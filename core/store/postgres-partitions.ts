// The PostgreSQL decision log's day partitions: the migration that partitions the table, and creating and dropping one day's partition.
import type { ClientBase } from 'pg';

/** Milliseconds in a UTC day: a partition holds the decisions whose `time` falls in one. */
export const DAY_MS = 86_400_000;

/** The UTC day (days since the epoch) of a time in milliseconds. */
export const dayOf = (timeMs: number): number => Math.floor(timeMs / DAY_MS);

/** The day of an access stream (`access-2026-01-05`), or undefined for any other stream. */
export function accessStreamDay(stream: string): number | undefined {
  const match = /^access-(\d{4}-\d{2}-\d{2})$/.exec(stream);
  const ms = match ? Date.parse(`${match[1]}T00:00:00Z`) : NaN;
  return Number.isFinite(ms) ? dayOf(ms) : undefined;
}

/**
 * Migration step 3: `decisions` becomes a table range-partitioned by day on `time`, one
 * partition per UTC day (`decisions_20260105`), its rows kept. The key gains `time` (a
 * partitioned table's unique keys must hold its partition key); the foreign key to `events`
 * with ON DELETE CASCADE stays (PostgreSQL 12+ clones it onto each partition), so a deleted
 * event still takes its decisions with it. Two functions in the schema create and drop one
 * day's partition, so the partition's name is written in one place:
 * - `decisions_partition(day)` creates the table and attaches it (ATTACH takes only a SHARE
 *   UPDATE EXCLUSIVE lock on `decisions`: reads and inserts of other days go on); its CHECK
 *   constraint spares ATTACH a scan;
 * - `drop_decisions_partition(day)`.
 * The step holds the chain head, so no node appends while the table is swapped; it also
 * creates today's and tomorrow's partitions, for a node of the previous version still writing.
 */
export const partitionDecisionsSql = (s: string): string => `
  SELECT 1 FROM ${s}.chain_head FOR UPDATE;
  ALTER TABLE ${s}.decisions RENAME TO decisions_unpartitioned;
  ALTER TABLE ${s}.decisions_unpartitioned DROP CONSTRAINT decisions_pkey;
  DROP INDEX ${s}.decisions_time, ${s}.decisions_user, ${s}.decisions_token;
  CREATE TABLE ${s}.decisions (
    position bigint  NOT NULL REFERENCES ${s}.events (position) ON DELETE CASCADE,
    idx      integer NOT NULL,
    time     bigint  NOT NULL,
    username text,
    token_id text,
    provider text,
    detail   json    NOT NULL,
    PRIMARY KEY (position, idx, time)
  ) PARTITION BY RANGE (time);
  CREATE INDEX decisions_time ON ${s}.decisions (time);
  CREATE INDEX decisions_user ON ${s}.decisions (username, time) WHERE username IS NOT NULL;
  CREATE INDEX decisions_token ON ${s}.decisions (token_id, time) WHERE token_id IS NOT NULL;
  CREATE FUNCTION ${s}.decisions_partition_name(day bigint) RETURNS text LANGUAGE sql IMMUTABLE
    AS $f$ SELECT 'decisions_' || to_char(timestamp '1970-01-01' + day * interval '1 day', 'YYYYMMDD') $f$;
  CREATE FUNCTION ${s}.decisions_partition(day bigint) RETURNS text LANGUAGE plpgsql AS $f$
    DECLARE
      name text := ${s}.decisions_partition_name(day);
    BEGIN
      IF to_regclass('${s}.' || quote_ident(name)) IS NULL THEN
        EXECUTE format('CREATE TABLE ${s}.%I (LIKE ${s}.decisions, CHECK (time >= %s AND time < %s))', name, day * ${DAY_MS}, (day + 1) * ${DAY_MS});
        EXECUTE format('ALTER TABLE ${s}.decisions ATTACH PARTITION ${s}.%I FOR VALUES FROM (%s) TO (%s)', name, day * ${DAY_MS}, (day + 1) * ${DAY_MS});
      END IF;
      RETURN name;
    END $f$;
  CREATE FUNCTION ${s}.drop_decisions_partition(day bigint) RETURNS boolean LANGUAGE plpgsql AS $f$
    DECLARE
      name text := ${s}.decisions_partition_name(day);
    BEGIN
      IF to_regclass('${s}.' || quote_ident(name)) IS NULL THEN
        RETURN false;
      END IF;
      EXECUTE format('DROP TABLE ${s}.%I', name);
      RETURN true;
    END $f$;
  SELECT ${s}.decisions_partition(day) FROM (
    SELECT DISTINCT floor(time / ${DAY_MS}.0)::bigint AS day FROM ${s}.decisions_unpartitioned
    UNION SELECT floor(extract(epoch FROM now()) / 86400)::bigint + ahead FROM generate_series(0, 1) AS ahead
  ) AS days;
  INSERT INTO ${s}.decisions (position, idx, time, username, token_id, provider, detail)
    SELECT position, idx, time, username, token_id, provider, detail FROM ${s}.decisions_unpartitioned;
  DROP TABLE ${s}.decisions_unpartitioned;`;

/**
 * The partitions this node knows exist. Every call runs inside a transaction holding the chain
 * head's lock, which every writer of the schema takes first: two nodes never create or drop a
 * partition at the same time, and a partition found here stays until a deletion under that
 * same lock. A node's memory can go stale only when another node drops a day (retention); the
 * append that then fails calls {@link forget}, and its retry creates the day again.
 */
export class DecisionPartitions {
  readonly #known = new Set<number>();

  constructor(private readonly schema: string) {}

  /** Make sure each day has its partition, and the day after the newest (created ahead, so midnight needs none). */
  async ensure(client: ClientBase, days: Iterable<number>): Promise<void> {
    const wanted = new Set<number>();
    for (const day of days) {
      if (!this.#known.has(day)) wanted.add(day);
      if (!this.#known.has(day + 1)) wanted.add(day + 1);
    }
    if (wanted.size === 0) return;
    await client.query(`SELECT ${this.schema}.decisions_partition(day) FROM unnest($1::bigint[]) AS day`, [[...wanted].map(String)]);
    for (const day of wanted) this.#known.add(day);
  }

  /** Drop one day's partition, with every decision in it; false when there was none. */
  async drop(client: ClientBase, day: number): Promise<boolean> {
    this.#known.delete(day);
    const result = await client.query<{ dropped: boolean }>(`SELECT ${this.schema}.drop_decisions_partition($1::bigint) AS dropped`, [String(day)]);
    return result.rows[0]?.dropped === true;
  }

  /** Forget what this node knew (after a failed write): the next write checks each day again. */
  forget(): void {
    this.#known.clear();
  }
}

// The statements of the PostgreSQL store, for one schema, and the rows they take and give; kept apart from the logic that runs them.
import type { EventMetadata, Position, RecordedEvent } from './port.js';
import { quoteIdent } from './postgres-schema.js';

export interface EventRow {
  /** bigint: pg hands it over as a decimal string, which is what a Position is. */
  position: string;
  id: string;
  stream: string;
  revision: number;
  type: string;
  time: string;
  data: unknown;
  metadata: unknown;
  prev_hash: string;
  hash: string;
}

const COLUMNS = 'position, id, stream, revision, type, time, data, metadata, prev_hash, hash';

export function statements(schema: string) {
  const s = quoteIdent(schema);
  return {
    /**
     * Every writer takes the chain head's row lock first and keeps it to its commit: appends
     * follow one another, so positions are handed out in commit order and each event's
     * prevHash is the hash of the event before it.
     */
    lockHead: `SELECT position, hash FROM ${s}.chain_head FOR UPDATE`,
    /**
     * Run after lockHead, in a statement of its own: its snapshot then sees everything the
     * previous holder of the lock committed. Also the database's clock, for the events' time.
     */
    streamState: `SELECT
        (SELECT max(revision) FROM ${s}.events WHERE stream = $1) AS revision,
        (SELECT coalesce(json_agg(json_build_object('id', id, 'stream', stream, 'position', position::text)), '[]')
           FROM ${s}.events WHERE id = ANY($2::text[])) AS stored,
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now`,
    storedIds: `SELECT id FROM ${s}.events WHERE id = ANY($1::text[]) LIMIT 1`,
    /** The rows, the new head, and a NOTIFY that PostgreSQL delivers only if the transaction commits. */
    insert: `WITH inserted AS (
        INSERT INTO ${s}.events (${COLUMNS})
        SELECT p, i, st, r, t, tm, d::json, m::json, ph, h
          FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
            AS u(p, i, st, r, t, tm, d, m, ph, h)
      ), head AS (
        UPDATE ${s}.chain_head SET position = $11::bigint, hash = $12::text
      )
      SELECT pg_notify($13::text, $11::bigint::text)`,
    headPosition: `SELECT max(position)::text AS position FROM ${s}.events`,
    readForward: `SELECT ${COLUMNS} FROM ${s}.events WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
    readBackward: `SELECT ${COLUMNS} FROM ${s}.events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`,
    deleteStream: `DELETE FROM ${s}.events WHERE stream = $1`,
    /** After a deletion, the chain continues from the last event left (as on SQLite); positions are never reused. */
    resetHeadHash: `UPDATE ${s}.chain_head SET hash = coalesce((SELECT hash FROM ${s}.events ORDER BY position DESC LIMIT 1), '')`,
    loadCheckpoint: `SELECT position::text AS position, state FROM ${s}.checkpoints WHERE name = $1`,
    saveCheckpoint: `INSERT INTO ${s}.checkpoints (name, position, state) VALUES ($1, $2, $3)
      ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state`,
    readAll: (shape: ReadAllShape) => readAllSql(s, shape),
    countAfter: countAfterSql(s),
  };
}

export type Statements = ReturnType<typeof statements>;

/**
 * Parameters, in order: after, limit (NULL: none), then the prefixes (a text[]) when filtered
 * by stream, then (needle, path, value) for the data match.
 */
/** What decides a readAll statement's text (values are bound). */
export interface ReadAllShape {
  readonly prefixes: boolean;
  readonly dataMatch: boolean;
  readonly types: boolean;
  readonly backwards: boolean;
}

function readAllSql(s: string, shape: ReadAllShape): string {
  let n = 3;
  const where = ['position > $1', 'position < $2'];
  if (shape.prefixes) where.push(`stream ^@ ANY($${++n}::text[])`);
  if (shape.types) where.push(`type = ANY($${++n}::text[])`);
  if (shape.dataMatch) {
    // The stored text has no whitespace (canonical JSON), so a match contains this needle:
    // strpos() rules rows out before the JSON is parsed for the ones that may match.
    const [needle, path, value] = [++n, ++n, ++n];
    where.push(`strpos(data::text, $${needle}) > 0`, `json_typeof(data #> $${path}::text[]) = 'string'`, `data #>> $${path}::text[] = $${value}`);
  }
  return `SELECT ${COLUMNS} FROM ${s}.events WHERE ${where.join(' AND ')} ORDER BY position ${shape.backwards ? 'DESC' : 'ASC'} LIMIT $3`;
}

/** How many events follow a position (at most a limit), and the position and hash of the last of them. */
function countAfterSql(s: string): string {
  return `WITH counted AS (SELECT position, hash FROM ${s}.events WHERE position > $1 ORDER BY position LIMIT $2)
    SELECT count(*)::int AS count, (SELECT position::text FROM counted ORDER BY position DESC LIMIT 1) AS last,
           (SELECT hash FROM counted ORDER BY position DESC LIMIT 1) AS hash FROM counted`;
}

/** An append's rows, column by column, as the insert statement takes them. */
export interface Rows {
  positions: string[];
  ids: string[];
  streams: string[];
  revisions: number[];
  types: string[];
  times: string[];
  data: string[];
  metadata: string[];
  prevHashes: string[];
  hashes: string[];
}

export const emptyRows = (): Rows => ({ positions: [], ids: [], streams: [], revisions: [], types: [], times: [], data: [], metadata: [], prevHashes: [], hashes: [] });

export function addRow(rows: Rows, r: { position: string; id: string; stream: string; revision: number; type: string; time: string; data: string; metadata: string; prevHash: string; hash: string }): void {
  rows.positions.push(r.position);
  rows.ids.push(r.id);
  rows.streams.push(r.stream);
  rows.revisions.push(r.revision);
  rows.types.push(r.type);
  rows.times.push(r.time);
  rows.data.push(r.data);
  rows.metadata.push(r.metadata);
  rows.prevHashes.push(r.prevHash);
  rows.hashes.push(r.hash);
}

export function toRecorded(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    type: row.type,
    stream: row.stream,
    revision: row.revision,
    position: row.position as Position,
    time: row.time,
    data: row.data,
    metadata: row.metadata as EventMetadata,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

// The decision log's tables in the SQLite store: decisions, the strings they refer to, and a time index per block.
import type Database from 'better-sqlite3';

// decisions: one row per decision, keyed by its address (block position × 4096 + index), so rows
//   are appended in key order and a block's rows are one key range. Only what queries filter on
//   has a column: time, user, token, provider, allow, status, reason, method, path, client
//   address; the rest is packed in `detail` (sqlite-decision-detail.ts). Strings are ids into
//   decision_strings; an address is 4 or 16 bytes when it packs without loss
//   (core/decision-log/compact.ts).
// The user and token indexes hold (id, address): a user's or token's decisions in recording order.
// decision_blocks is the time index: each block's earliest and latest decision time, so a time
//   range becomes an address range; it holds one row per block, not per decision.
// decision_strings: AUTOINCREMENT so an id is never handed out twice (processes cache them).
export const DECISION_SCHEMA = `
CREATE TABLE IF NOT EXISTS decision_strings (
  id   INTEGER PRIMARY KEY AUTOINCREMENT,
  text TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS decision_blocks (
  position INTEGER PRIMARY KEY,
  first    INTEGER NOT NULL,
  last     INTEGER NOT NULL,
  count    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS decision_blocks_first ON decision_blocks (first);
CREATE INDEX IF NOT EXISTS decision_blocks_last ON decision_blocks (last);
CREATE TABLE IF NOT EXISTS decisions (
  address   INTEGER PRIMARY KEY,
  time      INTEGER NOT NULL,
  username  INTEGER,
  token     INTEGER,
  provider  INTEGER,
  allow     INTEGER NOT NULL,
  status    INTEGER NOT NULL,
  reason    INTEGER NOT NULL,
  method    INTEGER NOT NULL,
  path      TEXT    NOT NULL,
  client_ip BLOB    NOT NULL,
  detail    BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_user ON decisions (username) WHERE username IS NOT NULL;
CREATE INDEX IF NOT EXISTS decisions_by_token ON decisions (token) WHERE token IS NOT NULL;
`;

/** The columns in the order rows are inserted and read (raw rows are arrays in this order). */
export const DECISION_COLUMNS = ['address', 'time', 'username', 'token', 'provider', 'allow', 'status', 'reason', 'method', 'path', 'client_ip', 'detail'] as const;

/** The columns every row has as they are, up to `path`. */
type RowHead = [
  address: number,
  time: number,
  username: number | null,
  token: number | null,
  provider: number | null,
  allow: number,
  status: number,
  reason: number,
  method: number,
  path: string,
];

/** A row as it is inserted. */
export type DecisionRow = [...RowHead, clientIp: Buffer | string, detail: Buffer];

/**
 * A row as reads return it: the two blobs as hex text (a Buffer per blob per row cost more than
 * the rest of the read); the client address as `~` and its text when it did not pack.
 */
export type DecisionReadRow = [...RowHead, clientIp: string, detail: string];

/** The select list of reads, in {@link DECISION_COLUMNS} order. */
const READ_COLUMNS = [...DECISION_COLUMNS.slice(0, -2), "iif(typeof(client_ip) = 'blob', hex(client_ip), '~' || client_ip)", 'hex(detail)'].join(', ');

/** True when the store file has the decision log's tables (a schema 1 store opened read-only has not). */
export function hasDecisionTables(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'decisions'").get() !== undefined;
}

export function prepareDecisionStatements(db: Database.Database) {
  const columns = DECISION_COLUMNS.join(', ');
  return {
    insert: db.prepare<DecisionRow>(`INSERT INTO decisions (${columns}) VALUES (${DECISION_COLUMNS.map(() => '?').join(', ')})`),
    insertBlock: db.prepare<[position: number, first: number, last: number, count: number]>(
      'INSERT INTO decision_blocks (position, first, last, count) VALUES (?, ?, ?, ?)',
    ),
    findString: db.prepare<[string], number>('SELECT id FROM decision_strings WHERE text = ?').pluck(),
    addString: db.prepare<[string], number>('INSERT INTO decision_strings (text) VALUES (?) RETURNING id').pluck(),
    stringText: db.prepare<[number], string>('SELECT text FROM decision_strings WHERE id = ?').pluck(),
    // The lowest block that may hold a decision at or after a time, and the highest that may hold one before a time.
    lowestBlockFrom: db.prepare<[number], number | null>('SELECT min(position) FROM decision_blocks WHERE last >= ?').pluck(),
    highestBlockBefore: db.prepare<[number], number | null>('SELECT max(position) FROM decision_blocks WHERE first < ?').pluck(),
    blocksOfStream: db.prepare<[string, string], number>('SELECT position FROM events WHERE stream = ? AND type = ?').pluck(),
    deleteRange: db.prepare<[number, number]>('DELETE FROM decisions WHERE address BETWEEN ? AND ?'),
    deleteBlock: db.prepare<[number]>('DELETE FROM decision_blocks WHERE position = ?'),
  };
}

export type DecisionStatements = ReturnType<typeof prepareDecisionStatements>;

export interface ReadShape {
  readonly time: boolean;
  readonly username: boolean;
  readonly token: boolean;
  readonly provider: boolean;
  readonly backwards: boolean;
}

/**
 * The read statement for a filter shape. Parameters in order: lowest address, highest address,
 * then from and to (time), username id, token id, provider id for the filters present, then limit.
 */
export function readDecisionsSql(shape: ReadShape): string {
  let where = 'address BETWEEN ? AND ?';
  if (shape.time) where += ' AND time >= ? AND time < ?';
  if (shape.username) where += ' AND username = ?';
  if (shape.token) where += ' AND token = ?';
  if (shape.provider) where += ' AND provider = ?';
  return `SELECT ${READ_COLUMNS} FROM decisions WHERE ${where} ORDER BY address ${shape.backwards ? 'DESC' : 'ASC'} LIMIT ?`;
}

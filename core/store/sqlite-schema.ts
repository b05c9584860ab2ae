// Tables and prepared statements of the SQLite event store, kept apart from the append logic.
import type Database from 'better-sqlite3';

import { DECISION_SCHEMA } from './sqlite-decision-schema.js';

/** 2: the decision log's tables (a schema 1 store gains them, empty, when opened for writing). */
export const SCHEMA_VERSION = 2;

export interface EventRow {
  position: number;
  id: string;
  stream: string;
  revision: number;
  type: string;
  time: string;
  data: string;
  metadata: string;
  prev_hash: string;
  hash: string;
}

// AUTOINCREMENT: a deleted stream's positions are never handed out again, so checkpoints stay valid.
// The UNIQUE (stream, revision) index leads with stream, so it also serves every per-stream lookup.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position  INTEGER PRIMARY KEY AUTOINCREMENT,
  id        TEXT    NOT NULL UNIQUE,
  stream    TEXT    NOT NULL,
  revision  INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  time      TEXT    NOT NULL,
  data      TEXT    NOT NULL,
  metadata  TEXT    NOT NULL,
  prev_hash TEXT    NOT NULL,
  hash      TEXT    NOT NULL,
  UNIQUE (stream, revision)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  name     TEXT    PRIMARY KEY,
  position INTEGER NOT NULL,
  state    TEXT    NOT NULL
);
`;

export function createSchema(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    db.exec(DECISION_SCHEMA);
    if ((db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

const COLUMNS = 'position, id, stream, revision, type, time, data, metadata, prev_hash, hash';

export function prepareStatements(db: Database.Database) {
  return {
    headHash: db.prepare<[], { hash: string }>('SELECT hash FROM events ORDER BY position DESC LIMIT 1'),
    headPosition: db.prepare<[], { position: number | null }>('SELECT max(position) AS position FROM events'),
    streamHead: db.prepare<[string], { revision: number }>(
      'SELECT revision FROM events WHERE stream = ? ORDER BY revision DESC LIMIT 1',
    ),
    byId: db.prepare<[string], { stream: string; revision: number; position: number }>(
      'SELECT stream, revision, position FROM events WHERE id = ?',
    ),
    // Positional parameters: binding named ones costs a property lookup each, per event.
    insert: db.prepare<[id: string, stream: string, revision: number, type: string, time: string, data: string, metadata: string, prevHash: string, hash: string]>(
      'INSERT INTO events (id, stream, revision, type, time, data, metadata, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    readForward: db.prepare<{ stream: string; from: number; limit: number }, EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = @stream AND revision >= @from ORDER BY revision LIMIT @limit`,
    ),
    readBackward: db.prepare<{ stream: string; from: number; limit: number }, EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE stream = @stream AND revision <= @from ORDER BY revision DESC LIMIT @limit`,
    ),
    // Positions only (the rowid): counting reads no event's content, however large.
    countAfter: db.prepare<[after: number, limit: number], { count: number; last: number | null }>(
      'SELECT count(*) AS count, max(position) AS last FROM (SELECT position FROM events WHERE position > ? ORDER BY position LIMIT ?)',
    ),
    hashAt: db.prepare<[position: number], { hash: string }>('SELECT hash FROM events WHERE position = ?'),
    deleteStream: db.prepare<[string]>('DELETE FROM events WHERE stream = ?'),
    loadCheckpoint: db.prepare<[string], { position: number; state: string }>(
      'SELECT position, state FROM checkpoints WHERE name = ?',
    ),
    saveCheckpoint: db.prepare<{ name: string; position: number; state: string }>(
      `INSERT INTO checkpoints (name, position, state) VALUES (@name, @position, @state)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** The shape of a readAll filter: what decides its statement's text (values are bound). */
export interface ReadAllShape {
  /** Stream prefixes (0: any stream). */
  readonly prefixes: number;
  readonly dataMatch: boolean;
  /** Event types (undefined: any type). */
  readonly types: number | undefined;
  readonly backwards: boolean;
}

/**
 * The readAll statement for a filter shape. Its parameters, in order: after, before, then
 * (length, prefix) per prefix, then (needle, path, value) for the data match, then each type,
 * then limit. Built per shape, because a filter evaluated per row (a JSON array of prefixes,
 * say) would cost every reader on every row.
 */
export function readAllSql({ prefixes, dataMatch, types, backwards }: ReadAllShape): string {
  const streams = prefixes === 0 ? '' : ` AND (${Array.from({ length: prefixes }, () => 'substr(stream, 1, ?) = ?').join(' OR ')})`;
  // instr() rules rows out cheaply before json_extract() parses the ones that may match.
  const data = dataMatch ? ' AND instr(data, ?) > 0 AND json_extract(data, ?) = ?' : '';
  const typeIn = types === undefined ? '' : ` AND type IN (${Array.from({ length: types }, () => '?').join(', ')})`;
  return `SELECT ${COLUMNS} FROM events WHERE position > ? AND position < ?${streams}${data}${typeIn} ORDER BY position${backwards ? ' DESC' : ''} LIMIT ?`;
}

// The PostgreSQL store's tables, created and migrated by the store itself, one numbered step at a time.
import { decisionTablesSql } from './postgres-decisions.js';
import { partitionDecisionsSql } from './postgres-partitions.js';
import type { ClientBase } from 'pg';

import { StoreUnavailableError } from './port.js';

/**
 * Each step runs once, in order, in one transaction with its row in `schema_version`. A later
 * feature (the decision log's day partitions, say) adds the next step here; a step, once
 * released, is never edited.
 */
const MIGRATIONS: readonly { readonly version: number; readonly sql: (s: string) => string }[] = [
  {
    version: 1,
    // `data` and `metadata` are `json`, not `jsonb`: json keeps the canonical text byte for
    // byte (the hash covers it) and still answers `#>>` for the data filter. `time` is the text
    // the hash covers. `position` comes from `chain_head`, never reused (see postgres.ts).
    sql: (s) => `
      CREATE TABLE ${s}.events (
        position  bigint  PRIMARY KEY,
        id        text    NOT NULL UNIQUE,
        stream    text    NOT NULL,
        revision  integer NOT NULL,
        type      text    NOT NULL,
        time      text    NOT NULL,
        data      json    NOT NULL,
        metadata  json    NOT NULL,
        prev_hash text    NOT NULL,
        hash      text    NOT NULL,
        UNIQUE (stream, revision)
      );
      CREATE TABLE ${s}.chain_head (
        single   boolean PRIMARY KEY DEFAULT true CHECK (single),
        position bigint  NOT NULL,
        hash     text    NOT NULL
      );
      INSERT INTO ${s}.chain_head (position, hash) VALUES (0, '');
      CREATE TABLE ${s}.checkpoints (
        name     text   PRIMARY KEY,
        position bigint NOT NULL,
        state    text   NOT NULL
      );`,
  },
  {
    version: 2,
    // The decision log (postgres-decisions.ts): rows beside each block's event, gone with its stream.
    sql: decisionTablesSql,
  },
  {
    version: 3,
    // The decision log partitioned by day, rows kept; retention drops a day's partition whole.
    sql: partitionDecisionsSql,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** `"name"`: schema names are checked (postgres-url.ts), quoting keeps them exact. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Create the schema or bring it to {@link SCHEMA_VERSION} (`upTo`: an earlier one, as a store of
 * an earlier release left it; the migration tests start there). Nodes starting together take
 * turns on an advisory lock named after the schema, so each step runs exactly once.
 * @throws StoreUnavailableError when the schema was written by a newer Portcullis
 */
export async function migrateSchema(client: ClientBase, schema: string, where: string, upTo = SCHEMA_VERSION): Promise<void> {
  const s = quoteIdent(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`portcullis schema ${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.schema_version (
      version    integer     PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const current = await versionOf(client, s);
    if (current > SCHEMA_VERSION) throw newerSchema(schema, where, current);
    for (const step of MIGRATIONS) {
      if (step.version <= current || step.version > upTo) continue;
      await client.query(step.sql(s));
      await client.query(`INSERT INTO ${s}.schema_version (version) VALUES ($1)`, [step.version]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * For read-only use (`verify`, `export`): the schema must exist at this version; nothing is created.
 * @throws StoreUnavailableError naming the schema and the database otherwise
 */
export async function checkSchema(client: ClientBase, schema: string, where: string): Promise<void> {
  const s = quoteIdent(schema);
  const found = await client.query<{ found: boolean }>(
    `SELECT to_regclass($1) IS NOT NULL AS found`,
    [`${s}.schema_version`],
  );
  if (!found.rows[0]?.found) {
    throw new StoreUnavailableError(`no Portcullis event store in schema ${schema} at ${where} (check store or PORTCULLIS_STORE)`);
  }
  const current = await versionOf(client, s);
  if (current > SCHEMA_VERSION) throw newerSchema(schema, where, current);
  if (current < SCHEMA_VERSION) {
    throw new StoreUnavailableError(`the event store in schema ${schema} at ${where} is at schema version ${current}: start portcullis serve once to migrate it to ${SCHEMA_VERSION}`);
  }
}

async function versionOf(client: ClientBase, s: string): Promise<number> {
  const result = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${s}.schema_version`);
  return result.rows[0]?.version ?? 0;
}

function newerSchema(schema: string, where: string, version: number): StoreUnavailableError {
  return new StoreUnavailableError(
    `the event store in schema ${schema} at ${where} has schema version ${version}, newer than this Portcullis knows (${SCHEMA_VERSION}): upgrade Portcullis`,
  );
}

// PostgreSQL for tests: each test gets a schema of its own and drops it; absent, suites skip (with a message), or fail under CI=true.
import { randomBytes } from 'node:crypto';

import pg from 'pg';

/** The test server: PORTCULLIS_TEST_POSTGRES, else the one scripts/services.sh makes sure of. */
export const TEST_POSTGRES_URL = process.env.PORTCULLIS_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | undefined> | undefined;

/** undefined when the test server answers, else why not. Asked once per run. */
export function postgresUnreachable(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

/**
 * Call inside a describe: its tests skip, saying so on stderr, when PostgreSQL cannot be reached;
 * under CI=true they fail instead, since a skip in CI would hide missing coverage.
 */
export function requirePostgres(): void {
  before(async function () {
    const why = await postgresUnreachable();
    if (why === undefined) return;
    const where = TEST_POSTGRES_URL.replace(/\/\/[^@/]*@/, '//');
    if (process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI=true and cannot be reached at ${where}: ${why}`);
    process.stderr.write(`      skipped: PostgreSQL cannot be reached at ${where} (${why}); set PORTCULLIS_TEST_POSTGRES or run scripts/services.sh\n`);
    this.skip();
  });
}

/** A fresh schema name; nothing is created until a store opens it. */
export function testSchema(): string {
  return `portcullis_test_${randomBytes(6).toString('hex')}`;
}

/** The store URL of a test schema: a small pool, since several test runs share the server's 100 connections. */
export function storeUrl(schema: string, options: Record<string, string> = {}): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set('schema', schema);
  url.searchParams.set('pool_size', '3');
  for (const [key, value] of Object.entries(options)) url.searchParams.set(key, value);
  return url.toString();
}

/** A plain connection to the test database, ended after `work`. */
export async function withClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

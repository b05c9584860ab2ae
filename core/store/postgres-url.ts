// A `postgres://` store URL: what pg connects with, and the options Portcullis reads from its query string.
import { redactStoreUrl } from './redact.js';

export interface PostgresTarget {
  /** The URL pg connects with: Portcullis's own query options taken out, everything else (sslmode, …) kept. */
  readonly connectionString: string;
  /** The schema that holds the store's tables (`?schema=`, default `portcullis`). */
  readonly schema: string;
  /** Connections in the pool (`?pool_size=`, default 10); subscribers use one more, for LISTEN. */
  readonly poolSize: number;
  /** How long to wait for a connection (`?connect_timeout=` in seconds, as libpq; default 5). */
  readonly connectTimeoutMs: number;
  /** `host:port/database` for messages: never the user or the password. */
  readonly where: string;
}

export const DEFAULT_SCHEMA = 'portcullis';

/**
 * Lower case, so `psql` finds it unquoted, and short enough that `<schema>.appended` (the
 * NOTIFY channel) stays within PostgreSQL's 63-byte identifiers.
 */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * @example parsePostgresUrl('postgres://app@db.internal:5432/gateway?schema=portcullis&pool_size=20')
 * @throws TypeError naming the option at fault, never the password
 */
export function parsePostgresUrl(url: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid PostgreSQL store URL ${redactStoreUrl(url)}`);
  }
  const query = parsed.searchParams;
  const schema = query.get('schema') ?? DEFAULT_SCHEMA;
  if (!SCHEMA_NAME.test(schema)) {
    throw new TypeError(`store URL: schema ${JSON.stringify(schema.slice(0, 80))} must be 1 to 48 of a-z, 0-9 and _, not starting with a digit`);
  }
  const poolSize = integerOption(query, 'pool_size', 10, 1, 100);
  const connectTimeoutMs = integerOption(query, 'connect_timeout', 5, 1, 300) * 1000;
  for (const own of ['schema', 'pool_size', 'connect_timeout']) query.delete(own);
  const host = query.get('host') ?? (decodeURIComponent(parsed.hostname.replace(/^\[(.+)\]$/, '$1')) || 'localhost');
  const port = query.get('port') ?? (parsed.port || '5432');
  const database = decodeURIComponent(parsed.pathname.slice(1)) || '(the user\'s database)';
  return { connectionString: parsed.toString(), schema, poolSize, connectTimeoutMs, where: `${host}:${port}/${database}` };
}

function integerOption(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) throw new TypeError(`store URL: ${name} must be a whole number from ${min} to ${max}`);
  return value;
}

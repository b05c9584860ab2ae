// Pick an event store adapter from a URL (`memory:`, `sqlite:<path>`, `postgres://…`, `kurrentdb://…`), as configuration names it.
import { resolve } from 'node:path';

import { MemoryEventStore } from './memory.js';
import type { EventStore } from './port.js';
import { KurrentEventStore } from './kurrentdb.js';
import { isKurrentUrl } from './kurrentdb-mapping.js';
import { PostgresEventStore } from './postgres.js';
import { isPostgresUrl } from './postgres-url.js';
import { redactStoreUrl } from './redact.js';
import { SqliteEventStore } from './sqlite.js';

/**
 * @example openEventStore('sqlite:data/events.db')  // relative to the working directory
 * @example openEventStore('postgres://app@db.internal/gateway?schema=portcullis&pool_size=20&connect_timeout=5')
 * @example openEventStore('kurrentdb://admin:changeit@db.internal:2113?tls=true&namespace=portcullis')  // esdb:// too
 * @throws TypeError for a URL no adapter understands; StoreUnavailableError when the adapter cannot open it.
 */
export async function openEventStore(url: string, options: { readonly?: boolean } = {}): Promise<EventStore> {
  if (url === 'memory:') return new MemoryEventStore();
  const file = sqliteFile(url);
  if (file !== undefined) return SqliteEventStore.open(file, options.readonly ? { readonly: true } : {});
  if (isPostgresUrl(url)) return PostgresEventStore.open(url, options.readonly ? { readonly: true } : {});
  if (isKurrentUrl(url)) {
    // KurrentDB has no read-only session: verify and export only read, and the adapter writes nothing at open.
    return KurrentEventStore.open(url);
  }
  throw new TypeError(`unknown store URL scheme in ${redactStoreUrl(url)}: expected memory:, sqlite:<path>, postgres:// or kurrentdb:// (esdb://)`);
}

/** The absolute file of a `sqlite:<path>` URL (relative to the working directory), else undefined. */
export function sqliteFile(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === '') throw new TypeError('sqlite store URL needs a file path: sqlite:<path>');
  return resolve(process.cwd(), path);
}

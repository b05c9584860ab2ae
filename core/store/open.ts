// Pick an event store adapter from a URL (`memory:`, `sqlite:<path>`, `postgres://…`), as configuration names it.
import { resolve } from 'node:path';

import { MemoryEventStore } from './memory.js';
import { StoreUnavailableError, type EventStore } from './port.js';
import { PostgresEventStore } from './postgres.js';
import { isPostgresUrl } from './postgres-url.js';
import { redactStoreUrl } from './redact.js';
import { SqliteEventStore } from './sqlite.js';

const NOT_YET_AVAILABLE = new Set(['esdb:', 'kurrentdb:']);

/**
 * @example openEventStore('sqlite:data/events.db')  // relative to the working directory
 * @example openEventStore('postgres://app@db.internal/gateway?schema=portcullis&pool_size=20&connect_timeout=5')
 * @throws TypeError for a URL no adapter understands; StoreUnavailableError when the adapter cannot open it.
 */
export async function openEventStore(url: string, options: { readonly?: boolean } = {}): Promise<EventStore> {
  if (url === 'memory:') return new MemoryEventStore();
  const file = sqliteFile(url);
  if (file !== undefined) return SqliteEventStore.open(file, options.readonly ? { readonly: true } : {});
  if (isPostgresUrl(url)) return PostgresEventStore.open(url, options.readonly ? { readonly: true } : {});
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && NOT_YET_AVAILABLE.has(scheme)) {
    throw new StoreUnavailableError(`the ${scheme.slice(0, -1)} event store adapter is not available in this build yet`);
  }
  throw new TypeError(`unknown store URL scheme in ${redactStoreUrl(url)}: expected memory:, sqlite:<path> or postgres://`);
}

/** The absolute file of a `sqlite:<path>` URL (relative to the working directory), else undefined. */
export function sqliteFile(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  if (path === '') throw new TypeError('sqlite store URL needs a file path: sqlite:<path>');
  return resolve(process.cwd(), path);
}

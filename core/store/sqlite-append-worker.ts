// The worker thread behind SqliteAppendThread: its own connection to the store file, storing the blocks the main thread sends.
import { parentPort, workerData } from 'node:worker_threads';

import { StoreUnavailableError } from './port.js';
import { SqliteEventStore } from './sqlite.js';
import type { BlockReply, BlockRequest } from './sqlite-append-thread.js';

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs?: number };
const port = parentPort!;
const open = (): SqliteEventStore => SqliteEventStore.open(file, busyTimeoutMs === undefined ? {} : { busyTimeoutMs });
let store: SqliteEventStore | undefined = open();

/**
 * SQLite opens a file it may not write (a read-only remount, an immutable file) read-only without a
 * word, and such a connection stays read-only when the file can be written again. After a
 * SQLITE_READONLY the next append opens a new connection instead.
 */
const readOnlyConnection = (err: unknown): boolean =>
  err instanceof StoreUnavailableError && /^SQLITE_READONLY/.test(String((err.cause as { code?: unknown } | undefined)?.code ?? ''));

const reply = (id: number, err: unknown): void =>
  port.postMessage({
    id,
    error: { message: err instanceof Error ? err.message : String(err), unavailable: err instanceof StoreUnavailableError },
  } satisfies BlockReply);

port.on('message', (request: BlockRequest | 'close') => {
  if (request === 'close') {
    void (store?.close() ?? Promise.resolve()).then(() => port.close());
    return;
  }
  let target: SqliteEventStore;
  try {
    target = store ??= open();
  } catch (err) {
    reply(request.id, err);
    return;
  }
  Promise.resolve()
    .then(() => target.decisions.appendBlocks(request.blocks))
    .then(
      (result) => port.postMessage({ id: request.id, result } satisfies BlockReply),
      (err: unknown) => {
        if (readOnlyConnection(err) && store === target) {
          store = undefined;
          void target.close().catch(() => {});
        }
        reply(request.id, err);
      },
    );
});
port.postMessage('ready');

// The worker thread behind SqliteAppendThread: its own connection to the store file, storing the blocks the main thread sends.
import { parentPort, workerData } from 'node:worker_threads';

import { StoreUnavailableError } from './port.js';
import { SqliteEventStore } from './sqlite.js';
import type { BlockReply, BlockRequest } from './sqlite-append-thread.js';

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs?: number };
const port = parentPort!;
const store = SqliteEventStore.open(file, busyTimeoutMs === undefined ? {} : { busyTimeoutMs });

port.on('message', (request: BlockRequest | 'close') => {
  if (request === 'close') {
    void store.close().then(() => port.close());
    return;
  }
  Promise.resolve()
    .then(() => store.decisions.appendBlocks(request.blocks))
    .then(
      (result) => port.postMessage({ id: request.id, result } satisfies BlockReply),
      (err: unknown) =>
        port.postMessage({
          id: request.id,
          error: {
            message: err instanceof Error ? err.message : String(err),
            unavailable: err instanceof StoreUnavailableError,
          },
        } satisfies BlockReply),
    );
});
port.postMessage('ready');

// The worker thread behind SqliteAppendThread: its own connection to the store file, appending what the main thread sends.
import { parentPort, workerData } from 'node:worker_threads';

import { StoreUnavailableError } from './port.js';
import { SqliteEventStore } from './sqlite.js';
import { decodeEvents, type AppendReply, type AppendRequest } from './sqlite-append-thread.js';

const { file, busyTimeoutMs } = workerData as { file: string; busyTimeoutMs?: number };
const port = parentPort!;
const store = await SqliteEventStore.open(file, busyTimeoutMs === undefined ? {} : { busyTimeoutMs });

port.on('message', (request: AppendRequest | 'close') => {
  if (request === 'close') {
    void store.close().then(() => port.close());
    return;
  }
  store.appendSerialized(request.stream, decodeEvents(request.events), request.options).then(
    (result) => port.postMessage({ id: request.id, result } satisfies AppendReply),
    (err: unknown) =>
      port.postMessage({
        id: request.id,
        error: {
          message: err instanceof Error ? err.message : String(err),
          unavailable: err instanceof StoreUnavailableError,
        },
      } satisfies AppendReply),
  );
});
port.postMessage('ready');

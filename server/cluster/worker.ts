// A gateway worker of `serve --workers N`: the gateway listener over the shared store, told what to do by the primary.
import cluster from 'node:cluster';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../core/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Position } from '../../core/store/port.js';
import { PostgresEventStore } from '../../core/store/postgres.js';
import { SqliteEventStore } from '../../core/store/sqlite.js';
import { messageType, type FailedMessage, type HelloMessage, type ListeningMessage, type StartMessage, type SyncMessage, type SyncedMessage } from './protocol.js';
import { ClusterRateLimiter } from './rate-limit.js';
import { DEBUG_HEADER } from '../gateway/app.js';
import { createLogger } from '../logger.js';
import { AggregatorRegistry } from 'prom-client';
import { createGatewayServer, drain, followStore, listen, startAssertionSigner, startCore, stopRecord, type CoreParts } from '../serve.js';
import type { AssertionSigner } from '../gateway/assertion.js';

/** Answered to an admin's debug request (the admin token in {@link DEBUG_HEADER}): which worker served it. */
export const WORKER_HEADER = 'x-portcullis-worker';

const send = (message: ListeningMessage | FailedMessage | SyncedMessage, then?: () => void): void => {
  process.send?.(message, undefined, undefined, then);
};

/** This worker's end of the IPC channel. */
const primary = {
  send: (message: unknown) => process.send?.(message),
  on: (event: 'message', listener: (message: unknown) => void) => process.on(event, listener),
  get connected() {
    return process.connected;
  },
};

/** The projections a worker decides with, by the name the primary uses for their positions. */
const projectionsOf = (runtime: Runtime): Record<string, { waitFor(position: Position): Promise<void> }> => ({
  config: runtime.projection,
  tokens: runtime.tokens,
});

async function run(start: StartMessage): Promise<void> {
  const { config, upstream } = start;
  const logger: Logger = createLogger(config.logLevel).child({ worker: cluster.worker?.id, pid: process.pid });
  const limiter = new ClusterRateLimiter(primary);
  const starting = startCore(config, logger, { rateLimiter: limiter, metrics: 'traffic' });
  // Registered at once: a change the admin makes while this worker starts is acknowledged once it is started.
  process.on('message', (message: unknown) => {
    if (messageType(message) === 'sync') void starting.then((core) => sync(core, message as SyncMessage), () => {});
  });
  let core: CoreParts;
  try {
    core = await starting;
  } catch (err) {
    fail(err);
    return;
  }
  const { store, runtime, metrics } = core;
  // The primary's /metrics asks every worker for its registry and adds them up: constructing an
  // AggregatorRegistry is what makes prom-client answer those requests in a worker.
  AggregatorRegistry.setRegistries([metrics.registry]);
  new AggregatorRegistry();
  const follow = followStore(runtime, store, logger);

  let assertions: AssertionSigner;
  try {
    assertions = await startAssertionSigner(runtime, upstream, config, logger);
  } catch (err) {
    follow.stop();
    await runtime.close();
    await store.close();
    fail(err);
    return;
  }
  const { server, proxy } = createGatewayServer(runtime, upstream, config, logger, metrics, assertions);
  const pid = String(process.pid);
  // Runs before the gateway's own listener: the header is set before the answer starts.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const debug = req.headers[DEBUG_HEADER];
    if (typeof debug === 'string' && debug !== '' && runtime.isAdminToken(debug)) res.setHeader(WORKER_HEADER, pid);
  });
  try {
    send({ t: 'listening', url: await listen(server, config.listen) });
  } catch (err) {
    await runtime.close();
    await store.close();
    fail(err);
    return;
  }

  let closing: Promise<void> | undefined;
  const stop = (why: string) =>
    (closing ??= (async () => {
      logger.info({ why }, 'worker stopping: draining requests and flushing audit events');
      await drain([server]);
      follow.stop();
      await runtime.close();
      await proxy.close();
      limiter.close();
      await store.close();
      logger.info(stopRecord(runtime), 'worker stopped');
      process.exit(0);
    })());
  process.on('message', (message: unknown) => {
    if (messageType(message) === 'shutdown') void stop('primary asked');
  });
  // The primary is gone (killed): nobody counts rate limits or restarts us; finish cleanly.
  process.on('disconnect', () => {
    limiter.close();
    void stop('primary disconnected');
  });
  // A signal aimed at this worker alone: stop it (the primary starts a replacement).
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** Catch up with the store to the positions the primary names, then acknowledge. */
async function sync({ store, runtime }: CoreParts, message: SyncMessage): Promise<void> {
  // Another process appended: read now rather than at the next poll (on PostgreSQL, NOTIFY usually came first).
  if (store instanceof SqliteEventStore || store instanceof PostgresEventStore) store.notifier.notify();
  const projections = projectionsOf(runtime);
  await Promise.all(
    Object.entries(message.positions).map(([name, position]) => projections[name]?.waitFor(position as Position)),
  );
  await runtime.whenCompiled();
  send({ t: 'synced', id: message.id });
}

function fail(err: unknown): void {
  const code = (err as { code?: unknown }).code;
  send({ t: 'failed', message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) }, () => process.exit(1));
}

if (cluster.isWorker) {
  // Ctrl-C reaches the whole process group; the primary decides how workers stop.
  process.on('SIGINT', () => {});
  const onStart = (message: unknown): void => {
    if (messageType(message) !== 'start') return;
    process.off('message', onStart);
    void run(message as StartMessage);
  };
  process.on('message', onStart);
  // Messages that arrive before a listener exists are lost, so the primary waits for this one.
  process.send?.({ t: 'hello' } satisfies HelloMessage);
}

// `portcullis serve --workers N`: the admin listener and the shared counts in the primary, the gateway listener in N node:cluster workers.
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { sqliteFile } from '../../core/store/open.js';
import { isPostgresUrl } from '../../core/store/postgres-url.js';
import { AggregatorRegistry } from 'prom-client';
import { createAdminApp } from '../admin/app.js';
import { startCheckpointSigner } from '../runtime/checkpoint-signing.js';
import { openRateLimiter } from '../runtime/rate-limiter.js';
import { RetentionScheduler } from '../runtime/retention-scheduler.js';
import { StoreSizeWatch } from '../runtime/store-size.js';
import { messageType, type FailedMessage, type ListeningMessage, type StartMessage, type SyncMessage, type SyncedMessage } from './protocol.js';
import { answerRateLimits } from './rate-limit.js';
import type { ProcessConfig } from '../config.js';
import { assertionKeysFile, loadAssertionKeys } from '../assertion-keys.js';
import {
  DRAIN_MS, announceAdminToken, drain, followStore, listen, printNextStep, redactStore, resolveUpstream, startCore, startOrClose, type RunningGateway,
} from '../serve.js';

export interface ClusterOptions {
  /** Gateway workers to run (at least 2; one worker is the plain single-process `serve`). */
  readonly workers: number;
  /** How long an admin change waits for every worker's acknowledgement before it answers anyway. Default 5 s. */
  readonly syncTimeoutMs?: number;
  /** Workers keep dying (the restart budget is spent): the node cannot serve; the caller ends the process. */
  readonly onFatal?: (err: Error) => void;
}

/** A worker dying more often than this is a crash loop, not bad luck: stop restarting. */
const RESTART_BUDGET = { max: 5, windowMs: 60_000 };
/** Pause before a replacement starts, so a worker dying at start-up does not become a busy loop. */
const RESTART_DELAY_MS = 500;

interface Member {
  readonly worker: Worker;
  /** Pending `sync` acknowledgements by message id. */
  readonly acks: Map<number, () => void>;
  listening: boolean;
}

class WorkerStartError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'WorkerStartError';
  }
}

export async function serveCluster(config: ProcessConfig, logger: Logger, options: ClusterOptions): Promise<RunningGateway> {
  const count = options.workers;
  if (!Number.isInteger(count) || count < 2) throw new TypeError('serveCluster needs at least 2 workers');
  // Each worker opens the store itself: a file, or a server every process can reach, never one process's memory.
  if (sqliteFile(config.store) === undefined && !isPostgresUrl(config.store)) {
    throw new TypeError(`--workers ${count} needs a store every worker can open (sqlite:<path> or postgres://); ${config.store.split(':')[0]}: is private to one process`);
  }
  const syncTimeoutMs = options.syncTimeoutMs ?? 5_000;
  const members = new Map<number, Member>();
  // The one set of rate-limit counts (or the way to Redis, where the nodes' counts are); workers take leases of them over IPC.
  const limits = openRateLimiter(config, systemClock, logger);
  const limiter = limits.limiter;
  let runtime: Runtime | undefined;
  let syncSeq = 0;

  /** Every worker follows the store to where this process is, or the timeout passes. */
  const propagate = async (): Promise<void> => {
    if (!runtime) return;
    // Settings and providers, and gateway tokens (issued, revoked): what decides a request.
    const positions: Record<string, string> = {};
    if (runtime.projection.position !== undefined) positions.config = runtime.projection.position;
    if (runtime.tokens.position !== undefined) positions.tokens = runtime.tokens.position;
    if (Object.keys(positions).length === 0) return;
    await Promise.all([...members.values()].map((m) => syncWorker(m, positions)));
  };
  const syncWorker = (member: Member, positions: Record<string, string>): Promise<void> =>
    new Promise<void>((resolve) => {
      const id = ++syncSeq;
      const timer = setTimeout(() => {
        member.acks.delete(id);
        logger.warn({ worker: member.worker.id, timeoutMs: syncTimeoutMs }, 'a worker did not confirm a configuration change in time; it applies it when it catches up');
        resolve();
      }, syncTimeoutMs);
      member.acks.set(id, () => {
        clearTimeout(timer);
        member.acks.delete(id);
        resolve();
      });
      try {
        member.worker.send({ t: 'sync', id, positions } satisfies SyncMessage);
      } catch {
        member.acks.get(id)?.();
      }
    });

  const core = await startCore(config, logger, { rateLimiter: limiter, propagate, decides: false, metrics: 'rateLimit' }).catch(async (err: unknown) => {
    await limits.close();
    throw err;
  });
  const { store } = core;
  runtime = core.runtime;
  // Here, in the primary only: the workers append, one signer per store anchors what they wrote.
  const signer = await startOrClose(() => startCheckpointSigner(config, store, logger), async () => {
    await core.runtime.close();
    await limits.close();
    await store.close();
  });
  // Retention too runs here only: workers never drop days.
  const retention = new RetentionScheduler(store, () => core.runtime.projection.state.settings.audit.retention, systemClock, logger);
  retention.start();
  const sizeWatch = config.storeSizeWarnBytes === undefined ? undefined : new StoreSizeWatch(store, config.storeSizeWarnBytes, logger);
  core.runtime.storeSize = sizeWatch;
  sizeWatch?.start();
  const upstream = await resolveUpstream(config, logger);
  // The assertion key file exists before the workers start, so they all read the one key made here.
  try {
    await loadAssertionKeys(assertionKeysFile(config.assertionKeys, config.store), systemClock.now(), logger);
  } catch (err) {
    upstream.close();
    await retention.stop();
    sizeWatch?.stop();
    await core.runtime.close();
    await signer.stop();
    await store.close();
    throw err;
  }

  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker.js', import.meta.url)), args: [] });
  let stopping = false;
  const deaths: number[] = [];
  // node:cluster gives workers that ask for the same address one shared listening socket, keyed by the
  // address as asked: port 0 included, which then stands for the port the first of them got. A worker
  // asking for that port by number would bind it a second time and fail. So a replacement asks as the
  // workers still alive did; only when none is left (the shared socket is closed then) does it ask for
  // the port they had by number, to get it back.
  let sharedListen = config.listen;
  let boundListen = config.listen;
  const listenAddress = (): string => {
    if (![...members.values()].some((m) => m.listening)) sharedListen = boundListen;
    return sharedListen;
  };

  /** Start one worker; resolves with its gateway URL once it listens. */
  const fork = (): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const worker = cluster.fork();
      const member: Member = { worker, acks: new Map(), listening: false };
      members.set(worker.id, member);
      const stopAnswering = answerRateLimits(worker, limiter, { workers: count });
      worker.on('message', (message: unknown) => {
        switch (messageType(message)) {
          case 'hello':
            worker.send({ t: 'start', config: { ...config, listen: listenAddress() }, upstream: upstream.url } satisfies StartMessage);
            break;
          case 'listening':
            member.listening = true;
            resolve((message as ListeningMessage).url);
            break;
          case 'failed': {
            const { message: text, code } = message as FailedMessage;
            reject(new WorkerStartError(`worker ${worker.id} could not start: ${text}`, code));
            break;
          }
          case 'synced':
            member.acks.get((message as SyncedMessage).id)?.();
            break;
        }
      });
      worker.on('error', (err) => logger.warn({ err, worker: worker.id }, 'worker channel error'));
      worker.once('exit', (code, signal) => {
        stopAnswering();
        members.delete(worker.id);
        for (const ack of [...member.acks.values()]) ack();
        if (!member.listening) {
          reject(new WorkerStartError(`worker ${worker.id} exited during start-up (code ${code}, signal ${signal})`));
          return;
        }
        if (!stopping) replace(worker.id, code, signal);
      });
    });

  const replace = (id: number, code: number | null, signal: string | null): void => {
    const now = Date.now();
    deaths.push(now);
    while (deaths.length > 0 && deaths[0]! <= now - RESTART_BUDGET.windowMs) deaths.shift();
    if (deaths.length > RESTART_BUDGET.max) {
      const err = new Error(`gateway workers died ${deaths.length} times within ${RESTART_BUDGET.windowMs / 1000} s; not restarting them`);
      logger.error({ worker: id, code, signal }, err.message);
      options.onFatal?.(err);
      return;
    }
    logger.error({ worker: id, code, signal, restartsInWindow: deaths.length }, 'gateway worker died; starting a replacement');
    setTimeout(() => {
      if (stopping) return;
      fork().then(
        (url) => logger.info({ gateway: url }, 'replacement worker listening'),
        (err: unknown) => {
          logger.error({ err }, 'replacement worker failed to start');
          replace(id, null, null);
        },
      );
    }, RESTART_DELAY_MS).unref();
  };

  const stopWorkers = (): Promise<void> =>
    Promise.all(
      [...members.values()].map(({ worker }) => {
        if (worker.isDead()) return Promise.resolve();
        const exited = new Promise<void>((r) => worker.once('exit', () => r()));
        try {
          worker.send({ t: 'shutdown' });
        } catch {
          worker.process.kill('SIGTERM');
        }
        // A worker that cannot finish in time is ended by its pid; its unflushed audit is lost (and logged by it).
        const timer = setTimeout(() => worker.process.kill('SIGKILL'), DRAIN_MS + 7_000).unref();
        return exited.finally(() => clearTimeout(timer));
      }),
    ).then(() => undefined);

  const follow = followStore(core.runtime, store, logger);
  const closeCore = async (): Promise<void> => {
    follow.stop();
    await retention.stop();
    sizeWatch?.stop();
    await runtime?.close();
    await limits.close();
    // The workers have flushed their audit by now (stopWorkers comes first): the final checkpoint covers it.
    await signer.stop();
    upstream.close();
    await store.close();
  };

  let gatewayUrl: string;
  try {
    const urls = await Promise.all(Array.from({ length: count }, fork));
    gatewayUrl = urls[0]!;
    const bound = new URL(gatewayUrl);
    boundListen = `${bound.hostname}:${bound.port}`;
  } catch (err) {
    stopping = true;
    await stopWorkers();
    await closeCore();
    throw err;
  }

  // /metrics: the workers' registries added up (counters and histograms summed, gauges as each
  // declares), then the primary's own rate-limit metrics (the workers' counts are kept here).
  core.metrics.sources.rateLimitBackend = () => limits.redis?.state ?? 'local';
  core.metrics.sources.rateLimitLocalCounts = () => limits.redis?.localCounts ?? 0;
  const aggregator = new AggregatorRegistry();
  const clusterMetrics = {
    contentType: core.metrics.contentType,
    metrics: async () => `${await aggregator.clusterMetrics()}\n${await core.metrics.metrics()}`,
  };
  // Compared with the store's head once before listening: /readyz says not ready until then (it never throws).
  await follow.sample();
  const adminServer = createServer(createAdminApp({ runtime, logger, metrics: clusterMetrics, sessionKey: core.sessionKey }).callback());
  let adminUrl: string;
  try {
    adminUrl = await listen(adminServer, config.adminListen, 'adminListen');
  } catch (err) {
    stopping = true;
    await stopWorkers();
    await closeCore();
    throw err;
  }
  logger.info({ gateway: gatewayUrl, admin: adminUrl, workers: count, store: redactStore(config.store) }, 'portcullis is listening');
  // Only now that every listener is bound: a start that cannot listen leaves no token behind.
  const adminToken = await announceAdminToken(runtime);
  if (adminToken) printNextStep(adminUrl, gatewayUrl, adminToken);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopping = true;
      logger.info('shutting down: workers drain their requests and flush their audit events');
      await Promise.all([stopWorkers(), drain([adminServer])]);
      await closeCore();
      logger.info({ auditWritten: runtime?.audit.written ?? 0 }, 'stopped');
    })());
  return { gatewayUrl, adminUrl, close };
}

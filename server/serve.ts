// `portcullis serve`: open the store, rebuild state, start both listeners, and shut down without losing audit events.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { RateLimiter } from '../core/rate-limit.js';
import { Runtime } from './runtime/runtime.js';
import { openEventStore, sqliteFile } from '../core/store/open.js';
import { SqliteAppendThread } from '../core/store/sqlite-append-thread.js';
import type { EventStore, Position } from '../core/store/port.js';
import { builtinPlugins, loadPluginPackages, PluginRegistry } from '../providers/registry.js';
import { createAdminApp } from './admin/app.js';
import { CONSOLE_SESSION_KEY_PURPOSE } from './admin/session-cookie.js';
import { startCheckpointSigner } from './runtime/checkpoint-signing.js';
import { GatewayMetrics } from './runtime/metrics.js';
import { ProviderThrottle } from './runtime/provider-throttle.js';
import { StoreFollowWatch } from './runtime/store-follow.js';
import { openRateLimiter } from './runtime/rate-limiter.js';
import { RetentionScheduler } from './runtime/retention-scheduler.js';
import { StoreSizeWatch } from './runtime/store-size.js';
import { splitHostPort, type ProcessConfig } from './config.js';
import { startEchoUpstream } from './gateway/echo-upstream.js';
import { createGatewayApp } from './gateway/app.js';
import { createGatewayHttpServer } from './gateway/server.js';
import { UpstreamProxy } from './gateway/proxy.js';
import { AssertionSigner } from './gateway/assertion.js';
import { assertionKeysFile, loadAssertionKeys } from './assertion-keys.js';
import { loadSecretBox } from './secret-key.js';
import { ListenError } from './system-error.js';

export interface RunningGateway {
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  close(): Promise<void>;
}

/**
 * Listen on `host:port` and return the URL it is bound to (the bound port when 0 was asked for).
 * @param key the process configuration key that named the address, for the error
 * @throws ListenError naming the address (in use, not on this host)
 */
export async function listen(server: Server, address: string, key = 'listen'): Promise<string> {
  const { host, port } = splitHostPort(address);
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    throw new ListenError(address, key, err);
  }
  const bound = server.address() as AddressInfo;
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `http://${shown}:${bound.port}`;
}

/** How long in-flight requests get to finish at shutdown before their sockets are closed. */
export const DRAIN_MS = 10_000;

/** What both the single process and the cluster primary/workers need: plugins, store, secrets, runtime. */
export interface CoreParts {
  readonly store: EventStore;
  readonly runtime: Runtime;
  /** This process's metrics (decisions, latencies, provider calls, decision log, identity cache). */
  readonly metrics: GatewayMetrics;
  /** Seals the console's session cookies: derived from the secret key, so every node of a deployment accepts them. */
  readonly sessionKey: Uint8Array;
}

export interface CoreOptions {
  /** The cluster's shared counts (workers) or their owner (primary); default: per process. */
  readonly rateLimiter?: RateLimiter;
  /** See RuntimeOptions.propagate: the cluster primary waits for its workers here. */
  readonly propagate?: () => Promise<void>;
  /** False for a process that serves no gateway traffic (the cluster primary): it records no decision, so it starts no append thread. */
  readonly decides?: boolean;
  /** Which metrics this process keeps (see GatewayMetrics); default all. */
  readonly metrics?: 'all' | 'traffic' | 'rateLimit';
}

export async function startCore(config: ProcessConfig, logger: Logger, options: CoreOptions = {}): Promise<CoreParts> {
  const plugins = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(config.plugins))]);
  const store = await openEventStore(config.store);
  const file = sqliteFile(config.store);
  // Decision blocks are stored by a second connection in a worker thread (see SqliteAppendThread).
  // Their appends do not wake this connection's subscriptions: only the token-usage projection
  // reads access streams, and its poll (200 ms) is soon enough; waking every projection on every
  // block made each reread, from a page cache the other connection's commit had emptied.
  const auditAppender = file !== undefined && options.decides !== false ? new SqliteAppendThread(file) : undefined;
  // Started while the projections replay, so the first decisions do not wait for the thread. A
  // thread that cannot start fails the first blocks instead, which the writer logs and retries.
  const appenderReady = auditAppender?.start().catch(() => undefined);
  const metrics = new GatewayMetrics(options.metrics);
  // Each provider's outbound calls within its kind's budget, shared through Redis when configured.
  const throttle = new ProviderThrottle({ ...(config.redis ? { redisUrl: config.redis } : {}), keyPrefix: config.redisKeyPrefix, logger, observer: metrics });
  try {
    const secrets = loadSecretBox(config.secretKey, config.store, logger);
    const runtime = await Runtime.start({
      store,
      plugins,
      fetch: globalThis.fetch,
      clock: systemClock,
      logger,
      secrets,
      throttle,
      metrics,
      identityCache: {
        maxTtlSeconds: config.identityCacheSeconds,
        failureTtlSeconds: config.identityFailureCacheSeconds,
        maxEntries: config.identityCacheMaxEntries,
      },
      audit: { maxBuffered: config.auditMaxBuffered },
      ...(config.adminToken ? { adminToken: config.adminToken } : {}),
      ...(auditAppender ? { auditAppender } : {}),
      ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
      ...(options.propagate ? { propagate: options.propagate } : {}),
    });
    await appenderReady;
    return { store, runtime, metrics, sessionKey: secrets.deriveKey(CONSOLE_SESSION_KEY_PURPOSE) };
  } catch (err) {
    await auditAppender?.close();
    await throttle.close();
    await store.close();
    throw err;
  }
}

/** `start()`, or when it throws, `close()` what was opened before it and rethrow. */
export async function startOrClose<T>(start: () => T, close: () => Promise<void>): Promise<T> {
  try {
    return start();
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Create the admin token on first start and print it once; returns it when it was just created.
 * Called once the listeners are bound, so a start that cannot listen creates no token.
 */
export async function announceAdminToken(runtime: Runtime): Promise<string | undefined> {
  // Printed as soon as it exists: if a later step of the first start fails, the token is not lost.
  const adminToken = await runtime.ensureAdminToken();
  if (adminToken) process.stderr.write(`\nAdmin token (shown once, store it now): ${adminToken}\n\n`);
  return adminToken;
}

/** The configured upstream, or the built-in demo echo upstream (announced in the log) when none is. */
export async function resolveUpstream(config: ProcessConfig, logger: Logger): Promise<{ url: string; close(): void }> {
  if (config.upstream) return { url: config.upstream, close: () => {} };
  const echo = await startEchoUpstream();
  logger.warn({ upstream: echo.url }, 'no upstream configured: proxying to the built-in demo echo upstream (set PORTCULLIS_UPSTREAM or `upstream` in portcullis.yaml)');
  return { url: echo.url, close: () => echo.server.close() };
}

/**
 * The assertion signer over the key file (created on first start), reading the file again whenever
 * a rotation event arrives, in this process as in every worker and node that follows the store.
 */
export async function startAssertionSigner(runtime: Runtime, upstream: string, config: ProcessConfig, logger: Logger): Promise<AssertionSigner> {
  const file = assertionKeysFile(config.assertionKeys, config.store);
  const keys = await loadAssertionKeys(file, runtime.clock.now(), logger);
  const signer = new AssertionSigner(keys, { defaultAudience: new URL(upstream).origin, clock: runtime.clock, logger });
  runtime.projection.onChange((_state, event) => {
    if (event.type === 'AssertionKeyRotated') void signer.reload(file);
  });
  return signer;
}

/** The gateway listener's server and its proxy (not listening yet). */
export function createGatewayServer(
  runtime: Runtime,
  upstream: string,
  config: ProcessConfig,
  logger: Logger,
  metrics?: GatewayMetrics,
  assertions?: AssertionSigner,
): { server: Server; proxy: UpstreamProxy } {
  const proxy = new UpstreamProxy({
    upstream: new URL(upstream),
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    isTrustedProxy: (ip) => runtime.compiled.isTrustedProxy(ip),
    ...(metrics ? { upstreamTimed: (seconds: number) => metrics.upstream(seconds) } : {}),
  });
  const server = createGatewayHttpServer(createGatewayApp({ runtime, proxy, logger, ...(assertions ? { assertions } : {}) }).callback(), logger);
  return { server, proxy };
}

/** Sample the store's head against the configuration and token subscriptions, the further behind of the two (for /metrics and /readyz). */
export function followStore(runtime: Runtime, store: EventStore, logger: Logger): StoreFollowWatch {
  const follow = new StoreFollowWatch(store, () => earliest(runtime.projection.position, runtime.tokens.position), logger);
  runtime.follow = follow;
  follow.start();
  return follow;
}

/** The earlier of two positions; undefined (nothing folded yet) is earliest. */
export function earliest(a: Position | undefined, b: Position | undefined): Position | undefined {
  if (a === undefined || b === undefined) return undefined;
  return BigInt(a) <= BigInt(b) ? a : b;
}

/** Stop accepting, let in-flight requests finish (closing their sockets after DRAIN_MS). */
export async function drain(servers: readonly Server[]): Promise<void> {
  const drained = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  for (const s of servers) s.closeIdleConnections();
  const timer = setTimeout(() => {
    for (const s of servers) s.closeAllConnections();
  }, DRAIN_MS).unref();
  await drained;
  clearTimeout(timer);
}

/** A URL this host can call: a listener bound to every address (0.0.0.0, [::]) is reached on loopback. */
export function reachableUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}

/** The first start's banner: what to do next, with addresses that can be pasted as they are. */
export function nextStepText(adminUrl: string, gatewayUrl: string, adminToken: string): string {
  return [
    'Next step: add an OpenID Connect provider, for example',
    `  curl -X PUT ${reachableUrl(adminUrl)}/api/v1/providers/my-idp \\`,
    `    -H "Authorization: Bearer ${adminToken}" -H 'Content-Type: application/json' \\`,
    `    -d '{"kind":"oidc","config":{"issuer":"https://idp.example.com","audience":"api://my-api"}}'`,
    `then call the gateway: curl -H "Authorization: Bearer <access token>" ${reachableUrl(gatewayUrl)}/`,
    '',
  ].join('\n');
}

export function printNextStep(adminUrl: string, gatewayUrl: string, adminToken: string): void {
  process.stderr.write(nextStepText(adminUrl, gatewayUrl, adminToken));
}

export const redactStore = (url: string): string => url.replace(/\/\/[^@/]*@/, '//***@');

/**
 * What the stop log says of the decision log: decisions stored and dropped, and the flush
 * interval, the most a crash (kill -9, power loss) would have lost while the store kept up.
 */
export const stopRecord = (runtime: Runtime) => ({
  auditWritten: runtime.audit.written,
  auditDropped: runtime.audit.dropped,
  auditFlushIntervalMs: runtime.audit.flushIntervalMs,
});

/** One process: both listeners here (`serve --workers 1`, the default). */
export async function serve(config: ProcessConfig, logger: Logger): Promise<RunningGateway> {
  const limits = openRateLimiter(config, systemClock, logger);
  const { store, runtime, metrics, sessionKey } = await startCore(config, logger, { rateLimiter: limits.limiter }).catch(async (err: unknown) => {
    await limits.close();
    throw err;
  });
  const signer = await startOrClose(() => startCheckpointSigner(config, store, logger), async () => {
    await runtime.close();
    await limits.close();
    await store.close();
  });
  const retention = new RetentionScheduler(store, () => runtime.projection.state.settings.audit.retention, systemClock, logger);
  retention.start();
  const sizeWatch = config.storeSizeWarnBytes === undefined ? undefined : new StoreSizeWatch(store, config.storeSizeWarnBytes, logger);
  runtime.storeSize = sizeWatch;
  sizeWatch?.start();
  const upstream = await resolveUpstream(config, logger);

  metrics.sources.rateLimitBackend = () => limits.redis?.state ?? 'local';
  metrics.sources.rateLimitLocalCounts = () => limits.redis?.localCounts ?? 0;
  const follow = followStore(runtime, store, logger);
  // What the start has opened, closed in reverse: by stop(), and by a start that fails here.
  const closeCore = async (): Promise<void> => {
    follow.stop();
    await retention.stop();
    sizeWatch?.stop();
    await runtime.close();
    await limits.close();
    // After the last audit flush: the final checkpoint covers it.
    await signer.stop();
  };
  let assertions: AssertionSigner;
  try {
    assertions = await startAssertionSigner(runtime, upstream.url, config, logger);
  } catch (err) {
    await closeCore();
    upstream.close();
    await store.close();
    throw err;
  }
  // Compared with the store's head once before listening: /readyz says not ready until then (it never throws).
  await follow.sample();
  const { server: gatewayServer, proxy } = createGatewayServer(runtime, upstream.url, config, logger, metrics, assertions);
  const adminServer = createServer(createAdminApp({ runtime, logger, metrics, sessionKey }).callback());
  const stop = async (): Promise<void> => {
    await drain([gatewayServer, adminServer]);
    await closeCore();
    await proxy.close();
    upstream.close();
    await store.close();
  };
  let gatewayUrl: string;
  let adminUrl: string;
  try {
    // Bound before the admin token exists: a start that cannot listen leaves no token behind.
    gatewayUrl = await listen(gatewayServer, config.listen, 'listen');
    adminUrl = await listen(adminServer, config.adminListen, 'adminListen');
  } catch (err) {
    await stop();
    throw err;
  }
  logger.info({ gateway: gatewayUrl, admin: adminUrl, store: redactStore(config.store) }, 'portcullis is listening');
  const adminToken = await announceAdminToken(runtime);
  if (adminToken) printNextStep(adminUrl, gatewayUrl, adminToken);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: draining requests and flushing audit events');
      await stop();
      logger.info(stopRecord(runtime), 'stopped');
    })());
  return { gatewayUrl, adminUrl, close };
}

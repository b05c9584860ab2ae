// `portcullis serve`: open the store, rebuild state, start both listeners, and shut down without losing audit events.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { Runtime } from '../core/runtime.js';
import { openEventStore } from '../core/store/open.js';
import { builtinPlugins, loadPluginPackages, PluginRegistry } from '../providers/registry.js';
import { createAdminApp } from './admin.js';
import { splitHostPort, type ProcessConfig } from './config.js';
import { startEchoUpstream } from './echo-upstream.js';
import { createGatewayApp } from './gateway.js';
import { UpstreamProxy } from './proxy.js';
import { loadSecretBox } from './secret-key.js';

export interface RunningGateway {
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  close(): Promise<void>;
}

async function listen(server: Server, address: string): Promise<string> {
  const { host, port } = splitHostPort(address);
  server.listen(port, host);
  await once(server, 'listening');
  const bound = server.address() as AddressInfo;
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `http://${shown}:${bound.port}`;
}

/** How long in-flight requests get to finish at shutdown before their sockets are closed. */
const DRAIN_MS = 10_000;

export async function serve(config: ProcessConfig, logger: Logger): Promise<RunningGateway> {
  const plugins = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(config.plugins))]);
  const store = await openEventStore(config.store);
  const secrets = loadSecretBox(config.secretKey, config.store, logger);
  const runtime = await Runtime.start({
    store,
    plugins,
    fetch: globalThis.fetch,
    clock: systemClock,
    logger,
    secrets,
    identityCache: { maxTtlSeconds: config.identityCacheSeconds, failureTtlSeconds: config.identityFailureCacheSeconds },
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  });
  if (config.redis) logger.warn('redis is configured, but nothing in this version uses it yet (rate limits come with the rate-limit stage)');

  // Printed as soon as it exists: if a later step of the first start fails, the token is not lost.
  const adminToken = await runtime.ensureAdminToken();
  if (adminToken) process.stderr.write(`\nAdmin token (shown once, store it now): ${adminToken}\n\n`);

  let echo: Awaited<ReturnType<typeof startEchoUpstream>> | undefined;
  let upstream = config.upstream;
  if (!upstream) {
    echo = await startEchoUpstream();
    upstream = echo.url;
    logger.warn({ upstream }, 'no upstream configured: proxying to the built-in demo echo upstream (set PORTCULLIS_UPSTREAM or `upstream` in portcullis.yaml)');
  }

  const proxy = new UpstreamProxy({
    upstream: new URL(upstream),
    timeoutMs: config.upstreamTimeoutMs,
    logger,
    isTrustedProxy: (ip) => runtime.compiled.isTrustedProxy(ip),
  });
  const gatewayServer = createServer(createGatewayApp({ runtime, proxy, logger }).callback());
  const adminServer = createServer(createAdminApp({ runtime, logger }).callback());
  const gatewayUrl = await listen(gatewayServer, config.listen);
  const adminUrl = await listen(adminServer, config.adminListen);
  logger.info({ gateway: gatewayUrl, admin: adminUrl, store: config.store.replace(/\/\/[^@/]*@/, '//***@') }, 'portcullis is listening');

  if (adminToken) {
    process.stderr.write(
      [
        'Next step: add an OpenID Connect provider, for example',
        `  curl -X PUT ${adminUrl}/api/v1/providers/my-idp \\`,
        `    -H "Authorization: Bearer ${adminToken}" -H 'Content-Type: application/json' \\`,
        `    -d '{"kind":"oidc","config":{"issuer":"https://idp.example.com","audience":"api://my-api"}}'`,
        `then call the gateway: curl -H "Authorization: Bearer <access token>" ${gatewayUrl}/`,
        '',
      ].join('\n'),
    );
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      logger.info('shutting down: draining requests and flushing audit events');
      const drained = Promise.all([gatewayServer, adminServer].map((s) => new Promise<void>((r) => s.close(() => r()))));
      gatewayServer.closeIdleConnections();
      adminServer.closeIdleConnections();
      const timer = setTimeout(() => {
        gatewayServer.closeAllConnections();
        adminServer.closeAllConnections();
      }, DRAIN_MS).unref();
      await drained;
      clearTimeout(timer);
      await runtime.close();
      await proxy.close();
      echo?.server.close();
      await store.close();
      logger.info({ auditWritten: runtime.audit.written, auditDropped: runtime.audit.dropped }, 'stopped');
    })());
  return { gatewayUrl, adminUrl, close };
}

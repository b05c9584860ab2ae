// Three gateways in-process, sharing one Redis: a limit of 100 a minute admits 100 across them, not 300; /readyz says where counts are.
import { expect } from 'chai';
import { Agent } from 'undici';

import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { processConfigSchema } from '../../../server/config.js';
import { startEchoUpstream } from '../../../server/gateway/echo-upstream.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { openRateLimiter, type NodeRateLimiter } from '../../../server/runtime/rate-limiter.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { ADMIN_TOKEN, changeSettings, listen, plugins, send, type HttpResult, type Listening } from '../fixtures.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../../support/redis.js';

describe('server/runtime/rate-limiter: limits shared by several gateways through Redis', function () {
  this.timeout(60_000);
  requireRedis();
  let prefix: string;
  let cleanups: (() => Promise<void>)[];
  let client: Agent;

  beforeEach(() => {
    prefix = testKeyPrefix();
    cleanups = [];
    client = new Agent({ connections: 20 });
  });
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    await client.close();
    await dropKeys(prefix);
  });

  /** One gateway node: its own store, runtime, Redis connection and listeners, as a separate process would have. */
  async function node(upstream: string): Promise<{ gateway: Listening; admin: Listening; limits: NodeRateLimiter }> {
    const config = processConfigSchema.parse({ redis: TEST_REDIS_URL, redisKeyPrefix: prefix });
    const limits = openRateLimiter(config, systemClock, silentLogger);
    cleanups.push(() => limits.close());
    expect(await limits.redis!.whenConnected(10_000)).to.equal(true);
    const store = new MemoryEventStore({ clock: systemClock });
    const runtime = await Runtime.start({
      store, plugins, fetch: globalThis.fetch, clock: systemClock, logger: silentLogger, adminToken: ADMIN_TOKEN, rateLimiter: limits.limiter,
    });
    cleanups.push(() => runtime.close());
    await changeSettings(runtime, { paths: { public: ['/**'] }, rateLimit: { enabled: true, limit: 100, windowSeconds: 60, key: 'ip' } });
    const proxy = new UpstreamProxy({ upstream: new URL(upstream), timeoutMs: 5000, logger: silentLogger, isTrustedProxy: () => false });
    cleanups.push(() => proxy.close());
    const gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
    cleanups.push(() => gateway.close());
    const admin = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
    cleanups.push(() => admin.close());
    return { gateway, admin, limits };
  }

  it('a limit of 100 per minute across 3 nodes admits 100, not 300', async () => {
    const echo = await startEchoUpstream();
    cleanups.push(async () => void echo.server.close());
    const nodes = [await node(echo.url), await node(echo.url), await node(echo.url)];
    const results: HttpResult[] = [];
    for (let round = 0; round < 10; round++) {
      results.push(...(await Promise.all(Array.from({ length: 30 }, (_, i) => send(client, `${nodes[i % 3]!.gateway.url}/item/${round}-${i}`)))));
    }
    expect(results.every((r) => r.status === 200 || r.status === 429)).to.equal(true);
    // Told apart by the window's end, in case the run crosses a minute: each window admits exactly its limit.
    const windows = new Map<string, HttpResult[]>();
    for (const r of results) windows.set(r.headers['x-ratelimit-reset']!, [...(windows.get(r.headers['x-ratelimit-reset']!) ?? []), r]);
    for (const inWindow of windows.values()) expect(inWindow.filter((r) => r.status === 200)).to.have.length(Math.min(100, inWindow.length));
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.json.error).to.equal('rate_limited');
    expect(refused.headers['retry-after']).to.match(/^\d+$/);
    // Every node refused some: the count really is one, wherever a request lands.
    for (const n of nodes) expect(n.limits.redis!.localCounts).to.equal(0);

    const ready = await send(client, `${nodes[0]!.admin.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(ready.json.status).to.equal('ready');
    expect((ready.json.checks as Record<string, unknown>).redis).to.deep.equal({ ready: true, detail: 'rate limits shared through Redis' });
  });

  it('without redis configured the counts stay per node and /readyz has no redis line', () => {
    const limits = openRateLimiter(processConfigSchema.parse({}), systemClock, silentLogger);
    expect(limits.redis).to.equal(undefined);
    expect(limits.limiter.status).to.equal(undefined);
  });
});

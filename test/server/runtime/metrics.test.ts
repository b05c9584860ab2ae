// GET /metrics on the admin listener (prom-client text): decisions by decision/reason/stage, latencies, provider calls, decision log, identity cache, rate-limit backend.
import { expect } from 'chai';
import { Agent } from 'undici';

import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { startEchoUpstream } from '../../../server/gateway/echo-upstream.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { GatewayMetrics } from '../../../server/runtime/metrics.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { StoreFollowWatch } from '../../../server/runtime/store-follow.js';
import { ADMIN_TOKEN, configureStatic, FIXED_TIME, listen, plugins, send, type Listening } from '../fixtures.js';

/** The value of one sample line (`name{labels} value`), or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('server/runtime/metrics: GET /metrics', () => {
  let cleanups: (() => Promise<void>)[];
  let client: Agent;
  let runtime: Runtime;
  let metrics: GatewayMetrics;
  let gateway: Listening;
  let admin: Listening;

  beforeEach(async () => {
    cleanups = [];
    client = new Agent();
    const clock = new ManualClock(FIXED_TIME);
    const store = new MemoryEventStore({ clock });
    metrics = new GatewayMetrics();
    runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: ADMIN_TOKEN, metrics });
    cleanups.push(() => runtime.close());
    const follow = new StoreFollowWatch(store, () => runtime.projection.position, silentLogger);
    runtime.follow = follow;
    await follow.sample();
    metrics.sources.rateLimitBackend = () => 'local';
    const echo = await startEchoUpstream();
    cleanups.push(async () => void echo.server.close());
    const proxy = new UpstreamProxy({ upstream: new URL(echo.url), timeoutMs: 5000, logger: silentLogger, isTrustedProxy: () => false, upstreamTimed: (s) => metrics.upstream(s) });
    cleanups.push(() => proxy.close());
    gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
    cleanups.push(() => gateway.close());
    admin = await listen(createAdminApp({ runtime, logger: silentLogger, metrics }).callback());
    cleanups.push(() => admin.close());
  });
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    await client.close();
  });

  it('counts decisions by decision, reason and stage, times them and the upstream, without the admin token', async () => {
    await configureStatic(runtime, 'p1', { 'tok-alice-5f1c2d9e8b7a': { username: 'alice' } });
    for (let i = 0; i < 3; i++) expect((await send(client, `${gateway.url}/x`)).status).to.equal(401);
    expect((await send(client, `${gateway.url}/x`, { headers: { authorization: 'Bearer tok-alice-5f1c2d9e8b7a' } })).status).to.equal(200);
    expect((await send(client, `${gateway.url}/_portcullis/nothing`)).status).to.equal(404);

    const res = await send(client, `${admin.url}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(sample(res.text, 'portcullis_requests_total{decision="deny",reason="missing_credential",stage="authenticate"}')).to.equal(3);
    expect(sample(res.text, 'portcullis_requests_total{decision="allow",reason="authenticated",stage="pipeline"}')).to.equal(1);
    expect(sample(res.text, 'portcullis_requests_total{decision="deny",reason="not_found",stage="gateway"}')).to.equal(1);
    expect(sample(res.text, 'portcullis_decision_seconds_count')).to.equal(4); // the edge refusal is counted, not timed
    expect(sample(res.text, 'portcullis_upstream_seconds_count')).to.equal(1);
    expect(sample(res.text, 'portcullis_decision_log_buffered')).to.be.a('number');
    expect(sample(res.text, 'portcullis_decision_log_dropped_total')).to.equal(0);
    expect(sample(res.text, 'portcullis_subscription_lag_events')).to.equal(0);
    expect(sample(res.text, 'portcullis_rate_limit_backend{backend="local"}')).to.equal(1);
    expect(sample(res.text, 'portcullis_rate_limit_backend{backend="redis"}')).to.equal(0);

    // A second scrape adds only what happened since.
    await send(client, `${gateway.url}/x`);
    const again = await send(client, `${admin.url}/metrics`);
    expect(sample(again.text, 'portcullis_requests_total{decision="deny",reason="missing_credential",stage="authenticate"}')).to.equal(4);
  });

  it('reports provider calls: latency, errors, queued and throttled, per provider', () => {
    metrics.called('gh', 0.12, false);
    metrics.called('gh', 5, true);
    metrics.queued('gh');
    metrics.expired('gh');
    return metrics.metrics().then((text) => {
      expect(sample(text, 'portcullis_provider_call_seconds_count{provider="gh"}')).to.equal(2);
      expect(sample(text, 'portcullis_provider_call_errors_total{provider="gh"}')).to.equal(1);
      expect(sample(text, 'portcullis_provider_calls_queued_total{provider="gh"}')).to.equal(1);
      expect(sample(text, 'portcullis_provider_calls_throttled_total{provider="gh"}')).to.equal(1);
    });
  });

  it('reports identity-cache hits and misses from the runtime cache', async () => {
    runtime.cache.hits = 7;
    runtime.cache.misses = 3;
    const text = await metrics.metrics();
    expect(sample(text, 'portcullis_identity_cache_hits_total')).to.equal(7);
    expect(sample(text, 'portcullis_identity_cache_misses_total')).to.equal(3);
  });
});

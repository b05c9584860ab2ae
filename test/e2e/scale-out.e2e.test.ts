// Three `portcullis serve` processes sharing PostgreSQL (through a TCP relay the test can cut) and Redis: a shared rate limit, changes propagated within 1 s (p99), a node killed and caught up, a store outage, and `serve --workers 2` on PostgreSQL.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { DEBUG_HEADER } from '../../server/gateway/app.js';
import { dropSchema, requirePostgres, storeUrl, testSchema, TEST_POSTGRES_URL } from '../core/store/postgres-fixture.js';
import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.js';
import { call, fresh, type HttpResult } from './fixtures/http.js';
import { CLI, startGateway, startOp, type Gateway } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function expectStatus(res: HttpResult, status: number): void {
  expect(res.status, `${res.status} ${res.text.slice(0, 500)}`).to.equal(status);
}

/** The p-th percentile by nearest rank: the smallest sample with at least p % of the samples at or below it. */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sums one unlabelled series over the nodes' /metrics. */
async function metricSum(nodes: readonly Gateway[], name: string): Promise<number> {
  let sum = 0;
  for (const node of nodes) {
    const line = (await call(`${node.adminUrl}/metrics`)).text.split('\n').find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new Error(`${node.adminUrl}/metrics has no ${name}`);
    sum += Number(line.slice(name.length + 1));
  }
  return sum;
}

describe('three nodes on PostgreSQL and Redis (processes)', function () {
  this.timeout(90_000);
  requirePostgres();
  requireRedis();

  const adminToken = `pca_e2e_${randomUUID()}`;
  const auth = { authorization: `Bearer ${adminToken}` };
  const schema = testSchema();
  const prefix = testKeyPrefix();
  const dirs: string[] = [];
  let upstream: Upstream;
  /** Every node reaches PostgreSQL through it: the store outage test cuts it. */
  let relay: TcpRelay;
  let env: Record<string, string>;
  let issuer: string;
  let nodes: Gateway[];

  const adminCall = (node: Gateway, method: string, path: string, body?: unknown): Promise<HttpResult> =>
    call(`${node.adminUrl}/api/v1${path}`, {
      method,
      headers: { ...auth, ...(method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
  const patchSettings = async (node: Gateway, patch: unknown): Promise<number> => {
    const res = await adminCall(node, 'PATCH', '/settings', patch);
    expectStatus(res, 200);
    return (res.json as { revision: number }).revision;
  };
  /** Decisions in the store under a path prefix, as the audit export of `node` lists them. */
  const stored = async (node: Gateway, path: string): Promise<{ allow: number; deny: number }> => {
    const res = await adminCall(node, 'GET', `/audit/export?format=ndjson&path=${encodeURIComponent(path)}`);
    expectStatus(res, 200);
    const rows = res.text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { allow: boolean });
    return { allow: rows.filter((r) => r.allow).length, deny: rows.filter((r) => !r.allow).length };
  };
  /** Every node is still running: a node that died says why (the end of its output) rather than refusing a connection later. */
  const expectAlive = (): void => {
    for (const node of nodes) expect(node.process.hasExited, `${node.url} exited:\n${node.process.output.slice(-30).join('\n')}`).to.equal(false);
  };
  const revisionAt = async (node: Gateway): Promise<number> => ((await adminCall(node, 'GET', '/settings')).json as { revision: number }).revision;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    upstream = await startUpstream();
    const postgres = new URL(TEST_POSTGRES_URL);
    relay = await startTcpRelay(postgres.hostname, Number(postgres.port || 5432));
    const viaRelay = new URL(storeUrl(schema));
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(relay.port);
    const key = await generateSigningKey('scale-out-k1');
    const op = await startOp({ jwks: { keys: [key.privateJwk] }, clients: [E2E_CLIENT], tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS } });
    issuer = op.issuer;
    env = {
      PORTCULLIS_STORE: viaRelay.toString(),
      PORTCULLIS_REDIS: TEST_REDIS_URL,
      PORTCULLIS_ADMIN_TOKEN: adminToken,
      PORTCULLIS_SECRET_KEY: randomBytes(32).toString('base64'),
    };
    nodes = [];
    for (let i = 0; i < 3; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), `portcullis-node${i}-`));
      dirs.push(dataDir);
      // Read from the working directory: this run's keys only.
      await writeFile(join(dataDir, 'portcullis.yaml'), `redisKeyPrefix: "${prefix}"\n`);
      nodes.push(await startGateway({ dataDir, upstream: upstream.url, env, timeoutMs: 30_000 }));
    }
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await relay?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await dropSchema(schema).catch(() => undefined);
    await dropKeys(prefix).catch(() => undefined);
    await dropKeys(`b_${prefix}`).catch(() => undefined);
  });

  it('a limit of 100 set through one node admits 100 across the three, not 300', async () => {
    const patch = await call(`${nodes[0]!.adminUrl}/api/v1/settings`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/merge-patch+json' },
      // A day-long window: the test cannot straddle a window boundary.
      body: { paths: { public: ['/**'] }, rateLimit: { enabled: true, limit: 100, windowSeconds: 86_400, key: 'ip' } },
    });
    expect(patch.status, patch.text).to.equal(200);
    const revision = (patch.json as { revision: number }).revision;
    for (const node of nodes) {
      await eventually(async () => ((await call(`${node.adminUrl}/api/v1/settings`, { headers: auth })).json as { revision: number }).revision === revision, {
        within: 10_000,
        what: 'every node has the new settings',
      });
      // The node has the settings a moment before its gateway decides with them (the pipeline is
      // compiled after the event is folded): wait for the first anonymous 200, which the limit counts.
      await eventually(async () => (await call(`${node.url}/probe`)).status === 200, { within: 10_000, what: 'every node decides with the new settings' });
    }

    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(`${nodes[i % 3]!.url}/item/${round}-${i}`)));
      statuses.push(...answers.map((a) => a.status));
    }
    // 100 in all: one probe per node, and 97 of these 300.
    expect(statuses.filter((s) => s === 200)).to.have.length(97);
    expect(statuses.filter((s) => s === 429)).to.have.length(203);

    for (const node of nodes) {
      const ready = await call(`${node.adminUrl}/readyz`);
      expect(ready.status).to.equal(200);
      const checks = (ready.json as { checks: Record<string, unknown> }).checks;
      expect(checks.redis).to.deep.equal({ ready: true, detail: 'rate limits shared through Redis' });
      expect(checks.store).to.deep.equal({ ready: true });
      const metrics = await call(`${node.adminUrl}/metrics`);
      expect(metrics.text.split('\n')).to.include('portcullis_rate_limit_backend{backend="redis"} 1');
    }
  });

  it('a settings change, a provider change and revocations (admin API and self-service) made through one node take effect on the other two within 1 s (p99)', async () => {
    // Nothing public, no limit: every request below needs a credential. Users may make their own tokens.
    await patchSettings(nodes[0]!, {
      paths: { public: [] },
      rateLimit: { enabled: false },
      tokens: { allowUserCreate: true },
      groups: { tokenCreators: ['developers'] },
    });
    const op = { kind: 'oidc', config: { issuer, audience: RESOURCE, groupsClaim: 'groups' }, order: 0 };
    expectStatus(await adminCall(nodes[1]!, 'PUT', '/providers/op', { ...op, enabled: true }), 201);
    const jwt = await clientCredentialsToken(issuer, E2E_CLIENT, RESOURCE);
    for (const node of nodes) {
      await eventually(async () => expectStatus(await call(`${node.url}/prov/ready`, { headers: bearer(jwt) }), 200), { within: 10_000 });
    }

    const samples: Record<string, number[]> = { settings: [], provider: [], 'admin revocation': [], 'self-service revocation': [] };
    /**
     * Make one change through `through` (it has answered once this resolves, so the change is in
     * the store), then time each other node from that answer until `holds` is true there.
     */
    const measure = async (kind: string, through: number, change: () => Promise<void>, holds: (node: Gateway) => Promise<boolean>): Promise<void> => {
      await change();
      const since = performance.now();
      const times = await Promise.all(
        nodes
          .filter((_, i) => i !== through)
          .map(async (node) => {
            await eventually(holds.bind(null, node), { within: 10_000, every: 5, what: `a ${kind} made through node ${through} takes effect at ${node.url}` });
            return performance.now() - since;
          }),
      );
      samples[kind]!.push(...times);
    };
    const status = async (url: string, headers: Record<string, string> = {}): Promise<number> => (await call(url, { headers })).status;

    for (let i = 0; i < 20; i++) {
      const through = i % 3;
      // A public path toggled: an anonymous request flips between 200 and 401.
      const open = i % 2 === 0;
      await measure('settings', through, async () => void (await patchSettings(nodes[through]!, { paths: { public: open ? ['/pub/**'] : [] } })),
        async (node) => (await status(`${node.url}/pub/${i}`)) === (open ? 200 : 401));
      // The provider switched off and on: its caller's token flips between 401 and 200.
      const enabled = i % 2 === 1;
      await measure('provider', through, async () => expectStatus(await adminCall(nodes[through]!, 'PUT', '/providers/op', { ...op, enabled }), 200),
        async (node) => (await status(`${node.url}/prov/${i}`, bearer(jwt))) === (enabled ? 200 : 401));
    }

    const usableEverywhere = async (token: string): Promise<void> => {
      await Promise.all(nodes.map((node) => eventually(async () => (await status(`${node.url}/tok/ok`, bearer(token))) === 200, { within: 10_000, what: 'a new token is accepted everywhere' })));
    };
    const refused = (token: string) => async (node: Gateway) => {
      const res = await call(`${node.url}/tok/x`, { headers: bearer(token) });
      return res.status === 401 && (res.json as { error?: string }).error === 'token_revoked';
    };
    for (let i = 0; i < 10; i++) {
      const through = i % 3;
      const made = await adminCall(nodes[through]!, 'POST', '/tokens', { owner: 'ci-robot', kind: 'service', name: `robot ${i}`, groups: ['robots'] });
      expectStatus(made, 201);
      const service = made.json as { id: string; token: string };
      await usableEverywhere(service.token);
      await measure('admin revocation', through, async () => expectStatus(await adminCall(nodes[through]!, 'DELETE', `/tokens/${service.id}?reason=rotated`), 204), refused(service.token));

      const own = await call(`${nodes[through]!.url}/_portcullis/tokens`, { method: 'POST', headers: bearer(jwt), body: { name: `laptop ${i}`, expiresInDays: 1 } });
      expectStatus(own, 201);
      const user = own.json as { id: string; token: string };
      await usableEverywhere(user.token);
      await measure('self-service revocation', through,
        async () => expectStatus(await call(`${nodes[through]!.url}/_portcullis/tokens/${user.id}`, { method: 'DELETE', headers: bearer(jwt) }), 204),
        refused(user.token));
    }

    const all = Object.values(samples).flat();
    const line = (name: string, values: number[]) =>
      `${name}: p50 ${percentile(values, 50).toFixed(0)} ms, p99 ${percentile(values, 99).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms over ${values.length}`;
    process.stdout.write(`      time to effect on the other nodes:\n${[...Object.entries(samples), ['all', all] as const].map(([k, v]) => `        ${line(k, v)}\n`).join('')}`);
    for (const [kind, values] of Object.entries(samples)) {
      expect(values, kind).to.have.length(kind.includes('revocation') ? 20 : 40);
      expect(percentile(values, 99), `p99 of ${kind}`).to.be.at.most(1000);
    }
  });

  it('after kill -9 of one node the other two keep serving, and the restarted node says ready only once it serves the latest settings', async () => {
    const made = await adminCall(nodes[0]!, 'POST', '/tokens', { owner: 'ci-robot', kind: 'service', name: 'kept across the kill', groups: ['robots'] });
    expectStatus(made, 201);
    const service = made.json as { id: string; token: string };
    for (const node of nodes) await eventually(async () => expectStatus(await call(`${node.url}/k/ok`, { headers: bearer(service.token) }), 200), { within: 10_000 });

    expectAlive();
    const killed = await nodes[2]!.process.kill9();
    expect(killed.signal).to.equal('SIGKILL');
    for (let i = 0; i < 20; i++) expectStatus(await call(`${nodes[i % 2]!.url}/k/${i}`, { headers: bearer(service.token) }), 200);
    // Changes while it is down, through both survivors: settings, then a revocation.
    let head = 0;
    for (let i = 0; i < 6; i++) head = await patchSettings(nodes[i % 2]!, { paths: { public: [`/down-${i}/**`] } });
    expectStatus(await adminCall(nodes[1]!, 'DELETE', `/tokens/${service.id}?reason=node-down`), 204);
    for (const node of nodes.slice(0, 2)) expectStatus(await call(`${node.adminUrl}/readyz`), 200);

    const restarted = await startGateway({ dataDir: dirs[2]!, upstream: upstream.url, env, timeoutMs: 30_000 });
    nodes[2] = restarted;
    // Every answer /readyz gives from the first: whenever it says ready, what the node serves is the head.
    const stale: string[] = [];
    let answers = 0;
    let ready = 0;
    await eventually(
      async () => {
        const res = await call(`${restarted.adminUrl}/readyz`);
        answers += 1;
        if (res.status !== 200) return false;
        ready += 1;
        const revision = await revisionAt(restarted);
        if (revision !== head) stale.push(`ready at revision ${revision}, the head is ${head}: ${res.text}`);
        if ((await call(`${restarted.url}/down-5/x`)).status !== 200) stale.push('ready, but /down-5/** is not public yet');
        if ((await call(`${restarted.url}/k/x`, { headers: bearer(service.token) })).status !== 401) stale.push('ready, but the token revoked meanwhile is accepted');
        return ready >= 5;
      },
      { within: 20_000, every: 10, what: 'the restarted node says ready five times' },
    );
    expect(stale, `${answers} answers`).to.deep.equal([]);
  });

  it('while the store cannot be reached the nodes enforce the last known settings, say degraded, refuse admin writes with 503 store_unavailable and buffer decisions; all is flushed when it returns', async () => {
    expectAlive();
    const run = randomUUID().slice(0, 8);
    const head = await patchSettings(nodes[0]!, { paths: { public: [`/out-${run}/**`] } });
    for (const node of nodes) await eventually(async () => (await revisionAt(node)) === head, { within: 10_000, what: 'every node has the last settings' });
    const dropped = await metricSum(nodes, 'portcullis_decision_log_dropped_total');

    relay.down();
    try {
      for (const node of nodes) {
        const res = await eventually(
          async () => {
            const answer = await call(`${node.adminUrl}/readyz`);
            const body = answer.json as { status: string; checks: { store: { degraded?: boolean } } };
            return body.status === 'degraded' && body.checks.store.degraded === true ? answer : false;
          },
          { within: 15_000, every: 100, what: `${node.adminUrl}/readyz says the store is away` },
        );
        // Degraded, not out of rotation: a node that cannot reach the store still serves its last settings.
        expect(res.status).to.equal(200);
        expect((res.json as { checks: { store: { detail: string } } }).checks.store.detail).to.match(/^store unavailable \(.+\): serving the last known settings$/);
      }
      // Fail-static: the public path stays public, everything else still needs a credential.
      for (let i = 0; i < 30; i++) {
        expectStatus(await call(`${nodes[i % 3]!.url}/out-${run}/${i}`), 200);
        expectStatus(await call(`${nodes[i % 3]!.url}/in-${run}/${i}`), 401);
      }
      for (const node of nodes) {
        const write = await adminCall(node, 'PATCH', '/settings', { paths: { public: [] } });
        expectStatus(write, 503);
        expect((write.json as { error: string }).error).to.equal('store_unavailable');
        expect(write.text).not.to.match(/\n\s+at |postgres:\/\/|ECONN/);
        expectStatus(await adminCall(node, 'POST', '/tokens', { owner: 'ci-robot', kind: 'service', name: 'in the outage', groups: ['robots'] }), 503);
      }
      expect(await metricSum(nodes, 'portcullis_decision_log_buffered')).to.be.at.least(60);
    } finally {
      relay.up();
    }

    for (const node of nodes) {
      await eventually(async () => ((await call(`${node.adminUrl}/readyz`)).json as { status: string }).status === 'ready', {
        within: 20_000,
        every: 100,
        what: `${node.adminUrl}/readyz is ready again`,
      });
    }
    // Every decision taken in the outage is in the store: 30 allowed, 30 refused.
    await eventually(async () => expect(await stored(nodes[1]!, `/out-${run}/`)).to.deep.equal({ allow: 30, deny: 0 }), { within: 20_000, every: 200 });
    expect(await stored(nodes[0]!, `/in-${run}/`)).to.deep.equal({ allow: 0, deny: 30 });
    expect(await metricSum(nodes, 'portcullis_decision_log_dropped_total')).to.equal(dropped);
    // Writes work again, and reach every node.
    const next = await patchSettings(nodes[2]!, { paths: { public: [] } });
    for (const node of nodes) await eventually(async () => (await revisionAt(node)) === next, { within: 10_000, what: 'every node has the change made after the outage' });
  });

  it('serve --workers 2 runs on the PostgreSQL store: its workers follow changes made through other nodes and decide with them', async () => {
    expectAlive();
    const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-workers-pg-'));
    dirs.push(dataDir);
    await writeFile(join(dataDir, 'portcullis.yaml'), `redisKeyPrefix: "${prefix}"\n`);
    const cluster = await startGateway({ dataDir, upstream: upstream.url, env, workers: 2, timeoutMs: 40_000 });
    const debug = { [DEBUG_HEADER]: adminToken };
    /** Each worker's answer to `path`, on connections of their own until both workers have answered. */
    const byWorker = async (path: string, headers: Record<string, string> = {}): Promise<number[]> => {
      const seen = new Map<string, number>();
      for (let i = 0; i < 10 && seen.size < 2; i++) {
        const answer = await fresh(`${cluster.url}${path}`, { ...headers, ...debug });
        seen.set(answer.worker ?? '?', answer.status);
      }
      expect([...seen.keys()], 'both workers answered').to.have.length(2);
      return [...seen.values()];
    };
    const run = randomUUID().slice(0, 8);
    // A change made through another node reaches both workers.
    await patchSettings(nodes[0]!, { paths: { public: [`/w-${run}/**`] } });
    await eventually(async () => (await byWorker(`/w-${run}/a`)).every((s) => s === 200), { within: 10_000, what: 'both workers have the change' });
    // A change made through the cluster's own admin API is in both workers when it answers.
    await patchSettings(cluster, { paths: { public: [] } });
    expect(await byWorker(`/w-${run}/b`)).to.deep.equal([401, 401]);
    // A token issued, then revoked, through other nodes: both workers accept it, then refuse it.
    const made = await adminCall(nodes[1]!, 'POST', '/tokens', { owner: 'ci-robot', kind: 'service', name: 'workers', groups: ['robots'] });
    expectStatus(made, 201);
    const service = made.json as { id: string; token: string };
    await eventually(async () => (await byWorker(`/w-${run}/c`, bearer(service.token))).every((s) => s === 200), { within: 10_000, what: 'both workers accept the token' });
    expectStatus(await adminCall(nodes[2]!, 'DELETE', `/tokens/${service.id}`), 204);
    await eventually(async () => (await byWorker(`/w-${run}/d`, bearer(service.token))).every((s) => s === 401), { within: 10_000, what: 'both workers refuse the token' });
    // The workers' decisions are in the store.
    await eventually(
      async () => {
        const { allow, deny } = await stored(cluster, `/w-${run}/`);
        return allow >= 4 && deny >= 4;
      },
      { within: 10_000, what: "the workers' decisions are stored" },
    );

    // A route's own limit holds across the cluster's workers, which admit from leases their primary
    // takes in Redis, and the other nodes together: 30 in all, not 30 per node or per worker.
    const limited = `/w-${run}/limited`;
    await patchSettings(nodes[0]!, { routes: [{ name: `w-${run}`, path: `${limited}/**`, anonymous: true, rateLimit: { limit: 30, windowSeconds: 86_400 } }] });
    const statuses: number[] = [];
    /** Until the route is known everywhere a request there is 401 (not counted); from then on it is counted. */
    const everywhere = async (i: number): Promise<boolean> => {
      const answers = [...(await byWorker(`${limited}/probe-${i}`)), ...(await Promise.all(nodes.map(async (node) => (await call(`${node.url}${limited}/probe-${i}`)).status)))];
      statuses.push(...answers);
      return answers.every((s) => s !== 401);
    };
    let probe = 0;
    await eventually(() => everywhere(probe++), { within: 10_000, what: 'the route is known to both workers and every node' });
    for (let i = 0; i < 20; i++) {
      statuses.push((await fresh(`${cluster.url}${limited}/c-${i}`)).status);
      statuses.push((await call(`${nodes[i % 3]!.url}${limited}/n-${i}`)).status);
    }
    expect(statuses.filter((s) => s === 200), 'admitted across the cluster and the nodes').to.have.length(30);
    expect(statuses.filter((s) => s !== 200 && s !== 429 && s !== 401), 'only 200, 429, or 401 before the route was known').to.deep.equal([]);
    expect(statuses.slice(-10).every((s) => s === 429), 'the budget is spent').to.equal(true);
    expect(await metricSum([cluster], 'portcullis_rate_limit_local_counts_total'), 'every lease was taken in Redis').to.equal(0);
    expect((await cluster.process.stop()).code, 'a clean stop').to.equal(0);
  });
});

// Three `portcullis serve` processes sharing PostgreSQL and Redis: a rate limit set through one node holds across all three (100 a day admits 100, not 300); /readyz and /metrics say so.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { dropSchema, requirePostgres, storeUrl, testSchema } from '../core/store/postgres-fixture.js';
import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';
import { call } from './fixtures/http.js';
import { CLI, startGateway, type Gateway } from './fixtures/processes.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

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
  let nodes: Gateway[];

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    upstream = await startUpstream();
    const env = {
      PORTCULLIS_STORE: storeUrl(schema),
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
    }

    const statuses: number[] = [];
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => call(`${nodes[i % 3]!.url}/item/${round}-${i}`)));
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses.filter((s) => s === 200)).to.have.length(100);
    expect(statuses.filter((s) => s === 429)).to.have.length(200);

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
});

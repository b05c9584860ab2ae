// `serve --workers 2` end to end: both workers serve, admin changes reach both before the answer, one rate limit, clean SIGTERM.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { CHECKPOINT_STREAM } from '../../core/checkpoints/checkpoint.js';
import { verifyHistory } from '../../core/checkpoints/verify-history.js';
import { readDecisions } from '../../core/decision-log/reader.js';
import { SqliteEventStore } from '../../core/store/sqlite.js';
import { DEBUG_HEADER } from '../../server/gateway/app.js';
import { eventually } from '../support/eventually.js';
import { stopAll, type ProcessHandle } from '../support/processes.js';
import { call, fresh, type WorkerAnswer as Answer } from './fixtures/http.js';
import { CLI, startGateway } from './fixtures/processes.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

describe('serve --workers 2 (node:cluster) end to end', function () {
  // Generous: a replacement worker replays the store before it serves, which takes seconds on a loaded machine.
  this.timeout(90_000);

  const adminToken = `pca_e2e_${randomUUID()}`;
  const debug = { [DEBUG_HEADER]: adminToken };
  let dataDir: string;
  let upstream: Upstream;
  let gateway: ProcessHandle;
  let gatewayUrl: string;
  let adminUrl: string;
  /** Every request the gateway listener answered, to check the audit log at the end. */
  let sent = 0;

  const get = async (path: string, headers: Record<string, string> = debug): Promise<Answer> => {
    const answer = await fresh(`${gatewayUrl}${path}`, headers);
    sent += 1;
    return answer;
  };
  /** AccessDecided events in the store so far (read beside the running gateway, as `portcullis audit` would). */
  const decidedInStore = async (): Promise<number> => {
    const store = SqliteEventStore.open(join(dataDir, 'portcullis.db'), { readonly: true });
    try {
      let decided = 0;
      for await (const _ of readDecisions(store)) decided++;
      return decided;
    } finally {
      await store.close();
    }
  };
  const patchSettings = async (patch: unknown): Promise<void> => {
    const res = await call(`${adminUrl}/api/v1/settings`, {
      method: 'PATCH',
      body: patch,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/merge-patch+json' },
    });
    expect(res.status, res.text).to.equal(200);
  };

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    dataDir = await mkdtemp(join(tmpdir(), 'portcullis-workers-'));
    upstream = await startUpstream();
    // Port 0: the workers share the port the first of them got, which the primary's listening line names.
    const started = await startGateway({ dataDir, upstream: upstream.url, workers: 2, env: { PORTCULLIS_ADMIN_TOKEN: adminToken }, timeoutMs: 25_000 });
    gateway = started.process;
    gatewayUrl = started.url;
    adminUrl = started.adminUrl;
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the gateway listener from two worker processes, neither of them the primary', async () => {
    const workers = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const res = await get('/anything');
      expect(res.status).to.equal(401);
      if (res.worker) workers.add(res.worker);
    }
    expect([...workers]).to.have.length(2);
    expect(workers.has(String(gateway.pid))).to.equal(false);
  });

  it('applies a settings change in both workers before the admin API answers', async () => {
    for (let round = 0; round < 4; round++) {
      const open = round % 2 === 0;
      await patchSettings({ paths: { public: open ? ['/open/**'] : [] } });
      // Right after the answer, with no pause: every worker must already decide with the new settings.
      const seen = new Map<string, number[]>();
      for (let i = 0; i < 6; i++) {
        const res = await get(`/open/r${round}/${i}`);
        seen.set(res.worker ?? '?', [...(seen.get(res.worker ?? '?') ?? []), res.status]);
      }
      expect([...seen.keys()]).to.have.length(2);
      for (const statuses of seen.values()) expect(statuses.every((s) => s === (open ? 200 : 401)), `round ${round}: ${statuses}`).to.equal(true);
    }
  });

  it('counts one rate limit across both workers (limit 10 → exactly 10 allowed)', async () => {
    // A day-long window: the test cannot straddle a window boundary.
    await patchSettings({ paths: { public: ['/limited/**'] }, rateLimit: { enabled: true, limit: 10, windowSeconds: 86_400, key: 'ip' } });
    const answers: Answer[] = [];
    for (let i = 0; i < 30; i++) answers.push(await get(`/limited/${i}`));
    const allowed = answers.filter((a) => a.status === 200);
    expect(allowed).to.have.length(10);
    expect(answers.filter((a) => a.status === 429)).to.have.length(20);
    expect(new Set(allowed.map((a) => a.worker)).size).to.equal(2);
    // Concurrent requests race through both workers at once: still 10 in all (all refused now).
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/limited/burst/${i}`)));
    expect(burst.filter((a) => a.status === 200)).to.have.length(0);
    await patchSettings({ rateLimit: { enabled: false } });
  });

  it('GET /metrics on the primary adds up both workers: every request answered so far is counted once', async () => {
    const res = await call(`${adminUrl}/metrics`);
    expect(res.status).to.equal(200);
    const lines = res.text.split('\n');
    const counted = lines.filter((l) => l.startsWith('portcullis_requests_total{')).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    expect(counted).to.equal(sent);
    expect(lines).to.include('portcullis_rate_limit_backend{backend="local"} 1');
    expect(lines.filter((l) => l.startsWith('# TYPE portcullis_requests_total '))).to.have.length(1);
  });

  it('replaces a worker that dies, and logs it', async () => {
    const before = new Set<string>();
    for (let i = 0; i < 4; i++) before.add((await get('/x')).worker ?? '?');
    const [victim] = [...before];
    // Killed only once every answered request is in the store: the victim holds no unwritten events.
    await eventually(async () => expect(await decidedInStore()).to.equal(sent), { within: 10_000, every: 50 });
    process.kill(Number(victim), 'SIGKILL');
    await eventually(
      async () => {
        const after = new Set<string>();
        for (let i = 0; i < 4; i++) after.add((await get('/x').catch(() => ({ status: 0, worker: undefined }))).worker ?? '?');
        expect([...after].sort()).to.have.length(2).and.not.include(victim).and.not.include('?');
      },
      { within: 45_000, every: 200 },
    );
    expect(gateway.stdout.join('\n')).to.match(/gateway worker died; starting a replacement/);
  });

  it('replaces every worker when all die at once, on the port the listening line named', async () => {
    const before = new Set<string>();
    await eventually(
      async () => {
        for (let i = 0; i < 4; i++) before.add((await get('/x')).worker ?? '?');
        expect(before.size).to.equal(2);
      },
      { within: 45_000, every: 200 },
    );
    await eventually(async () => expect(await decidedInStore()).to.equal(sent), { within: 10_000, every: 50 });
    for (const pid of before) process.kill(Number(pid), 'SIGKILL');
    await eventually(
      async () => {
        const after = new Set<string>();
        for (let i = 0; i < 4; i++) after.add((await get('/x').catch(() => ({ status: 0, worker: undefined }))).worker ?? '?');
        expect([...after].sort()).to.have.length(2).and.not.include('?');
        for (const pid of before) expect([...after]).not.to.include(pid);
      },
      { within: 45_000, every: 200 },
    );
  });

  it('exits cleanly on SIGTERM with every request of every worker in the audit log, and a last signed checkpoint over all of it', async () => {
    const exit = await gateway.stop('SIGTERM', 20_000);
    expect(exit).to.deep.equal({ code: 0, signal: null });
    const store = SqliteEventStore.open(join(dataDir, 'portcullis.db'), { readonly: true });
    try {
      const decided: unknown[] = [];
      for await (const stored of readDecisions(store)) decided.push(stored);
      expect(decided).to.have.length(sent);
      // The primary signed last, after both workers flushed: its checkpoint covers every event before its own.
      const [checkpoint] = await store.readStream(CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 });
      const head = await store.headPosition();
      expect(checkpoint?.position).to.equal(head);
      expect((checkpoint?.data as { position: string }).position).to.equal(String(Number(head) - 1));
      expect(await verifyHistory(store)).to.deep.include({ ok: true });
    } finally {
      await store.close();
    }
    expect([...gateway.stdout, ...gateway.stderr].join('\n')).to.not.match(/decisions not written/);
  });
});

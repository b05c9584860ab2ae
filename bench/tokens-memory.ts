// Memory with 100k live gateway tokens: seeds a SQLite store, then starts a runtime on it in a fresh process (replay, then from checkpoint) and prints RSS.
//
//   node dist/bench/tokens-memory.js            # 100000 tokens
//   BENCH_TOKENS=20000 node dist/bench/tokens-memory.js
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/clock.js';
import { tokenStream, type TokenIssuedData } from '../core/events.js';
import { silentLogger } from '../core/logger.js';
import { Runtime } from '../core/runtime.js';
import { SqliteEventStore } from '../core/store/sqlite.js';
import { generateToken, hashToken } from '../core/tokens/format.js';
import { builtinPlugins, PluginRegistry } from '../providers/registry.js';

const COUNT = Number(process.env.BENCH_TOKENS ?? 100_000);
const LIMIT_MB = 150;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** Phase 1 (own process): 100k TokenIssued events, a mix of scopes, as admins would create them. */
async function seed(file: string): Promise<string[]> {
  const store = await SqliteEventStore.open(file);
  const sample: string[] = [];
  const day = 24 * 60 * 60 * 1000;
  for (let i = 0; i < COUNT; i++) {
    const token = generateToken();
    if (i % 10_000 === 0) sample.push(token);
    const id = randomBytes(8).toString('hex');
    const data: TokenIssuedData = {
      id,
      hash: hashToken(token),
      owner: `user${i % 20_000}@example.com`,
      name: `token ${i}`,
      kind: i % 10 === 0 ? 'service' : 'user',
      groups: i % 3 === 0 ? ['developers', 'jira-users'] : [],
      readOnly: i % 4 === 0,
      pathPrefixes: i % 5 === 0 ? ['/rest/api/2'] : [],
      ipAllow: i % 7 === 0 ? ['10.0.0.0/8'] : [],
      expiresAt: new Date(Date.now() + 90 * day).toISOString(),
    };
    await store.append(tokenStream(id), [{ id: randomUUID(), type: 'TokenIssued', data, metadata: { actor: 'admin' } }], {
      expectedRevision: 'no_stream',
      durable: false,
    });
  }
  await store.close();
  return sample;
}

/** Phase 2 (fresh process): start a runtime on the store, look tokens up, and report memory after a GC. */
async function measure(file: string, sample: string[]): Promise<void> {
  const store = await SqliteEventStore.open(file);
  const started = Date.now();
  const runtime = await Runtime.start({
    store,
    plugins: new PluginRegistry(builtinPlugins),
    fetch: globalThis.fetch,
    clock: systemClock,
    logger: silentLogger,
    adminToken: 'bench-admin-token',
  });
  const startMs = Date.now() - started;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  // A started node then idles a moment: V8's memory reducer compacts the heap and gives pages back.
  await new Promise((r) => setTimeout(r, Number(process.env.BENCH_SETTLE_MS ?? 200)));
  gc?.();
  const idle = process.memoryUsage();
  if (process.env.BENCH_DEBUG) process.stderr.write(`${JSON.stringify(Object.fromEntries(Object.entries(idle).map(([k, v]) => [k, mb(v)])))}\n`);
  const found = sample.filter((t) => runtime.tokens.state.findByHash(hashToken(t)) !== undefined).length;
  const rounds = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) runtime.tokens.state.findByHash(hashToken(sample[i % sample.length]!));
  const lookupNs = Number(process.hrtime.bigint() - t0) / rounds;
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      tokens: runtime.tokens.state.size,
      found: `${found}/${sample.length}`,
      startMs,
      lookupNs: Math.round(lookupNs),
      rssMB: Math.max(mb(idle.rss), mb(m.rss)),
      rssIdleMB: mb(idle.rss),
      rssAfterLookupsMB: mb(m.rss),
      heapUsedMB: mb(m.heapUsed),
    })}\n`,
  );
  await runtime.close();
  await store.close();
}

const [phase, file, sampleFile] = process.argv.slice(2);
if (phase === 'seed') {
  process.stdout.write(JSON.stringify(await seed(file!)));
} else if (phase === 'measure') {
  await measure(file!, JSON.parse(sampleFile!) as string[]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-tokens-'));
  const db = join(dir, 'portcullis.db');
  const self = fileURLToPath(import.meta.url);
  try {
    process.stderr.write(`seeding ${COUNT} tokens into ${db} ...\n`);
    const sample = execFileSync(process.execPath, [self, 'seed', db], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const run = (label: string) => {
      const out = execFileSync(process.execPath, ['--expose-gc', self, 'measure', db, sample], { encoding: 'utf8' }).trim();
      const result = JSON.parse(out) as { rssMB: number };
      process.stdout.write(`${label}: ${out}\n`);
      return result.rssMB;
    };
    const replay = run('start, replaying every token event');
    const resumed = run('start, from the checkpoint');
    const worst = Math.max(replay, resumed);
    process.stdout.write(`RSS with ${COUNT} live tokens: ${worst} MB (limit ${LIMIT_MB} MB) ${worst < LIMIT_MB ? 'OK' : 'OVER'}\n`);
    process.exitCode = worst < LIMIT_MB ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Memory with 100k live gateway tokens: seeds a SQLite store, then starts a runtime on it in a fresh process (replay, then from checkpoint) and prints RSS.
//
//   node dist/bench/tokens-memory.js            # 100000 tokens
//   BENCH_TOKENS=20000 node dist/bench/tokens-memory.js
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { Runtime } from '../server/runtime/runtime.js';
import { SqliteEventStore } from '../core/store/sqlite.js';
import { hashToken } from '../core/tokens/format.js';
import { builtinPlugins, PluginRegistry } from '../providers/registry.js';
import { seed } from './lib/seed-tokens.js';

const COUNT = Number(process.env.BENCH_TOKENS ?? 100_000);
const LIMIT_MB = 150;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

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
  // Phase 1 (own process): the TokenIssued events, as admins would create them.
  process.stdout.write(JSON.stringify(await seed(file!, COUNT)));
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

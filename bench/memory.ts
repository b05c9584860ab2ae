// Marginal memory per live gateway token (1M, against an empty store) and per cached identity (100k), each measured after a full GC in its own process.
//
//   node dist/bench/memory.js                     # prints a summary on stderr and one JSON line on stdout
//   BENCH_MEMORY_TOKENS=200000 BENCH_MEMORY_IDENTITIES=20000 node dist/bench/memory.js
//
// Tokens: the store is seeded directly (bench/lib/seed-tokens.ts), then a runtime starts on an empty
// store and on the seeded one, each in a fresh `node --expose-gc` process (replaying every event, and
// again from the checkpoint the replay saved); per token = (with N − empty) / N.
// Identities: one process builds the `oauth2` provider (userinfo) with the node's IdentityCache and
// authenticates N distinct opaque tokens through it; the userinfo answers come from an in-process
// fetch (no HTTP, so nothing but the provider's own work is in the measured process), shaped as a
// Keycloak-like IdP gives them. Per identity = (filled − emptied) / N, in the same process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../core/clock.js';
import { IdentityCache } from '../core/identity-cache.js';
import { silentLogger } from '../core/logger.js';
import { SqliteEventStore } from '../core/store/sqlite.js';
import { hashToken } from '../core/tokens/format.js';
import oauth2, { oauth2ConfigSchema } from '../providers/oauth2/index.js';
import { builtinPlugins, PluginRegistry } from '../providers/registry.js';
import { Runtime } from '../server/runtime/runtime.js';
import { seed } from './lib/seed-tokens.js';

const TOKENS = Number(process.env.BENCH_MEMORY_TOKENS ?? 1_000_000);
const IDENTITIES = Number(process.env.BENCH_MEMORY_IDENTITIES ?? 100_000);
const LANES = 64;
const self = fileURLToPath(import.meta.url);
const log = (line: string) => void process.stderr.write(`[memory] ${line}\n`);

/** What one measurement reports: process.memoryUsage() after full GCs, in bytes. */
interface Usage {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  /** Memory outside the V8 heap held by JS objects: ArrayBuffers (the token index's columns), Buffers. */
  readonly external: number;
  readonly arrayBuffers: number;
}

/** Full GCs with a pause between them: V8's memory reducer gives freed pages back meanwhile. */
async function settledUsage(): Promise<Usage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(300);
  }
  gc();
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
}

/**
 * Bytes of the typed arrays reachable from `root` through own properties (each buffer once, at
 * its committed length). The token index keeps its columns in resizable ArrayBuffers, which
 * Node's memoryUsage() counts in neither heapUsed nor external: this is their size.
 */
function typedArrayBytes(root: unknown): number {
  const seen = new Set<unknown>();
  const buffers = new Set<ArrayBufferLike>();
  const visit = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (ArrayBuffer.isView(value)) {
      buffers.add(value.buffer);
      return;
    }
    if (Array.isArray(value)) {
      // Lists of strings or records (interned lists, recent records) hold no typed arrays: skip their items.
      for (const item of value.slice(0, 16)) visit(item);
      return;
    }
    if (value instanceof Map) return;
    for (const key of Object.getOwnPropertyNames(value)) visit((value as Record<string, unknown>)[key]);
  };
  visit(root);
  let bytes = 0;
  for (const buffer of buffers) bytes += buffer.byteLength;
  return bytes;
}

/** Phase (fresh process): a runtime on the store at `file`; its memory after GC, and a check that the sample is found. */
async function measureTokens(file: string, sample: readonly string[]): Promise<void> {
  const store = SqliteEventStore.open(file);
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
  const found = sample.filter((t) => runtime.tokens.state.findByHash(hashToken(t)) !== undefined).length;
  const usage = await settledUsage();
  const indexBytes = typedArrayBytes(runtime.tokens.state);
  process.stdout.write(`${JSON.stringify({ tokens: runtime.tokens.state.size, found, startMs, indexBytes, ...usage })}\n`);
  await runtime.close();
  await store.close();
}

const GROUPS = Array.from({ length: 40 }, (_, i) => `/org/team-${String(i).padStart(2, '0')}`);
const USERINFO = 'https://idp.example.com/realms/corp/protocol/openid-connect/userinfo';

/** The userinfo answer for user `n`: the claims a Keycloak-like IdP returns with the `profile email groups` scopes. */
function userinfo(n: number): Record<string, unknown> {
  const first = `First${n % 997}`;
  const last = `Last${n}`;
  return {
    sub: `f3c1b2a4-${String(n).padStart(4, '0')}-4e1a-9c7d-${(n * 7919).toString(16).padStart(12, '0')}`,
    email_verified: n % 5 !== 0,
    name: `${first} ${last}`,
    preferred_username: `user${n}`,
    given_name: first,
    family_name: last,
    email: `user${n}@corp.example.com`,
    // 2-6 groups out of 40, as directories give them (shared names, a different set per user).
    groups: Array.from({ length: 2 + (n % 5) }, (_, k) => GROUPS[(n * 13 + k * 7) % GROUPS.length]!),
    locale: 'en',
    updated_at: 1_764_800_000 + (n % 86_400),
  };
}

/** Phase (fresh process): `count` distinct opaque tokens through the oauth2 provider into the IdentityCache. */
async function measureIdentities(count: number): Promise<void> {
  const cache = new IdentityCache({ clock: systemClock });
  // The token names its user; the answer is built as the HTTP body an IdP would send, and parsed by the provider.
  const fetch = async (_url: string | URL, init?: RequestInit): Promise<Response> => {
    const auth = new Headers(init?.headers).get('authorization') ?? '';
    const n = Number(/^Bearer opq-(\d+)-/.exec(auth)?.[1] ?? NaN);
    if (!Number.isInteger(n)) return new Response('{"error":"invalid_token"}', { status: 401, headers: { 'content-type': 'application/json' } });
    return new Response(JSON.stringify(userinfo(n)), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  const provider = oauth2.create(oauth2ConfigSchema.parse({ userinfoEndpoint: USERINFO }), {
    id: 'corp-sso',
    fetch,
    clock: systemClock,
    logger: silentLogger,
    cache,
  });
  const token = (n: number) => `opq-${n}-${'x'.repeat(32)}`;
  // LANES requests in flight, as a gateway's connections bring them (not thousands at once, whose
  // half-done exchanges would be promoted to the old generation beside the identities).
  const fill = async (from: number, to: number) => {
    let next = from;
    const lane = async () => {
      while (next < to) {
        const result = await provider.authenticate({ scheme: 'bearer', secret: token(next++) });
        if (result.outcome !== 'identity') throw new Error(`not authenticated: ${JSON.stringify(result)}`);
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
  };
  // Warm every code path (and the cache's own structures), then start from an empty cache.
  await fill(0, 2000);
  cache.clear();
  const empty = await settledUsage();
  const started = Date.now();
  await fill(0, count);
  const fillMs = Date.now() - started;
  const size = cache.size;
  const filled = await settledUsage();
  const hitsBefore = cache.hits;
  await fill(0, Math.min(count, 1000));
  const hit = cache.hits - hitsBefore;
  cache.clear();
  const emptied = await settledUsage();
  cache.close();
  await provider.close?.();
  process.stdout.write(`${JSON.stringify({ identities: size, hitsAfterFill: hit, fillMs, empty, filled, emptied })}\n`);
}

const perItem = (a: number, b: number, n: number) => Math.round((a - b) / n);

/** Run this script in a fresh `node --expose-gc` for one phase; its one JSON line. */
function child<T>(args: string[]): T {
  const out = execFileSync(process.execPath, ['--expose-gc', self, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

type TokenRun = Usage & { tokens: number; found: number; startMs: number; indexBytes: number };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-memory-'));
  try {
    const emptyFile = join(dir, 'empty.db');
    const fullFile = join(dir, 'tokens.db');
    const seedStarted = Date.now();
    await seed(emptyFile, 0);
    const sample = await seed(fullFile, TOKENS);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    log('runtime on the empty store');
    const empty = child<TokenRun>(['tokens', emptyFile, '[]']);
    log(`runtime on ${TOKENS} tokens, replaying every event`);
    const replay = child<TokenRun>(['tokens', fullFile, JSON.stringify(sample)]);
    log(`runtime on ${TOKENS} tokens, from the checkpoint`);
    const resumed = child<TokenRun>(['tokens', fullFile, JSON.stringify(sample)]);
    for (const run of [replay, resumed]) {
      if (run.tokens !== TOKENS || run.found !== sample.length) throw new Error(`runtime holds ${run.tokens} tokens, found ${run.found}/${sample.length} of the sample`);
    }
    log(`${IDENTITIES} cached identities`);
    const ids = child<{ identities: number; hitsAfterFill: number; fillMs: number; empty: Usage; filled: Usage; emptied: Usage }>(['identities', String(IDENTITIES)]);
    if (ids.identities !== IDENTITIES) throw new Error(`the cache holds ${ids.identities} identities, not ${IDENTITIES}`);

    // Heap + off-heap: what JS objects hold (the V8 heap and the ArrayBuffers outside it).
    const held = (u: Usage) => u.heapUsed + u.external;
    const tokenFigures = (run: TokenRun) => ({
      rss: perItem(run.rss, empty.rss, TOKENS),
      heapUsed: perItem(run.heapUsed, empty.heapUsed, TOKENS),
      external: perItem(run.external, empty.external, TOKENS),
      held: perItem(held(run), held(empty), TOKENS),
      index: perItem(run.indexBytes, empty.indexBytes, TOKENS),
    });
    const byReplay = tokenFigures(replay);
    const byCheckpoint = tokenFigures(resumed);
    const identity = {
      rss: perItem(ids.filled.rss, ids.empty.rss, IDENTITIES),
      heapUsed: perItem(ids.filled.heapUsed, ids.empty.heapUsed, IDENTITIES),
      held: perItem(held(ids.filled), held(ids.empty), IDENTITIES),
      heapUsedEmptied: perItem(ids.filled.heapUsed, ids.emptied.heapUsed, IDENTITIES),
      rssEmptied: perItem(ids.filled.rss, ids.emptied.rss, IDENTITIES),
    };
    // Tokens: judged on the largest of RSS, heap + off-heap and the index's own arrays, at the worse of the two starts.
    const bytesPerToken = Math.max(byReplay.rss, byReplay.held, byReplay.index, byCheckpoint.rss, byCheckpoint.held, byCheckpoint.index);
    // Identities: on the larger of the heap (what the entries hold) and RSS (filled against the
    // cache emptied again: the same process state but the entries, see docs/performance.md).
    const bytesPerIdentity = Math.max(identity.held, identity.heapUsedEmptied, identity.rssEmptied);
    const mb = (b: number) => (b / 1024 / 1024).toFixed(1);
    log(`seeded ${TOKENS} tokens in ${seedSeconds.toFixed(1)} s`);
    for (const [label, run, f] of [['replay', replay, byReplay], ['checkpoint', resumed, byCheckpoint]] as const) {
      log(
        `tokens (${label}, up in ${(run.startMs / 1000).toFixed(1)} s): RSS ${mb(run.rss)} MB vs ${mb(empty.rss)} empty; heapUsed ${mb(run.heapUsed)} vs ${mb(empty.heapUsed)}; ` +
          `external ${mb(run.external)} vs ${mb(empty.external)}; index arrays ${mb(run.indexBytes)} MB → per token: RSS ${f.rss} B, heap ${f.heapUsed} B + off-heap ${f.external} B = ${f.held} B, index arrays ${f.index} B`,
      );
    }
    log(
      `identities (filled in ${(ids.fillMs / 1000).toFixed(1)} s, ${ids.hitsAfterFill}/1000 hits after): RSS ${mb(ids.filled.rss)} MB vs ${mb(ids.empty.rss)} before, ${mb(ids.emptied.rss)} emptied; ` +
        `heapUsed ${mb(ids.filled.heapUsed)} vs ${mb(ids.empty.heapUsed)} before, ${mb(ids.emptied.heapUsed)} emptied → per identity: heap + off-heap ${identity.held} B, ` +
        `RSS ${identity.rssEmptied} B against emptied (${identity.rss} B against before: young generation grown by the fill included)`,
    );
    process.stdout.write(
      `${JSON.stringify({
        tokens: TOKENS,
        identities: IDENTITIES,
        seedSeconds: Number(seedSeconds.toFixed(1)),
        tokenStartReplayMs: replay.startMs,
        tokenStartCheckpointMs: resumed.startMs,
        emptyRssMb: Number(mb(empty.rss)),
        tokensRssMb: Number(mb(Math.max(replay.rss, resumed.rss))),
        tokenRssReplay: byReplay.rss,
        tokenHeapReplay: byReplay.heapUsed,
        tokenExternalReplay: byReplay.external,
        tokenRssCheckpoint: byCheckpoint.rss,
        tokenHeapCheckpoint: byCheckpoint.heapUsed,
        tokenExternalCheckpoint: byCheckpoint.external,
        tokenIndexReplay: byReplay.index,
        tokenIndexCheckpoint: byCheckpoint.index,
        bytesPerToken,
        identityRss: identity.rss,
        identityHeap: identity.heapUsed,
        identityHeld: identity.held,
        identityHeapEmptied: identity.heapUsedEmptied,
        identityRssEmptied: identity.rssEmptied,
        identityFillMs: ids.fillMs,
        bytesPerIdentity,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const [phase, ...rest] = process.argv.slice(2);
if (phase === 'tokens') await measureTokens(rest[0]!, JSON.parse(rest[1]!) as string[]);
else if (phase === 'identities') await measureIdentities(Number(rest[0]));
else await main();

// `npm run bench`: upstream alone, bare-proxy ceiling, the same proxy under Koa (the Koa floor), Portcullis (JWT with audit on and off, new JWT per request, gateway token, userinfo cache, on PostgreSQL, 2 workers), Apache + mod_auth_openidc, memory with 100k tokens, bytes per token (1M) and per cached identity (100k) (bench/memory.ts), the decision log (bench/decision-log.ts), history at scale (bench/history.ts); one table and bench/results/latest.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { ensurePackages, startApache } from './lib/apache.js';
import { startIdp, type Idp } from './lib/idp.js';
import { configureFullPath, startPortcullis, storeFile, type Portcullis } from './lib/portcullis.js';
import { dropSchema, postgresUnreachable, TEST_POSTGRES_URL, withClient } from '../test/core/store/postgres-fixture.js';
import { redisUnreachable, TEST_REDIS_URL } from '../test/support/redis.js';
import { startNode, stopAll, type ProcessHandle } from '../test/support/processes.js';
import { cpuSecondsBetween, cpuTicks, rssMb } from './lib/proc-stats.js';
import { seed } from './lib/seed-tokens.js';
import { AUDIENCE, ISSUER, prepareTokens, type TokenSet } from './lib/tokens.js';
import { runWrk, type WrkResult } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const CONNECTIONS = 32;
const MANY_TOKENS = Number(process.env.BENCH_MANY_TOKENS ?? 40_000);
const MEMORY_IDENTITIES = 10_000;
const MEMORY_GATEWAY_TOKENS = 100_000;
/**
 * Parts left out of this run, comma-separated: `history` (the 10M-decision store, ~10 min) and
 * `decision-log`. Their targets then print as not measured; every other ratio still comes from this one run.
 */
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
for (const part of SKIP) if (part !== 'history' && part !== 'decision-log') throw new TypeError(`BENCH_SKIP: unknown part ${part} (known: history, decision-log)`);
/** The Fast-path memory targets' sizes: marginal bytes per token at 1M, per cached identity at 100k (bench/memory.ts). */
const MEMORY_PER_TOKEN_COUNT = 1_000_000;
const MEMORY_PER_IDENTITY_COUNT = 100_000;
const DIST = fileURLToPath(new URL('.//', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

interface Row {
  readonly id: string;
  readonly name: string;
  readonly rps?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly errors?: number;
  /** CPU of the process(es) under test, the upstream and wrk, in % of one core over the run. */
  readonly cpu?: { server?: number; upstream?: number; wrk?: number };
  readonly rssMb?: number;
  readonly note?: string;
}

const rows: Row[] = [];
const extra: Record<string, unknown> = {};

/** Warm up, then measure one scenario: wrk's figures plus CPU and RSS of the processes involved. */
async function measure(
  id: string,
  name: string,
  url: string,
  tokens: string,
  server: ProcessHandle | undefined,
  upstream: ProcessHandle,
  options: { delayMs?: number; seconds?: number; warmup?: number; offsetAfterWarmup?: boolean } = {},
): Promise<Row & { wrk: WrkResult }> {
  log(`${id}: ${name}`);
  const warm = await runWrk({ url, tokens, seconds: options.warmup ?? WARMUP, connections: CONNECTIONS, ...(options.delayMs ? { delayMs: options.delayMs } : {}) });
  const seconds = options.seconds ?? SECONDS;
  const before = { server: server ? cpuTicks(server.pid) : undefined, upstream: cpuTicks(upstream.pid) };
  const wrk = await runWrk({
    url,
    tokens,
    seconds,
    connections: CONNECTIONS,
    ...(options.delayMs ? { delayMs: options.delayMs } : {}),
    ...(options.offsetAfterWarmup ? { offset: warm.requests + 1000 } : {}),
  });
  const pct = (s: number) => Math.round((s / seconds) * 100);
  const row = {
    id,
    name,
    rps: Math.round(wrk.rps),
    p50Ms: wrk.p50Ms,
    p99Ms: wrk.p99Ms,
    errors: wrk.errors,
    cpu: {
      ...(server && before.server ? { server: pct(cpuSecondsBetween(before.server, cpuTicks(server.pid))) } : {}),
      upstream: server === upstream ? undefined : pct(cpuSecondsBetween(before.upstream, cpuTicks(upstream.pid))),
      wrk: pct(wrk.cpuSeconds),
    },
    rssMb: Math.round(rssMb((server ?? upstream).pid)),
    wrk,
  };
  if (wrk.errors > wrk.requests * 0.001) log(`  ${id}: ${wrk.errors} of ${wrk.requests} answers were errors`);
  return row;
}

/** One request with the first token of a file: the scenario must answer 200 before it is measured. */
async function expectOk(url: string, token: string, what: string): Promise<void> {
  const res = await request(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${what}: expected 200, got ${res.statusCode}: ${body.slice(0, 300)}`);
}

const firstLine = async (file: string): Promise<string> => (await import('node:fs')).readFileSync(file, 'utf8').split('\n')[0]!;

/** A child that prints one JSON line and exits (raw verify rate, IPC cost). */
async function runJson(script: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Record<string, number>> {
  const child = await startNode(`${DIST}${script}`, args, { name: script, env, readyLine: /^\{/, timeoutMs });
  await child.closed;
  return child.ready as Record<string, number>;
}

async function gatewayTokenFile(gateway: Portcullis, tokens: TokenSet): Promise<string | undefined> {
  const res = await gateway.admin('POST', '/tokens', { owner: 'bench', name: 'bench', groups: ['developers'] });
  const token = (res.json as { token?: unknown } | undefined)?.token;
  if (res.status !== 201 || typeof token !== 'string') return undefined;
  const file = `${tokens.dir}/gateway-token.txt`;
  writeFileSync(file, `${token}\n`);
  return file;
}

async function setAudit(gateway: Portcullis, enabled: boolean): Promise<void> {
  const res = await gateway.admin('PATCH', '/settings', { audit: { enabled } });
  if (res.status !== 200) throw new Error(`PATCH /settings audit.enabled=${String(enabled)} answered ${res.status}: ${JSON.stringify(res.json)}`);
}

/** Pairs of half-rate runs (ceiling, then 3a) whose p99 difference is the added latency: one pair's figure moves by ±1 ms. */
const HALF_RATE_PAIRS = 3;

async function portcullisRows(upstream: ProcessHandle, idp: Idp, tokens: TokenSet, ceiling: Row & { wrk: WrkResult }, bare: { url: string; handle: ProcessHandle }): Promise<void> {
  const gateway = await startPortcullis({ upstream: `http://127.0.0.1:${String(upstream.ready.port)}` });
  try {
    await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
    await expectOk(`${gateway.url}/api/x`, await firstLine(tokens.fewJwt), 'portcullis JWT');
    rows.push(await measure('3a', 'Portcullis, JWT RS256, 5 tokens repeated', `${gateway.url}/api/x`, tokens.fewJwt, gateway.child, upstream));
    // The same gateway with the decision log off (settings audit.enabled), then on again: what recording every decision costs.
    await setAudit(gateway, false);
    rows.push(await measure('3a-off', 'Portcullis 3a with audit off', `${gateway.url}/api/x`, tokens.fewJwt, gateway.child, upstream));
    await setAudit(gateway, true);
    const b = await measure('3b', 'Portcullis, JWT RS256, new token per request', `${gateway.url}/api/x`, tokens.manyJwt, gateway.child, upstream, {
      offsetAfterWarmup: true,
      seconds: Math.min(SECONDS, 3),
      warmup: 1,
    });
    const used = b.wrk.requests;
    rows.push({ ...b, ...(used > tokens.manyCount - 1000 ? { note: `only ${tokens.manyCount} distinct tokens for ${used} requests: some repeated` } : {}) });

    const gatewayTokens = await gatewayTokenFile(gateway, tokens);
    if (gatewayTokens) {
      await expectOk(`${gateway.url}/api/x`, await firstLine(gatewayTokens), 'portcullis gateway token');
      rows.push(await measure('4a', 'Portcullis, gateway API token', `${gateway.url}/api/x`, gatewayTokens, gateway.child, upstream));
    } else {
      rows.push({ id: '4a', name: 'Portcullis, gateway API token', note: 'not available (POST /api/v1/tokens is not in this build)' });
    }
    await expectOk(`${gateway.url}/api/x`, await firstLine(tokens.fewOpaque), 'portcullis opaque token');
    const calls = idp.userinfoCalls;
    const opaque = await measure('4b', 'Portcullis, opaque token via userinfo (cached)', `${gateway.url}/api/x`, tokens.fewOpaque, gateway.child, upstream);
    rows.push({ ...opaque, note: `${idp.userinfoCalls - calls} userinfo calls during warm-up and run` });

    // Latency at half of 3a's own capacity: each of 32 connections pauses so that together they offer that rate.
    // The ceiling and 3a take turns, HALF_RATE_PAIRS times; the pair with the median difference is the one reported.
    const rate = Math.round((rows.find((r) => r.id === '3a')?.rps ?? ceiling.wrk.rps) / 2);
    const delayMs = (CONNECTIONS * 1000) / rate;
    const pairs: { ceiling: Row; portcullis: Row; addedMs: number }[] = [];
    for (let i = 0; i < HALF_RATE_PAIRS; i++) {
      const atCeiling = await measure('2@½', `ceiling at ~${rate} req/s offered`, bare.url, tokens.fewJwt, bare.handle, upstream, { delayMs });
      const atPortcullis = await measure('3a@½', `Portcullis 3a at ~${rate} req/s offered`, `${gateway.url}/api/x`, tokens.fewJwt, gateway.child, upstream, { delayMs });
      pairs.push({ ceiling: atCeiling, portcullis: atPortcullis, addedMs: (atPortcullis.p99Ms ?? Number.NaN) - (atCeiling.p99Ms ?? Number.NaN) });
    }
    const median = [...pairs].sort((a, b) => a.addedMs - b.addedMs)[Math.floor(pairs.length / 2)]!;
    const each = pairs.map((p) => `${p.portcullis.p99Ms} − ${p.ceiling.p99Ms}`).join(', ');
    extra.halfRate = { offered: rate, delayMsPerConnection: Number(delayMs.toFixed(2)), addedP99Ms: pairs.map((p) => Number(p.addedMs.toFixed(2))) };
    rows.push({ ...median.portcullis, note: `p99 of the ${HALF_RATE_PAIRS} pairs (3a@½ − 2@½, ms): ${each}; the median pair is shown` }, median.ceiling);
  } finally {
    await gateway.stop();
  }
}

/**
 * 3a on the PostgreSQL store (issue Scale-out: PostgreSQL against SQLite in the same run), in a
 * schema of its own that is dropped afterwards. Skipped with a note when PostgreSQL is not reachable.
 */
async function postgresRow(upstream: ProcessHandle, idp: Idp, tokens: TokenSet): Promise<void> {
  const why = await postgresUnreachable();
  if (why !== undefined) {
    rows.push({ id: '3a-pg', name: 'Portcullis 3a on the PostgreSQL store', note: `PostgreSQL unreachable at ${TEST_POSTGRES_URL.replace(/\/\/[^@/]*@/, '//')} (${why})` });
    return;
  }
  const schema = `portcullis_bench_${randomBytes(6).toString('hex')}`;
  const url = new URL(TEST_POSTGRES_URL);
  url.searchParams.set('schema', schema);
  const gateway = await startPortcullis({ upstream: `http://127.0.0.1:${String(upstream.ready.port)}`, store: url.toString() });
  try {
    await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
    await expectOk(`${gateway.url}/api/x`, await firstLine(tokens.fewJwt), 'portcullis on PostgreSQL');
    rows.push(await measure('3a-pg', 'Portcullis 3a on the PostgreSQL store', `${gateway.url}/api/x`, tokens.fewJwt, gateway.child, upstream));
    const stored = await withClient((client) => client.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".decisions`));
    extra.postgresDecisionsStored = Number(stored.rows[0]?.n ?? 0);
  } finally {
    await gateway.stop();
    await dropSchema(schema).catch(() => undefined);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const packages = ensurePackages(log);
  if (!packages.wrk) {
    process.stdout.write('wrk unavailable (apt-get install -y wrk): no load generator, no benchmark\n');
    return 1;
  }
  const tokens = await prepareTokens(MANY_TOKENS, log);
  const idp = await startIdp(tokens.jwks, tokens.dir);
  try {
    const upstream = await startNode(`${DIST}servers/upstream.js`, [], { name: 'upstream' });
    const upstreamUrl = `http://127.0.0.1:${String(upstream.ready.port)}`;
    rows.push(await measure('1', 'upstream alone', `${upstreamUrl}/api/x`, tokens.fewJwt, upstream, upstream));

    const bare = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl], { name: 'bare proxy' });
    const bareUrl = `http://127.0.0.1:${String(bare.ready.port)}/api/x`;
    const ceiling = await measure('2', 'ceiling: bare keep-alive proxy (undici stream)', bareUrl, tokens.fewJwt, bare, upstream);
    rows.push(ceiling);
    // 2k: the same proxy as a Koa app's one middleware: what Koa itself costs the gateway's path.
    const koa = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl, '--koa'], { name: 'bare proxy under Koa' });
    rows.push(await measure('2k', 'bare proxy under Koa (ctx.respond = false)', `http://127.0.0.1:${String(koa.ready.port)}/api/x`, tokens.fewJwt, koa, upstream));
    await koa.stop();
    // 2v: the same proxy verifying one RS256 signature per request, a new token each time (as 3b).
    const verifying = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl, JSON.stringify(tokens.jwks.keys[0])], { name: 'bare proxy + RS256' });
    const verifyingUrl = `http://127.0.0.1:${String(verifying.ready.port)}/api/x`;
    await expectOk(verifyingUrl, await firstLine(tokens.manyJwt), 'bare proxy + RS256');
    rows.push(await measure('2v', 'bare proxy + one RS256 verify (node:crypto)', verifyingUrl, tokens.manyJwt, verifying, upstream, { seconds: Math.min(SECONDS, 3), warmup: 1 }));
    await verifying.stop();

    await portcullisRows(upstream, idp, tokens, ceiling, { url: bareUrl, handle: bare });
    await bare.stop();
    await postgresRow(upstream, idp, tokens);

    const workers = await startPortcullis({ upstream: upstreamUrl, workers: 2 });
    try {
      await configureFullPath(workers, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
      await expectOk(`${workers.url}/api/x`, await firstLine(tokens.fewJwt), 'portcullis --workers 2');
      rows.push(await measure('3a×2', 'Portcullis --workers 2, JWT RS256, 5 tokens', `${workers.url}/api/x`, tokens.fewJwt, workers.child, upstream));
    } finally {
      await workers.stop();
    }

    if (packages.apache && idp.httpsJwksUri) {
      let apache: Awaited<ReturnType<typeof startApache>> | undefined;
      try {
        apache = await startApache({ upstream: upstreamUrl, jwksUri: idp.httpsJwksUri, audience: AUDIENCE });
        await expectOk(`${apache.url}/api/x`, await firstLine(tokens.fewJwt), 'apache + mod_auth_openidc');
        rows.push(await measure('5', 'peer: Apache httpd + mod_auth_openidc (event MPM)', `${apache.url}/api/x`, tokens.fewJwt, apache.child, upstream));
      } catch (err) {
        rows.push({ id: '5', name: 'peer: Apache httpd + mod_auth_openidc', note: `peer unavailable: ${(err as Error).message.split('\n').slice(0, 3).join(' / ')}` });
      } finally {
        await apache?.stop();
      }
    } else {
      rows.push({ id: '5', name: 'peer: Apache httpd + mod_auth_openidc', note: `peer unavailable (${packages.apache ? 'openssl missing: no https JWKS for mod_auth_openidc' : 'apache2 / libapache2-mod-auth-openidc not installable'})` });
    }

    await memoryRow(upstreamUrl, idp);
    await upstream.stop();
    log(`memory per token (${MEMORY_PER_TOKEN_COUNT / 1e6}M) and per cached identity (${MEMORY_PER_IDENTITY_COUNT / 1000}k): bench/memory.ts`);
    try {
      memoryTargetRows(await runJson('memory.js', [], { BENCH_MEMORY_TOKENS: String(MEMORY_PER_TOKEN_COUNT), BENCH_MEMORY_IDENTITIES: String(MEMORY_PER_IDENTITY_COUNT) }, 900_000));
    } catch (err) {
      // The other rows still count; the memory targets then say "—".
      rows.push({ id: 'mem-t', name: 'bytes per token and per cached identity', note: `bench/memory.ts failed: ${(err as Error).message.split('\n').slice(0, 3).join(' / ')}` });
    }

    log('raw jose RS256 verify rate');
    extra.verify = await runJson('verify-rate.js', [tokens.manyJwt, JSON.stringify(tokens.jwks.keys[0]), '2']);
    log('rate-limit counts from cluster leases');
    extra.ipcRateLimit = await runJson('ipc-rate-limit.js', []);
    // With the counts in Redis: leases taken there, against one count per request as before (skipped without Redis).
    const noRedis = await redisUnreachable();
    if (noRedis === undefined) {
      extra.ipcRateLimitRedis = await runJson('ipc-rate-limit.js', [`redis=${TEST_REDIS_URL}`]);
      extra.ipcRateLimitRedisPerRequest = await runJson('ipc-rate-limit.js', [`redis-per-request=${TEST_REDIS_URL}`]);
    } else log(`cluster counts in Redis skipped: Redis unreachable at ${TEST_REDIS_URL} (${noRedis})`);
    log('pipeline micro-benchmark');
    extra.pipeline = await pipelineLines();
    if (SKIP.has('decision-log')) log('decision-log micro-benchmark skipped (BENCH_SKIP)');
    else {
      log('decision-log micro-benchmark');
      decisionLogRows(await runJson('decision-log.js', [], { BENCH_DECISIONS: '300000' }, 180_000));
    }
    if (SKIP.has('history')) log('history at scale skipped (BENCH_SKIP)');
    else {
      log('history at scale (bench/history.ts): 10M decisions, audit query, replay, simulate 1M');
      historyRows(await runJson('history.js', [], {}, 1_800_000));
    }
  } finally {
    await stopAll();
    await idp.close();
  }
  report((Date.now() - started) / 1000);
  return 0;
}

/**
 * RSS of one gateway holding 100k live gateway tokens and 10k cached identities. The tokens are
 * seeded into the store before the gateway starts (issuing them one POST at a time would take
 * hours); the identities are 10k distinct opaque tokens through userinfo; a sample of the seeded
 * tokens must then pass the gateway (200), so the row measures a gateway that serves them.
 */
/** V8 settings for a node with little memory: a smaller young generation, and full GCs before the heap passes 96 MB. */
const SMALL_HEAP = ['--max-old-space-size=96', '--max-semi-space-size=4'];

/**
 * RSS of one gateway holding 100k live gateway tokens (seeded into its store before it starts)
 * and 10k cached identities (opaque tokens through userinfo), right after the warm-up and after
 * 10 s at rest; once with Node's default V8 settings and once with {@link SMALL_HEAP}.
 */
async function memoryRow(upstreamUrl: string, idp: Idp): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-bench-memory-'));
  try {
    log(`memory: seeding ${MEMORY_GATEWAY_TOKENS} gateway tokens into the store`);
    const t0 = Date.now();
    const sample = await seed(storeFile(dataDir), MEMORY_GATEWAY_TOKENS);
    const seedSeconds = (Date.now() - t0) / 1000;
    for (const [label, nodeArgs] of [['default V8 settings', []], [`NODE_OPTIONS="${SMALL_HEAP.join(' ')}"`, SMALL_HEAP]] as const) {
      log(`memory: gateway on the seeded store, ${label}`);
      const started = Date.now();
      const gateway = await startPortcullis({ upstream: upstreamUrl, dataDir, readyTimeoutMs: 120_000, nodeArgs });
      const startSeconds = (Date.now() - started) / 1000;
      try {
        await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
        const withTokens = rssMb(gateway.child.pid);
        log(`memory: ${MEMORY_IDENTITIES} cached identities`);
        let next = 0;
        const lane = async () => {
          while (next < MEMORY_IDENTITIES) {
            next += 1;
            const res = await request(`${gateway.url}/api/x`, { headers: { authorization: `Bearer opq-${randomBytes(24).toString('base64url')}` } });
            await res.body.dump();
          }
        };
        await Promise.all(Array.from({ length: 32 }, lane));
        for (const token of sample) await expectOk(`${gateway.url}/api/x`, token, 'seeded gateway token');
        const loaded = rssMb(gateway.child.pid);
        await new Promise((r) => setTimeout(r, 10_000));
        const rested = rssMb(gateway.child.pid);
        rows.push({
          id: 'mem',
          name: `RSS: ${MEMORY_GATEWAY_TOKENS / 1000}k tokens + ${MEMORY_IDENTITIES / 1000}k identities, at rest`,
          rssMb: Math.round(rested),
          note:
            `${label}: ${Math.round(loaded)} MB right after the warm-up, ${Math.round(withTokens)} MB with the tokens alone; ` +
            `gateway up in ${startSeconds.toFixed(1)} s (tokens seeded in ${seedSeconds.toFixed(0)} s before); ` +
            `${sample.length} seeded tokens used through the gateway, all 200`,
        });
      } finally {
        await gateway.stop();
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The per-token and per-identity rows, from bench/memory.ts (fresh `node --expose-gc` processes, figures after full GCs). */
function memoryTargetRows(r: Record<string, number>): void {
  extra.memory = r;
  rows.push({
    id: 'mem-t',
    name: `bytes per live gateway token at ${(r.tokens ?? 0) / 1e6}M (vs empty)`,
    rssMb: r.tokensRssMb,
    note:
      `${r.bytesPerToken} B judged (the largest): RSS ${r.tokenRssReplay} B after a replay of every event, ${r.tokenRssCheckpoint} B from the checkpoint; ` +
      `the index's typed arrays ${r.tokenIndexReplay} / ${r.tokenIndexCheckpoint} B (outside heapUsed and external); V8 heap ${r.tokenHeapReplay} B; ` +
      `empty store ${r.emptyRssMb} MB RSS; seeded in ${r.seedSeconds} s, up in ${((r.tokenStartReplayMs ?? 0) / 1000).toFixed(1)} s (replay) / ${((r.tokenStartCheckpointMs ?? 0) / 1000).toFixed(1)} s (checkpoint)`,
  });
  rows.push({
    id: 'mem-i',
    name: `bytes per cached identity at ${(r.identities ?? 0) / 1000}k (oauth2)`,
    note:
      `${r.bytesPerIdentity} B judged (the larger of heap and RSS): V8 heap ${r.identityHeld} B; RSS ${r.identityRssEmptied} B against the cache emptied again ` +
      `(${r.identityRss} B against before the fill, the young generation's growth included); filled in ${((r.identityFillMs ?? 0) / 1000).toFixed(1)} s`,
  });
}

/** The last `npm run soak`'s RSS figures (bench/results/soak.json), when there is one. */
function lastSoak(): Record<string, number | string> | undefined {
  try {
    return JSON.parse(readFileSync(`${RESULTS}soak.json`, 'utf8')) as Record<string, number | string>;
  } catch {
    return undefined;
  }
}

function memoryTargets(r: Record<string, number> | undefined) {
  const soak = lastSoak();
  // The length asked for: the slices' sum (`minutes`) falls short of it by the gaps between them.
  const soakMinutes = Number(soak?.requestedMinutes ?? soak?.minutes ?? 0);
  const growth = soak?.rssGrowthPct === undefined ? undefined : Number(soak.rssGrowthPct);
  return [
    ...(r
      ? [
          { target: `≤ 300 B per live gateway token at ${(r.tokens ?? 0) / 1e6}M (RSS or index, the larger)`, value: r.bytesPerToken, met: r.tokens === 1_000_000 && (r.bytesPerToken ?? Infinity) <= 300 },
          { target: `≤ 2 KB per cached identity at ${(r.identities ?? 0) / 1000}k (heap or RSS, the larger; B)`, value: r.bytesPerIdentity, met: r.identities === 100_000 && (r.bytesPerIdentity ?? Infinity) <= 2048 },
        ]
      : []),
    {
      target: soak
        ? `RSS flat within 5 % over a 10-minute soak (last \`npm run soak\`: ${soakMinutes} min at ${String(soak.target)} req/s, ${String(soak.time)}; last third against first, %)`
        : 'RSS flat within 5 % over a 10-minute soak: no bench/results/soak.json (run `npm run soak -- --minutes 10`)',
      value: growth,
      met: soakMinutes >= 10 && growth !== undefined && Math.abs(growth) <= 5,
    },
  ];
}

/** The decision log's rows, from bench/decision-log.ts (its own process, a fixed number of decisions). */
function decisionLogRows(r: Record<string, number>): void {
  extra.decisionLog = r;
  rows.push({
    id: 'log',
    name: 'decision log: decisions/s appended (SQLite)',
    rps: r.storePerSecond,
    note:
      `blocks of 4096 on one thread (the append thread's work): ${r.storePerSecond} /s by the clock, ${r.storePerCpuSecond} per CPU-second, ` +
      `${r.storeBestBlockPerSecond} in the fastest block; end to end through the append thread ${r.threadPerSecond} /s`,
  });
  rows.push({
    id: 'log',
    name: 'decision log: bytes per decision on disk',
    note: `${r.bytesPerDecision} bytes (file growth over ${r.decisions} decisions, indexes included); event loop ${r.recordMicros} µs per decision timed, ${r.loopMicros} µs sampled`,
  });
}

/** The history rows, from bench/history.ts (its own process and store). */
function historyRows(r: Record<string, number>): void {
  extra.history = r;
  const millions = (n: number | undefined) => `${((n ?? 0) / 1e6).toLocaleString('en')}M`;
  rows.push({
    id: 'aud',
    name: `audit query: user + day, first page, ${millions(r.decisions)} stored`,
    p50Ms: r.queryHttpMedianMs,
    note:
      `GET /api/v1/audit at the client: median ${r.queryHttpMedianMs} ms, max ${r.queryHttpMaxMs} ms, first ${r.queryHttpFirstMs} ms; ` +
      `the core's query alone: median ${r.queryCoreMedianMs} ms, max ${r.queryCoreMaxMs} ms; ${r.bytesPerDecision} bytes per decision, ` +
      `appends at ${r.lateAppendPerSecond} decisions/s by the clock (${r.lateAppendPerCpuSecond} per CPU-second) over its last tenth; gateway up on it in ${r.gatewayStartSeconds} s`,
  });
  rows.push({
    id: 'rpl',
    name: `replay as of the ${millions(r.replayDecisions)}th decision`,
    note: `${r.replayMs} ms (the whole history of ${millions(r.decisions)} decisions: ${r.replayWholeMs} ms; replay folds configuration and token events only)`,
  });
  rows.push({
    id: 'sim',
    name: `simulate ${millions(r.simulated)} recorded decisions (SQLite)`,
    note: `${r.simulateSeconds} s by the clock, ${r.simulateCpuSeconds} CPU-s; ${r.simulateChanged} decisions changed`,
  });
}

async function pipelineLines(): Promise<string[]> {
  const child = await startNode(`${DIST}pipeline.js`, [], { name: 'pipeline', env: { BENCH_ROUNDS: '50000' }, readyLine: /^pipeline:/, timeoutMs: 60_000 });
  await child.closed;
  return child.output.filter((l) => l.trim() !== '');
}

function decisionLogTargets(r: Record<string, number> | undefined) {
  if (!r) return [];
  return [
    { target: 'decision log: SQLite ≥ 100,000 decisions/s appended (by the clock)', value: r.storePerSecond, met: (r.storePerSecond ?? 0) >= 100_000 },
    { target: 'decision log: ≤ 200 bytes per decision on disk', value: r.bytesPerDecision, met: (r.bytesPerDecision ?? Infinity) <= 200 },
    { target: 'decision log: ≤ 3 µs of event loop per decision (sampled)', value: r.loopMicros, met: (r.loopMicros ?? Infinity) <= 3 },
  ];
}

function historyTargets(r: Record<string, number> | undefined) {
  if (!r) return [];
  return [
    { target: `audit query: first page (user + day) of ${r.decisions} stored < 100 ms (max over the queries, ms)`, value: r.queryHttpMaxMs, met: (r.queryHttpMaxMs ?? Infinity) < 100 },
    { target: `simulate ${r.simulated} decisions ≤ 20 s`, value: r.simulateSeconds, met: r.simulated === 1_000_000 && (r.simulateSeconds ?? Infinity) <= 20 },
  ];
}

const fmt = (v: number | undefined, digits = 0): string => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits));

function report(totalSeconds: number): void {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const rps = (id: string) => byId.get(id)?.rps;
  const ratio = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined);
  type PerVerify = { sequential: number; inFlight32: number; nodeCrypto: number };
  const verify = extra.verify as { sequential?: number; inFlight32?: number; nodeCrypto?: number; cpuUs?: PerVerify; loopUs?: PerVerify } | undefined;
  const added = (byId.get('3a@½')?.p99Ms ?? Number.NaN) - (byId.get('2@½')?.p99Ms ?? Number.NaN);
  // Requests per CPU-second of the process tree under test.
  const perCpu = (id: string) => {
    const row = byId.get(id);
    return row?.rps && row.cpu?.server ? row.rps / (row.cpu.server / 100) : undefined;
  };
  const ratios = {
    '3a/2': ratio(rps('3a'), rps('2')),
    '2k/2': ratio(rps('2k'), rps('2')),
    '3a/2k': ratio(rps('3a'), rps('2k')),
    '3b/2v': ratio(rps('3b'), rps('2v')),
    'perCpu 3a/5': ratio(perCpu('3a'), perCpu('5')),
    '3b/verify(seq)': ratio(rps('3b'), verify?.sequential),
    '3b/verify(32)': ratio(rps('3b'), verify?.inFlight32),
    '3a/5': ratio(rps('3a'), rps('5')),
    '3a×2/5': ratio(rps('3a×2'), rps('5')),
    '3a-pg/3a': ratio(rps('3a-pg'), rps('3a')),
    addedP99AtHalfRateMs: Number.isNaN(added) ? undefined : added,
    auditCost: rps('3a') && rps('3a-off') ? 1 - rps('3a')! / rps('3a-off')! : undefined,
  };
  const targets = [
    // The Fast-path issue's targets: ratios that measure the program, not the machine's two cores.
    { target: '3a ≥ 0.8 × ceiling (2)', value: ratios['3a/2'], met: (ratios['3a/2'] ?? 0) >= 0.8 },
    { target: '3b ≥ 0.8 × bare proxy + RS256 verify (2v)', value: ratios['3b/2v'], met: (ratios['3b/2v'] ?? 0) >= 0.8 },
    { target: 'added p99 ≤ 1 ms at half of 3a\'s capacity (3a@½ − 2@½, ms)', value: ratios.addedP99AtHalfRateMs, met: ratios.addedP99AtHalfRateMs !== undefined && ratios.addedP99AtHalfRateMs <= 1 },
    { target: 'requests per CPU-second ≥ 2.0 × Apache (3a / 5)', value: ratios['perCpu 3a/5'], met: (ratios['perCpu 3a/5'] ?? 0) >= 2.0 },
    ...decisionLogTargets(extra.decisionLog as Record<string, number> | undefined),
    { target: 'audit on against off: 3a differs by ≤ 10 % (1 − 3a/3a-off)', value: ratios['auditCost'], met: ratios['auditCost'] !== undefined && ratios['auditCost'] <= 0.1 },
    ...historyTargets(extra.history as Record<string, number> | undefined),
    ...memoryTargets(extra.memory as Record<string, number> | undefined),
  ];

  const lines: string[] = [];
  const head = ['#', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'err', 'CPU% srv', 'CPU% up', 'CPU% wrk', 'RSS MB'];
  const widths = [5, 50, 8, 7, 7, 5, 9, 8, 9, 7];
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
  lines.push(`Portcullis bench — ${new Date().toISOString()}, Node ${process.version}, wrk -t1 -c${CONNECTIONS}, ${SECONDS} s runs after ${WARMUP} s warm-up, loopback`);
  lines.push(line(head));
  for (const r of rows) {
    lines.push(
      line([
        r.id, r.name.slice(0, 50), fmt(r.rps), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.errors),
        fmt(r.cpu?.server), fmt(r.cpu?.upstream), fmt(r.cpu?.wrk), fmt(r.rssMb),
      ]),
    );
    if (r.note) lines.push(`${''.padStart(6)}${r.note}`);
  }
  lines.push('CPU% is of one core over the run (the machine has 2 cores = 200%); "srv" is the process tree under test, "wrk" the generator.');
  if (verify) {
    const cpu = (what: 'sequential' | 'inFlight32' | 'nodeCrypto') => (verify.cpuUs ? ` (CPU ${verify.cpuUs[what]} µs each, ${verify.loopUs?.[what]} µs of it on the event loop)` : '');
    lines.push(
      `raw RS256 verify: jose ${verify.sequential} /s sequential${cpu('sequential')}, ${verify.inFlight32} /s with 32 in flight${cpu('inFlight32')}; ` +
        `node:crypto (sync, signature only) ${verify.nodeCrypto} /s${cpu('nodeCrypto')}`,
    );
  }
  const ipc = extra.ipcRateLimit as Record<string, number> | undefined;
  if (ipc) lines.push(`cluster rate-limit count in a worker (leases taken over IPC): ${ipc.ipcSequentialMicros} µs one at a time, ${ipc.ipc32InFlightPerSecond} counts/s with 32 in flight (local count ${ipc.localMicros} µs)`);
  const viaRedis = extra.ipcRateLimitRedis as Record<string, number> | undefined;
  const perRequest = extra.ipcRateLimitRedisPerRequest as Record<string, number> | undefined;
  if (viaRedis && perRequest) {
    lines.push(
      `  with the counts in Redis: leases ${viaRedis.ipcSequentialMicros} µs one at a time, ${viaRedis.ipc32InFlightPerSecond} counts/s with 32 in flight; ` +
        `one Redis count per request (no leases) ${perRequest.ipcSequentialMicros} µs, ${perRequest.ipc32InFlightPerSecond} counts/s`,
    );
  }
  lines.push(`ratios: ${Object.entries(ratios).map(([k, v]) => `${k} = ${v === undefined ? '—' : v.toFixed(2)}`).join(', ')}`);
  for (const t of targets) lines.push(`target ${t.met ? 'MET    ' : 'NOT MET'} ${t.target}: ${t.value === undefined ? '—' : t.value.toFixed(2)}`);
  for (const l of (extra.pipeline as string[] | undefined) ?? []) lines.push(`  ${l}`);
  lines.push(`whole bench: ${totalSeconds.toFixed(0)} s`);
  process.stdout.write(`${lines.join('\n')}\n`);

  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(
    `${RESULTS}latest.json`,
    `${JSON.stringify({ time: new Date().toISOString(), node: process.version, seconds: SECONDS, warmup: WARMUP, connections: CONNECTIONS, rows: rows.map(({ ...r }) => { delete (r as { wrk?: unknown }).wrk; return r; }), ratios, targets, ...extra, totalSeconds }, null, 2)}\n`,
  );
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);

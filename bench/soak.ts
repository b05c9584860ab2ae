// `npm run soak`: a bounded run of the real gateway (real OpenID provider, full policy path, audit on) at half the
// bare-proxy ceiling's rate, reporting throughput, latency, event-loop delay and memory over time (CSV + PNG).
//
// How it measures:
// - load: Debian's wrk, in back-to-back slices of --slice seconds (default 5), each giving that slice's rate and
//   latency percentiles; the per-connection pause (bench/lua/tokens.lua) is re-tuned after each slice to hold the
//   target rate (closed loop, so a gateway that slows down shows up as latency first, then as a missed rate);
// - event-loop delay and heap: perf_hooks.monitorEventLoopDelay inside the gateway, through a preloaded module
//   (node --import dist/bench/soak-preload.js) that writes one line a second to a file; no product code changes;
// - RSS: /proc/<pid>/status of the gateway, once a second, from outside.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';

import { startOp, type Op } from '../test/e2e/fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey } from '../test/e2e/fixtures/tokens.js';
import { startNode, stopAll } from '../test/support/processes.js';
import { cpuSecondsBetween, cpuTicks } from './lib/proc-stats.js';
import { startPortcullis, type Portcullis } from './lib/portcullis.js';
import { runWrk } from './lib/wrk.js';
import { plotPng, type Panel } from './soak-plot.js';
import type { SoakSample } from './soak-preload.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const UPSTREAM = here('./servers/upstream.js');
const BARE_PROXY = here('./servers/bare-proxy.js');
const PRELOAD = pathToFileURL(here('./soak-preload.js')).href;
const RESULTS = here('../../bench/results');

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    rate: { type: 'string' },
    slice: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    warmup: { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  process.stdout.write('usage: npm run soak -- [--minutes 3] [--rate <req/s>, default: half the bare-proxy ceiling] [--slice 5] [--connections 32] [--warmup 10]\n');
  process.exit(0);
}
const minutes = Number(args.minutes);
const sliceSeconds = Math.max(1, Math.round(Number(args.slice)));
const connections = Math.max(1, Math.round(Number(args.connections)));
const warmupSeconds = Math.max(0, Math.round(Number(args.warmup)));
if (!(minutes > 0 && minutes <= 120)) throw new TypeError('--minutes must be more than 0 and at most 120');

const log = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

interface SliceRow {
  /** Seconds since the measured phase began, at the slice's end. */
  readonly end: number;
  readonly seconds: number;
  readonly target: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuPct: number;
}

function readRssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

function readSamples(file: string): SoakSample[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SoakSample);
  } catch {
    return [];
  }
}

const quantile = (values: number[], q: number): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const ok = points.filter(([, y]) => Number.isFinite(y));
  if (ok.length < 2) return NaN;
  const mx = ok.reduce((s, [x]) => s + x, 0) / ok.length;
  const my = ok.reduce((s, [, y]) => s + y, 0) / ok.length;
  const num = ok.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = ok.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'portcullis-soak-'));
  const samplesFile = join(work, 'samples.jsonl');
  const tokensFile = join(work, 'tokens.txt');
  let op: Op | undefined;
  let gateway: Portcullis | undefined;
  try {
    const upstream = await startNode(UPSTREAM, [], { name: 'upstream' });
    const upstreamUrl = `http://127.0.0.1:${String(upstream.ready.port)}`;

    // The real provider: oidc-provider minting RS256 client-credentials access tokens, valid for the whole run.
    const key = await generateSigningKey('soak-k1');
    op = await startOp({
      jwks: { keys: [key.privateJwk] },
      clients: [E2E_CLIENT],
      resources: { [RESOURCE]: { scope: 'api:read api:write', accessTokenFormat: 'jwt', accessTokenTTL: 24 * 3600 } },
      tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS },
    });
    const tokens = await Promise.all(Array.from({ length: 16 }, () => clientCredentialsToken(op!.issuer)));
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);

    let target = Number(args.rate ?? NaN);
    if (!(target > 0)) {
      log('measuring the ceiling: bare keep-alive proxy (undici), wrk -c32, 2 s warm-up + 5 s ...');
      const bare = await startNode(BARE_PROXY, [upstreamUrl], { name: 'bare-proxy' });
      const bareUrl = `http://127.0.0.1:${String(bare.ready.port)}/`;
      await runWrk({ url: bareUrl, tokens: tokensFile, seconds: 2, connections: 32 });
      const ceiling = await runWrk({ url: bareUrl, tokens: tokensFile, seconds: 5, connections: 32 });
      await bare.stop();
      target = Math.round(ceiling.rps / 2);
      log(`ceiling ${Math.round(ceiling.rps)} req/s (p99 ${fmt(ceiling.p99Ms, 2)} ms): soak target ${target} req/s`);
    }

    process.env.SOAK_SAMPLES_FILE = samplesFile;
    gateway = await startPortcullis({ upstream: upstreamUrl, nodeArgs: ['--import', PRELOAD] });
    delete process.env.SOAK_SAMPLES_FILE;
    const must = async (method: string, path: string, body: unknown) => {
      const res = await gateway!.admin(method, path, body);
      if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
    };
    // The full path: JWT RS256 against the provider's (cached) JWKS, IP allow-list, group allow-list, a rate
    // limit that never refuses, and an audit event per decision (on by default).
    await must('PUT', '/providers/op', { kind: 'oidc', config: { issuer: op.issuer, audience: RESOURCE, groupsClaim: 'groups' }, enabled: true, order: 0 });
    await must('PATCH', '/settings', {
      ip: { allow: ['127.0.0.0/8', '::1/128'] },
      groups: { allowed: ['developers'] },
      rateLimit: { enabled: true, limit: 10_000_000, windowSeconds: 60, key: 'user' },
    });
    for (let i = 0; ; i++) {
      const ready = await request(`${gateway.adminUrl}/readyz`);
      await ready.body.dump();
      if (ready.statusCode === 200) break;
      if (i > 150) throw new Error('the gateway is not ready 15 s after configuration');
      await sleep(100);
    }
    const url = `${gateway.url}/soak/items`;
    const check = await request(url, { headers: { authorization: `Bearer ${tokens[0]}` } });
    await check.body.dump();
    if (check.statusCode !== 200) throw new Error(`a soak request answered ${check.statusCode}, not 200`);

    const pid = gateway.child.pid;
    // Per-connection pause that gives `target` req/s when an answer takes about 1 ms; tuned after every slice.
    let delayMs = Math.max(0, (connections * 1000) / target - 1);
    const runSlice = async (seconds: number) => {
      const before = cpuTicks(pid);
      const started = Date.now();
      const result = await runWrk({ url, tokens: tokensFile, seconds, connections, delayMs });
      const cpuPct = (100 * cpuSecondsBetween(before, cpuTicks(pid))) / ((Date.now() - started) / 1000);
      const cycleMs = (connections * 1000) / Math.max(1, result.rps);
      delayMs = Math.max(0, (connections * 1000) / target - Math.max(0, cycleMs - delayMs));
      return { ...result, cpuPct };
    };
    if (warmupSeconds > 0) {
      log(`warm-up ${warmupSeconds} s at ${target} req/s ...`);
      for (let left = warmupSeconds; left > 0; left -= sliceSeconds) await runSlice(Math.min(sliceSeconds, left));
    }

    // RSS from /proc once a second, beside the gateway's own samples.
    const rss: [number, number][] = [];
    const t0 = Date.now();
    const rssTimer = setInterval(() => rss.push([(Date.now() - t0) / 1000, readRssMb(pid)]), 1000);
    const slices: SliceRow[] = [];
    const total = Math.round(minutes * 60);
    log(`soak: ${minutes} min at ${target} req/s, ${connections} connections, slices of ${sliceSeconds} s`);
    log('    t   rate/s  p50 ms  p99 ms  errors  cpu %  rss MB  heap MB  loop p99 ms  loop max ms');
    while ((Date.now() - t0) / 1000 < total - 0.5) {
      const seconds = Math.min(sliceSeconds, Math.max(1, Math.round(total - (Date.now() - t0) / 1000)));
      const r = await runSlice(seconds);
      const end = (Date.now() - t0) / 1000;
      slices.push({ end, seconds, target, rps: r.rps, p50Ms: r.p50Ms, p99Ms: r.p99Ms, errors: r.errors, cpuPct: r.cpuPct });
      const recent = readSamples(samplesFile).filter((s) => s.t >= Date.now() - seconds * 1000);
      log(
        `${fmt(end, 0).padStart(5)}  ${fmt(r.rps, 0).padStart(7)}  ${fmt(r.p50Ms, 2).padStart(6)}  ${fmt(r.p99Ms, 2).padStart(6)}  ` +
          `${String(r.errors).padStart(6)}  ${fmt(r.cpuPct, 0).padStart(5)}  ${fmt(rss.at(-1)?.[1] ?? NaN, 0).padStart(6)}  ` +
          `${fmt(Math.max(...recent.map((s) => s.heapUsedMb)), 0).padStart(7)}  ${fmt(Math.max(...recent.map((s) => s.eldP99)), 2).padStart(11)}  ` +
          `${fmt(Math.max(...recent.map((s) => s.eldMax)), 2).padStart(11)}`,
      );
    }
    clearInterval(rssTimer);
    const samples = readSamples(samplesFile)
      .filter((s) => s.t >= t0)
      .map((s) => ({ ...s, at: (s.t - t0) / 1000 }));

    // Stop the gateway the way an operator does (SIGTERM: drain, flush audit) and note the store it left.
    const storeMb = ['', '-wal'].reduce((sum, suffix) => {
      try {
        return sum + statSync(join(gateway!.dataDir, `portcullis.db${suffix}`)).size / 2 ** 20;
      } catch {
        return sum;
      }
    }, 0);
    await gateway.stop();
    gateway = undefined;

    writeOutputs(slices, samples, rss, target);
    summarize(slices, samples, rss, target, storeMb);
  } finally {
    await gateway?.stop().catch(() => {});
    await op?.stop().catch(() => {});
    await stopAll();
    await rm(work, { recursive: true, force: true });
  }
}

type TimedSample = SoakSample & { readonly at: number };

function sliceAt(slices: readonly SliceRow[], at: number): SliceRow | undefined {
  return slices.find((s) => at <= s.end && at > s.end - s.seconds);
}

function writeOutputs(slices: readonly SliceRow[], samples: readonly TimedSample[], rss: readonly [number, number][], target: number): void {
  mkdirSync(RESULTS, { recursive: true });
  const header = 't_s,target_rps,rps,latency_p50_ms,latency_p99_ms,errors,gateway_cpu_pct,rss_mb,heap_used_mb,loop_delay_p50_ms,loop_delay_p99_ms,loop_delay_max_ms';
  const rows = samples.map((s) => {
    const slice = sliceAt(slices, s.at);
    const outside = rss.reduce<[number, number] | undefined>((best, r) => (!best || Math.abs(r[0] - s.at) < Math.abs(best[0] - s.at) ? r : best), undefined);
    return [
      s.at.toFixed(1), target, fmt(slice?.rps ?? NaN, 0), fmt(slice?.p50Ms ?? NaN, 3), fmt(slice?.p99Ms ?? NaN, 3), slice?.errors ?? '',
      fmt(slice?.cpuPct ?? NaN, 0), fmt(outside?.[1] ?? s.rssMb, 1), fmt(s.heapUsedMb, 1), fmt(s.eldP50, 3), fmt(s.eldP99, 3), fmt(s.eldMax, 3),
    ].join(',');
  });
  writeFileSync(join(RESULTS, 'soak.csv'), `${header}\n${rows.join('\n')}\n`);

  const min = (t: number) => t / 60;
  const blue = [31, 119, 180] as const;
  const orange = [230, 120, 20] as const;
  const red = [200, 40, 40] as const;
  const grey = [130, 130, 130] as const;
  const green = [40, 150, 60] as const;
  const panels: Panel[] = [
    {
      title: 'THROUGHPUT REQ/S',
      series: [
        { name: 'TARGET', color: grey, dashed: true, points: [[0, target], [min(slices.at(-1)?.end ?? 0), target]] },
        { name: 'ACHIEVED', color: blue, points: slices.map((s) => [min(s.end), s.rps] as const) },
      ],
    },
    {
      title: 'REQUEST LATENCY MS',
      series: [
        { name: 'P50', color: blue, points: slices.map((s) => [min(s.end), s.p50Ms] as const) },
        { name: 'P99', color: orange, points: slices.map((s) => [min(s.end), s.p99Ms] as const) },
      ],
    },
    {
      title: 'EVENT-LOOP DELAY MS (PER SECOND)',
      series: [
        { name: 'P50', color: blue, points: samples.map((s) => [min(s.at), s.eldP50] as const) },
        { name: 'P99', color: orange, points: samples.map((s) => [min(s.at), s.eldP99] as const) },
        { name: 'MAX', color: red, points: samples.map((s) => [min(s.at), s.eldMax] as const) },
      ],
    },
    {
      title: 'MEMORY MB',
      series: [
        { name: 'RSS', color: green, points: rss.map(([t, v]) => [min(t), v] as const) },
        { name: 'HEAP USED', color: blue, points: samples.map((s) => [min(s.at), s.heapUsedMb] as const) },
      ],
    },
  ];
  writeFileSync(join(RESULTS, 'soak.png'), plotPng(`PORTCULLIS SOAK: ${target} REQ/S, ${fmt(min(slices.at(-1)?.end ?? 0), 1)} MIN`, panels));
}

function summarize(slices: readonly SliceRow[], samples: readonly TimedSample[], rss: readonly [number, number][], target: number, storeMb: number): void {
  const seconds = slices.reduce((s, r) => s + r.seconds, 0);
  const requests = slices.reduce((s, r) => s + r.rps * r.seconds, 0);
  const errors = slices.reduce((s, r) => s + r.errors, 0);
  const rssValues = rss.map(([, v]) => v);
  const third = Math.max(1, Math.floor(rss.length / 3));
  const firstThird = quantile(rssValues.slice(0, third), 0.5);
  const lastThird = quantile(rssValues.slice(-third), 0.5);
  const heapPoints = samples.map((s) => [s.at / 60, s.heapUsedMb] as const);
  log('');
  log(`soak summary (${fmt(seconds / 60, 1)} min measured, target ${target} req/s)`);
  log(`  rate      mean ${fmt(requests / Math.max(1, seconds), 0)} req/s; slowest slice ${fmt(Math.min(...slices.map((s) => s.rps)), 0)} req/s; ${errors} errors`);
  log(`  latency   p99 per slice: median ${fmt(quantile(slices.map((s) => s.p99Ms), 0.5), 2)} ms, worst ${fmt(Math.max(...slices.map((s) => s.p99Ms)), 2)} ms`);
  log(`  loop      delay p99 per second: median ${fmt(quantile(samples.map((s) => s.eldP99), 0.5), 2)} ms, worst ${fmt(Math.max(...samples.map((s) => s.eldP99)), 2)} ms; longest stall ${fmt(Math.max(...samples.map((s) => s.eldMax)), 1)} ms`);
  // The Fast-path memory target: RSS flat within 5 % (last third's median against the first third's), over 10 minutes.
  const growthPct = ((lastThird - firstThird) / firstThird) * 100;
  const trend = slope(rss.map(([t, v]) => [t / 60, v] as const));
  log(`  rss       median of first third ${fmt(firstThird, 0)} MB, of last third ${fmt(lastThird, 0)} MB (${growthPct >= 0 ? '+' : ''}${fmt(growthPct, 1)} %), max ${fmt(Math.max(...rssValues), 0)} MB; trend ${fmt(trend, 1)} MB/min`);
  log(`  heap used trend ${fmt(slope(heapPoints), 1)} MB/min (max ${fmt(Math.max(...samples.map((s) => s.heapUsedMb)), 0)} MB)`);
  log(`  store     ${fmt(storeMb, 0)} MB after the run (every request is an audit event)`);
  // For `npm run bench`'s target list (bench/run.ts reads it).
  writeFileSync(
    join(RESULTS, 'soak.json'),
    `${JSON.stringify({
      time: new Date().toISOString(),
      // The wall-clock length asked for (and held by the slice loop); `minutes` sums the wrk slices
      // only, a little less than that because of the gaps between slices.
      requestedMinutes: minutes,
      minutes: Number((seconds / 60).toFixed(1)),
      target,
      meanRps: Math.round(requests / Math.max(1, seconds)),
      errors,
      rssFirstThirdMb: Number(fmt(firstThird, 1)),
      rssLastThirdMb: Number(fmt(lastThird, 1)),
      rssMaxMb: Number(fmt(Math.max(...rssValues), 1)),
      rssGrowthPct: Number(fmt(growthPct, 2)),
      rssTrendMbPerMin: Number(fmt(trend, 2)),
    }, null, 2)}\n`,
  );
  log(`  wrote bench/results/soak.csv, soak.png and soak.json`);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});

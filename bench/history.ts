// History at scale (bounded: BENCH_HISTORY_DECISIONS, default 10,000,000, in one SQLite file): the audit
// query's first page for one user and one day, through the core and through GET /api/v1/audit of a
// gateway serving that store; replay as of a time; simulation of the first 1,000,000 decisions.
//
// npm run bench:history
// Human lines go to stderr, one JSON line to stdout (bench/run.ts reads it).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { request } from 'undici';

import { readAuditPage } from '../core/audit/page.js';
import { ManualClock } from '../core/clock.js';
import { DecisionBatch } from '../core/decision-log/batch.js';
import type { DecisionRecord } from '../core/decision-log/record.js';
import { SETTINGS_STREAM, tokenStream } from '../core/events.js';
import { timeOrderedId } from '../core/ids.js';
import { replayState } from '../core/replay.js';
import { settingsSchema } from '../core/settings/schema.js';
import { SqliteEventStore } from '../core/store/sqlite.js';
import { simulateRange } from '../server/runtime/simulate.js';
import { storeBytes } from './lib/file-size.js';
import { startPortcullis, storeFile } from './lib/portcullis.js';

const DECISIONS = Number(process.env.BENCH_HISTORY_DECISIONS ?? 10_000_000);
const SIMULATED = Math.min(DECISIONS, 1_000_000);
const DAYS = 30;
const USERS = 5000;
const TOKEN_EVENTS = 2000;
const QUERIES = 25;
const DAY_MS = 86_400_000;
const START = Date.UTC(2026, 0, 5);
const SPACING = (DAYS * DAY_MS) / DECISIONS;
/** A file to write the simulation's CPU profile to (open it in Chrome's DevTools). */
const PROFILE = process.env.BENCH_HISTORY_PROFILE;
const log = (line: string): void => void process.stderr.write(`history: ${line}\n`);

const timeOf = (i: number): number => START + Math.floor(i * SPACING);

/**
 * Decision `i`: 5000 users (user0 makes a tenth of all requests), a third with gateway tokens,
 * one in fifty anonymous and refused, one in twenty refused by the group check, a few thousand
 * client addresses and a Jira-like API.
 */
function decision(i: number): DecisionRecord {
  const u = i % 10 === 0 ? 0 : (i * 7919) % USERS;
  const user = `user${u}@example.com`;
  const anonymous = i % 50 === 7;
  const refused = !anonymous && i % 20 === 3;
  return {
    time: timeOf(i),
    requestId: timeOrderedId(timeOf(i)),
    method: i % 5 === 0 ? 'POST' : 'GET',
    host: 'jira.example.com',
    path: `/rest/api/2/issue/PROJ-${(i * 31) % 20_000}`,
    clientIp: `10.${(i >> 16) & 7}.${(i >> 8) & 255}.${i & 255}`,
    peerIp: '10.255.0.1',
    ...(anonymous
      ? {}
      : {
          credential: 'bearer' as const,
          identity: {
            subject: `s-${u}`,
            username: user,
            provider: u % 3 === 1 ? 'gateway' : 'corp-idp',
            groups: u % 3 === 0 ? ['developers', 'jira-users'] : ['jira-users'],
            ...(u % 3 === 1 ? { tokenId: `gt_${u.toString(36).padStart(10, '0')}` } : {}),
          },
        }),
    allow: !anonymous && !refused,
    status: anonymous ? 401 : refused ? 403 : 200,
    reason: anonymous ? 'missing_credential' : refused ? 'group_not_allowed' : 'authenticated',
    stage: anonymous ? 'authenticate' : refused ? 'groups' : 'pipeline',
    trace: anonymous
      ? [{ stage: 'authenticate', outcome: 'deny' }]
      : [
          { stage: 'authenticate', outcome: 'pass' },
          { stage: 'groups', outcome: refused ? 'deny' : 'pass' },
        ],
  };
}

/** Start V8's sampling profiler; the returned function stops it and gives the profile. */
async function startProfile(): Promise<() => Promise<unknown>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return profile;
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The store: settings and token events first and in between, then the decisions in blocks of 4096, with progress. */
async function build(file: string): Promise<{ seconds: number; simulatedUntil: number; replayAt: number; latePerSecond: number; latePerCpuSecond: number }> {
  // Events carry the time of the traffic around them, as they would have been recorded.
  const clock = new ManualClock(START);
  const store = SqliteEventStore.open(file, { clock });
  try {
    await store.append(SETTINGS_STREAM, [{ id: randomUUID(), type: 'SettingsChanged', data: { patch: { groups: { allowed: ['developers', 'jira-users'] } } }, metadata: { actor: 'admin' } }]);
    const started = performance.now();
    let nextToken = 0;
    let replayAt = 0;
    const lateAppend = { decisions: 0, ms: 0, cpuMs: 0 };
    for (let i = 0, b = 0; i < DECISIONS; b++) {
      const batch = new DecisionBatch(4096);
      for (; i < DECISIONS && batch.addRecord(decision(i)); i++);
      const count = batch.count;
      const sealed = batch.seal();
      // The append alone over the last tenth of the history: the rate once the store is large.
      const late = i > DECISIONS * 0.9;
      const a0 = late ? performance.now() : 0;
      const c0 = late ? process.cpuUsage() : undefined;
      await store.decisions.appendBlocks([{ id: randomUUID(), batch: sealed }]);
      if (late) {
        const cpu = process.cpuUsage(c0);
        lateAppend.decisions += count;
        lateAppend.ms += performance.now() - a0;
        lateAppend.cpuMs += (cpu.user + cpu.system) / 1000;
      }
      // Token events spread over the history, so a replay as of a time has something to fold.
      for (; nextToken < TOKEN_EVENTS && nextToken * (DECISIONS / TOKEN_EVENTS) < i; nextToken++) {
        clock.set(timeOf(i - 1));
        const id = `gt_${nextToken.toString(36).padStart(10, '0')}`;
        await store.append(tokenStream(id), [
          {
            id: randomUUID(),
            type: 'TokenIssued',
            data: { id, hash: `h${nextToken}`, owner: `user${nextToken % USERS}@example.com`, name: `token ${nextToken}`, kind: 'user', groups: [], readOnly: false, pathPrefixes: [], ipAllow: [], expiresAt: new Date(START + 400 * DAY_MS).toISOString() },
            metadata: { actor: 'admin' },
          },
        ], { expectedRevision: 'no_stream', durable: false });
      }
      if (replayAt === 0 && i >= SIMULATED) replayAt = timeOf(i - 1);
      if (b % 250 === 0 || i === DECISIONS) {
        const seconds = (performance.now() - started) / 1000;
        log(`built ${i.toLocaleString('en')} of ${DECISIONS.toLocaleString('en')} decisions in ${seconds.toFixed(0)} s (${Math.round(i / seconds)}/s)`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds,
      simulatedUntil: timeOf(SIMULATED - 1) + 1,
      replayAt: replayAt || timeOf(DECISIONS - 1),
      latePerSecond: Math.round((lateAppend.decisions * 1000) / lateAppend.ms),
      latePerCpuSecond: Math.round((lateAppend.decisions * 1000) / lateAppend.cpuMs),
    };
  } finally {
    await store.close();
  }
}

interface QueryTimes {
  readonly firstMs: number;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly rows: number;
}

/**
 * A first page (50 decisions) for one user and one day, QUERIES times over users and days spread
 * over the store, the busiest user every fifth time; `spread` picks another set of them.
 * @param page the query; it answers how many decisions the page held
 */
async function timeQueries(spread: number, page: (user: string, day: number) => Promise<number>): Promise<QueryTimes> {
  const times: number[] = [];
  let rows = 0;
  for (let q = 0; q < QUERIES; q++) {
    const user = q % 5 === 0 ? 'user0@example.com' : `user${(q * spread) % USERS}@example.com`;
    const day = START + ((q * spread) % DAYS) * DAY_MS;
    const t0 = performance.now();
    rows += await page(user, day);
    times.push(performance.now() - t0);
  }
  return { firstMs: round(times[0]!), medianMs: round(median(times)), maxMs: round(Math.max(...times)), rows };
}

/** Through the core: the query the admin API runs, on the store opened in this process. */
async function queryCore(file: string): Promise<QueryTimes> {
  const store = SqliteEventStore.open(file);
  try {
    return await timeQueries(977, async (user, day) => (await readAuditPage(store, { from: day, to: day + DAY_MS, username: user }, { limit: 50 })).decisions.length);
  } finally {
    await store.close();
  }
}

/** Through a gateway serving the store: GET /api/v1/audit, timed at the client (JSON and HTTP included). */
async function queryHttp(dataDir: string): Promise<QueryTimes & { startSeconds: number }> {
  const started = performance.now();
  const gateway = await startPortcullis({ upstream: 'http://127.0.0.1:9', dataDir, readyTimeoutMs: 300_000 });
  const startSeconds = (performance.now() - started) / 1000;
  try {
    const times = await timeQueries(991, async (user, day) => {
      const query = new URLSearchParams({ user, from: new Date(day).toISOString(), to: new Date(day + DAY_MS).toISOString(), limit: '50' });
      const res = await request(`${gateway.adminUrl}/api/v1/audit?${query.toString()}`, { headers: { authorization: `Bearer ${gateway.adminToken}` } });
      const body = (await res.body.json()) as { decisions?: unknown[] };
      if (res.statusCode !== 200 || !Array.isArray(body.decisions)) throw new Error(`GET /api/v1/audit answered ${res.statusCode}: ${JSON.stringify(body).slice(0, 300)}`);
      return body.decisions.length;
    });
    return { ...times, startSeconds: round(startSeconds, 1) };
  } finally {
    await gateway.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-history-'));
try {
  const file = storeFile(dir);
  log(`${DECISIONS.toLocaleString('en')} decisions over ${DAYS} days, ${USERS} users, ${TOKEN_EVENTS} token events, into ${file}`);
  const built = await build(file);
  const bytesPerDecision = storeBytes(file) / DECISIONS;
  log(
    `built in ${built.seconds.toFixed(0)} s (${Math.round(DECISIONS / built.seconds)} decisions/s, the records' making included); appending alone over the last tenth: ` +
      `${built.latePerSecond} decisions/s by the clock, ${built.latePerCpuSecond} per CPU-second; ${bytesPerDecision.toFixed(1)} bytes per decision on disk`,
  );

  const core = await queryCore(file);
  log(`audit first page, one user and one day, core: first ${core.firstMs} ms, median ${core.medianMs} ms, max ${core.maxMs} ms over ${QUERIES} queries (${core.rows} decisions)`);
  const http = await queryHttp(dir);
  log(`audit first page through GET /api/v1/audit: first ${http.firstMs} ms, median ${http.medianMs} ms, max ${http.maxMs} ms (gateway up in ${http.startSeconds} s on this store)`);

  const store = SqliteEventStore.open(file);
  try {
    let t0 = performance.now();
    const asOf = await replayState(store, { kind: 'time', time: built.replayAt }, Date.now());
    const replayMs = performance.now() - t0;
    t0 = performance.now();
    const whole = await replayState(store, undefined, Date.now());
    const replayWholeMs = performance.now() - t0;
    log(`replay as of the ${SIMULATED.toLocaleString('en')}th decision: ${replayMs.toFixed(0)} ms (${asOf.tokens.size} tokens); the whole history: ${replayWholeMs.toFixed(0)} ms (${whole.tokens.size} tokens)`);

    const candidate = settingsSchema.parse({ ip: { deny: ['10.3.0.0/16'] }, rateLimit: { enabled: true, limit: 1000, windowSeconds: 60 }, groups: { allowed: ['developers'] } });
    const profiler = PROFILE ? await startProfile() : undefined;
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const simulated = await simulateRange(store, candidate, { from: START, to: built.simulatedUntil });
    const simulateSeconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (profiler) {
      writeFileSync(PROFILE!, JSON.stringify(await profiler()));
      log(`simulation's CPU profile written to ${PROFILE}`);
    }
    if (simulated.decisions !== SIMULATED) throw new Error(`simulated ${simulated.decisions} decisions, expected ${SIMULATED}`);
    log(`simulate ${SIMULATED.toLocaleString('en')} decisions from the store: ${simulateSeconds.toFixed(1)} s (${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU-s), ${simulated.changed} changed`);
    process.stdout.write(
      `${JSON.stringify({
        decisions: DECISIONS,
        buildSeconds: round(built.seconds, 1),
        appendPerSecond: Math.round(DECISIONS / built.seconds),
        lateAppendPerSecond: built.latePerSecond,
        lateAppendPerCpuSecond: built.latePerCpuSecond,
        bytesPerDecision: round(bytesPerDecision, 1),
        queryCoreFirstMs: core.firstMs,
        queryCoreMedianMs: core.medianMs,
        queryCoreMaxMs: core.maxMs,
        queryHttpFirstMs: http.firstMs,
        queryHttpMedianMs: http.medianMs,
        queryHttpMaxMs: http.maxMs,
        gatewayStartSeconds: http.startSeconds,
        replayDecisions: SIMULATED,
        replayMs: Math.round(replayMs),
        replayWholeMs: Math.round(replayWholeMs),
        simulated: SIMULATED,
        simulateSeconds: round(simulateSeconds, 2),
        simulateCpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
        simulateChanged: simulated.changed,
      })}\n`,
    );
  } finally {
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

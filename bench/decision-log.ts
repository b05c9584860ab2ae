// Micro-benchmark of the decision log (bounded: a fixed number of decisions): its cost on the event loop, by timing and by CPU profile; decisions/s the append thread stores; bytes per decision on disk.
//
// npm run bench:decision-log            (BENCH_DECISIONS, default 300000)
// Human lines go to stderr, one JSON line to stdout (bench/run.ts reads it).
import { mkdtempSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';

import Database from 'better-sqlite3';

import type { AccessRequest, Decision, Identity, TraceEntry } from '../core/access.js';
import { DecisionBatch } from '../core/decision-log/batch.js';
import { DecisionLogWriter, type BlockSink } from '../core/decision-log/writer.js';
import { timeOrderedId } from '../core/ids.js';
import { silentLogger } from '../core/logger.js';
import { SqliteAppendThread } from '../core/store/sqlite-append-thread.js';
import { SqliteEventStore } from '../core/store/sqlite.js';
import { storeBytes } from './lib/file-size.js';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 300_000);
const BATCH = 4096;
const POOL = 8192;
const START = Date.UTC(2026, 0, 5, 9);
const log = (line: string): void => void process.stderr.write(`decision-log: ${line}\n`);

// Traffic like the bench's full path: identities shared by the identity cache, a third of the
// callers with gateway tokens, some refused, paths of a Jira-like API, a few thousand clients.
const STAGES = ['master_switch', 'paths', 'ip', 'authenticate', 'token_scopes', 'groups', 'read_only', 'routes', 'rate_limit'];
const allPass: TraceEntry[] = STAGES.map((stage) => ({ stage, outcome: 'pass' }));
const refusedTrace: TraceEntry[] = [...STAGES.slice(0, 3).map((stage) => ({ stage, outcome: 'pass' as const })), { stage: 'authenticate', outcome: 'deny', reason: 'invalid_token' }];
const identities: Identity[] = Array.from({ length: 200 }, (_, u) => ({
  subject: `00u${(u * 7919).toString(36).padStart(8, '0')}`,
  username: `user${u}@example.com`,
  groups: u % 3 === 0 ? ['developers', 'jira-users'] : ['jira-users'],
  scopes: [],
  provider: u % 3 === 1 ? 'gateway' : 'corp-idp',
  ...(u % 3 === 1 ? { tokenId: `gt_${u.toString(36).padStart(10, '0')}` } : {}),
}));

function sample(i: number, time: number): { request: AccessRequest; decision: Decision } {
  const identity = identities[i % identities.length]!;
  const refused = i % 10 === 9;
  const path = `/rest/api/2/issue/PROJ-${(i * 31) % 20_000}`;
  const client = `10.${(i >> 8) & 3}.${i & 255}.${(i * 13) & 255}`;
  const request: AccessRequest = {
    id: timeOrderedId(time),
    method: i % 5 === 0 ? 'POST' : 'GET',
    rawPath: path,
    path,
    query: '',
    host: 'jira.example.com',
    clientIp: client,
    peerIp: client,
    time,
    credential: { scheme: 'bearer', secret: 'x' },
  };
  const decision: Decision = refused
    ? { allow: false, status: 401, reason: 'invalid_token', description: 'the token is not valid', stage: 'authenticate', trace: refusedTrace, credentialConsumed: false }
    : { allow: true, status: 200, reason: 'authenticated', stage: 'pipeline', trace: allPass, credentialConsumed: true, identity };
  return { request, decision };
}

const pool = Array.from({ length: POOL }, (_, i) => sample(i, START + i));

/** µs of event-loop time per decision for record() alone (sealing included), the sink answering at once. */
async function recordCost(): Promise<number> {
  let sealed = 0;
  const sink: BlockSink = { appendBlocks: async () => ({ nextRevision: 0, position: '1' as never }), close: async () => {} };
  const writer = new DecisionLogWriter(sink, silentLogger, { batchSize: BATCH, flushIntervalMs: 60_000, maxBuffered: 10_000_000 });
  let busy = 0;
  // Round 0 warms the JIT up; round 1 is measured.
  for (let round = 0; round < 2; round++) {
    busy = 0;
    for (let done = 0; done < DECISIONS; ) {
      const chunk = Math.min(BATCH * 4, DECISIONS - done);
      const t0 = performance.now();
      for (let k = 0; k < chunk; k++) {
        const { request, decision } = pool[(done + k) % POOL]!;
        writer.record(request, decision);
      }
      busy += performance.now() - t0;
      done += chunk;
      await turn(); // the flushes of full batches run here, outside the timed loop
    }
    await writer.flush();
    sealed = writer.written;
  }
  await writer.close();
  if (sealed !== 2 * DECISIONS) throw new Error(`recorded ${sealed} of ${2 * DECISIONS}`);
  return (busy * 1000) / DECISIONS;
}

/** Sealed batches of `DECISIONS` decisions with advancing times, as the writer hands them to the append thread. */
function sealedBatches(): ArrayBuffer[] {
  const batch = new DecisionBatch(BATCH);
  const out: ArrayBuffer[] = [];
  for (let i = 0; i < DECISIONS; i++) {
    const { request, decision } = pool[i % POOL]!;
    const timed = { ...request, time: START + i * 3, id: timeOrderedId(START + i * 3) };
    if (!batch.add(timed, decision)) {
      out.push(batch.seal());
      batch.add(timed, decision);
    }
  }
  out.push(batch.seal());
  return out;
}

/** What the append thread does per block (digest and rows read from the batch, insert, commit), timed on this thread; then the file's size. */
async function storeRate(file: string): Promise<{ perSecond: number; perCpuSecond: number; bestBlockPerSecond: number; bytesPerDecision: number; tables: Record<string, number> }> {
  const batches = sealedBatches();
  const store = SqliteEventStore.open(file);
  await store.append('settings', [{ id: timeOrderedId(), type: 'SettingsChanged', data: { patch: {} } }]);
  const emptyBytes = storeBytes(file);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let best = Number.POSITIVE_INFINITY;
  for (const batch of batches) {
    const b0 = performance.now();
    await store.decisions.appendBlocks([{ id: timeOrderedId(), batch }]);
    best = Math.min(best, (performance.now() - b0) / BATCH);
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await store.close();
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  let tables: Record<string, number> = {};
  try {
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as { name: string; bytes: number }[];
    tables = Object.fromEntries(rows.map((r) => [r.name, Math.round((r.bytes / DECISIONS) * 10) / 10]));
  } catch {
    // dbstat is not compiled in: the file's size alone
  }
  db.close();
  return { perSecond: DECISIONS / seconds, perCpuSecond: DECISIONS / cpuSeconds, bestBlockPerSecond: 1000 / best, bytesPerDecision: (storeBytes(file) - emptyBytes) / DECISIONS, tables };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Sampled main-thread time by area, in µs per decision. */
function byArea(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, decisions: number): Record<string, number> {
  const area = new Map<number, string>();
  for (const node of profile.nodes) {
    const { url, functionName } = node.callFrame;
    area.set(
      node.id,
      url.includes('/core/decision-log/') ? 'core/decision-log'
        : url.includes('/core/store/sqlite-append-thread') ? 'core/store/sqlite-append-thread (hand-over)'
        : url.includes('/bench/') ? 'bench driver (not the log)'
        : functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)' ? functionName
        : url === '' ? 'native (postMessage, typed arrays, timers)'
        : 'node internals',
    );
  }
  const totals: Record<string, number> = {};
  profile.samples.forEach((id, i) => {
    const name = area.get(id) ?? 'other';
    totals[name] = (totals[name] ?? 0) + (profile.timeDeltas[i] ?? 0);
  });
  return Object.fromEntries(Object.entries(totals).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((v / decisions) * 100) / 100]));
}

/** Through the real append thread: decisions/s stored end to end, event-loop µs per decision, and its profile. */
async function throughThread(file: string): Promise<{ perSecond: number; logMicros: number; profile: Record<string, number> }> {
  SqliteEventStore.open(file).close();
  const thread = new SqliteAppendThread(file);
  const writer = new DecisionLogWriter(thread, silentLogger, { batchSize: BATCH, maxBuffered: 10_000_000 });
  await thread.appendBlocks([{ id: timeOrderedId(), batch: (() => { const b = new DecisionBatch(1); b.add(pool[0]!.request, pool[0]!.decision); return b.seal(); })() }]);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let done = 0; done < DECISIONS; done += BATCH) {
    for (let k = 0; k < BATCH; k++) {
      const { request, decision } = pool[(done + k) % POOL]!;
      writer.record(request, decision);
    }
    // Like traffic: the loop turns between requests, so the writer's flushes and replies run.
    await turn();
    while (writer.pending > BATCH * 8) await new Promise((r) => setTimeout(r, 1));
  }
  await writer.flush();
  while (writer.written < DECISIONS) await new Promise((r) => setTimeout(r, 1));
  const seconds = (performance.now() - t0) / 1000;
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } };
  session.disconnect();
  await writer.close();
  await thread.close();
  const areas = byArea(profile, DECISIONS);
  // What the log costs the event loop: every sample but idle time and the driver's own loop.
  const logMicros = Object.entries(areas).reduce((sum, [area, micros]) => (area === '(idle)' || area.startsWith('bench driver') ? sum : sum + micros), 0);
  return { perSecond: DECISIONS / seconds, logMicros, profile: areas };
}

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-dlog-'));
try {
  log(`${DECISIONS} decisions, blocks of ${BATCH}`);
  const record = await recordCost();
  log(`event loop, record() alone (sealing included): ${record.toFixed(2)} µs per decision`);
  const store = await storeRate(join(dir, 'store.db'));
  log(
    `append thread's work (digest, rows, insert, commit; blocks of ${BATCH}) on one thread: ${Math.round(store.perSecond)} decisions/s by the clock, ` +
      `${Math.round(store.perCpuSecond)} per CPU-second, ${Math.round(store.bestBlockPerSecond)} in the fastest block (the last two: what a quiet core gives)`,
  );
  log(`on disk: ${store.bytesPerDecision.toFixed(1)} bytes per decision (file growth, indexes included)`);
  if (Object.keys(store.tables).length > 0) log(`  by table/index (bytes per decision): ${Object.entries(store.tables).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const thread = await throughThread(join(dir, 'thread.db'));
  log(`through the append thread: ${Math.round(thread.perSecond)} decisions/s stored; the log costs the event loop ${thread.logMicros.toFixed(2)} µs per decision (sampled)`);
  log(`  main-thread profile, µs per decision: ${Object.entries(thread.profile).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  process.stdout.write(
    `${JSON.stringify({
      decisions: DECISIONS,
      recordMicros: Math.round(record * 100) / 100,
      storePerSecond: Math.round(store.perSecond),
      storePerCpuSecond: Math.round(store.perCpuSecond),
      storeBestBlockPerSecond: Math.round(store.bestBlockPerSecond),
      bytesPerDecision: Math.round(store.bytesPerDecision * 10) / 10,
      threadPerSecond: Math.round(thread.perSecond),
      loopMicros: Math.round(thread.logMicros * 100) / 100,
    })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

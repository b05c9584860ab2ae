// Simulation speed (bounded: BENCH_DECISIONS, default 100000, on a memory store): decisions re-run per second, and the time 1,000,000 would take at that rate.
//
// npm run bench:simulate
// Human lines go to stderr, one JSON line to stdout.
import { performance } from 'node:perf_hooks';

import { DecisionBatch } from '../core/decision-log/batch.js';
import type { DecisionRecord } from '../core/decision-log/record.js';
import { ManualClock } from '../core/clock.js';
import { settingsSchema } from '../core/settings/schema.js';
import { MemoryEventStore } from '../core/store/memory.js';
import { simulateRange } from '../server/runtime/simulate.js';

const DECISIONS = Math.min(Number(process.env.BENCH_DECISIONS ?? 100_000), 1_000_000);
const START = Date.UTC(2026, 0, 5, 9);
const log = (line: string): void => void process.stderr.write(`simulate: ${line}\n`);

/** Recorded traffic: 500 users on 2000 addresses, 10 requests a millisecond, a few anonymous callers. */
function decision(i: number): DecisionRecord {
  const user = `user${i % 500}`;
  const anonymous = i % 50 === 0;
  return {
    time: START + Math.floor(i / 10),
    requestId: `req-${i}`,
    method: i % 7 ? 'GET' : 'POST',
    host: 'jira.example.com',
    path: `/rest/api/2/issue/PROJ-${i % 997}`,
    clientIp: `10.0.${(i % 2000) >> 8}.${i % 256}`,
    peerIp: '10.1.0.1',
    ...(anonymous ? {} : { credential: 'bearer' as const, identity: { subject: `s-${user}`, username: user, provider: 'corp', groups: ['dev'] } }),
    allow: !anonymous,
    status: anonymous ? 401 : 200,
    reason: anonymous ? 'missing_credential' : 'authenticated',
    stage: anonymous ? 'authenticate' : 'pipeline',
    trace: [],
  };
}

const store = new MemoryEventStore({ clock: new ManualClock(START) });
for (let i = 0, b = 0; i < DECISIONS; b++) {
  const batch = new DecisionBatch(4096);
  for (; i < DECISIONS && batch.addRecord(decision(i)); i++);
  await store.decisions.appendBlocks([{ id: `block-${b}`, batch: batch.seal() }]);
}
const candidate = settingsSchema.parse({ ip: { deny: ['10.0.7.0/24'] }, rateLimit: { enabled: true, limit: 1000, windowSeconds: 60 }, groups: { readOnly: ['dev'] } });
const started = performance.now();
const result = await simulateRange(store, candidate, { from: START, to: START + 86_400_000 });
const seconds = (performance.now() - started) / 1000;
const perSecond = Math.round(result.decisions / seconds);
log(`${result.decisions} decisions in ${seconds.toFixed(2)} s (${perSecond}/s), ${result.changed} changed`);
log(`1,000,000 decisions at that rate: ${(1_000_000 / perSecond).toFixed(1)} s (target 20 s)`);
process.stdout.write(`${JSON.stringify({ decisions: result.decisions, seconds, perSecond, millionSeconds: 1_000_000 / perSecond })}\n`);

// The retention scheduler on a fake clock: a run at start, then one per interval, with the settings of the moment; failures logged, not thrown.
import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import type { RetentionSettings, RetentionStore } from '../../../core/retention/apply.js';
import { retentionBridge } from '../../../core/retention/bridge.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { RETENTION_EVERY_MS, RetentionScheduler } from '../../../server/runtime/retention-scheduler.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const DAY = 86_400_000;
const JAN5 = Date.UTC(2026, 0, 5, 9);

describe('server/runtime RetentionScheduler', () => {
  let store: MemoryEventStore;
  let clock: ManualClock;
  let retention: RetentionSettings;
  const logged: string[] = [];
  const logger: Logger = { ...silentLogger, info: (...args: unknown[]) => void logged.push(String(args.at(-1))), error: (...args: unknown[]) => void logged.push(`error: ${String(args.at(-1))}`) };

  /** One block a day from Jan 5 on, each followed by a settings change (so no day holds the head). */
  async function days(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await store.decisions.appendBlocks([sealedBlock(`b${i}`, [sampleDecision({ time: JAN5 + i * DAY, requestId: `r${i}` })])]);
      await store.append('settings', [{ id: `c${i}`, type: 'SettingsChanged', data: { patch: {} } }]);
    }
  }

  beforeEach(() => {
    store = new MemoryEventStore();
    clock = new ManualClock(JAN5 + 3 * DAY);
    retention = { maxDays: false, maxEntries: false };
    logged.length = 0;
  });
  afterEach(() => store.close());

  it('runs at once, then not again until the interval has passed, reading the settings at each run', async () => {
    await days(3);
    const scheduler = new RetentionScheduler(store, () => retention, clock, logger);
    expect(await scheduler.tick(), 'no limits: nothing to do').to.equal(undefined);
    retention = { maxDays: 2, maxEntries: false };
    clock.advance(RETENTION_EVERY_MS - 1);
    expect(await scheduler.tick(), 'not due yet').to.equal(undefined);
    expect(await store.readStream('access-2026-01-05')).to.have.length(1);
    clock.advance(1);
    const run = await scheduler.tick();
    expect(run?.dropped.map((p) => p.stream)).to.deep.equal(['access-2026-01-05', 'access-2026-01-06']);
    expect(logged.filter((m) => m === 'retention dropped a day of the decision log')).to.have.length(2);
    expect(await scheduler.tick(), 'the next run is an interval later').to.equal(undefined);
    clock.advance(RETENTION_EVERY_MS);
    expect((await scheduler.tick())?.dropped).to.deep.equal([]);
  });

  it('logs a failing run and tries again at the next one', async () => {
    await days(3);
    retention = { maxDays: 1, maxEntries: false };
    // The drop is recorded, then the deletion fails: the record names a hole that is not there yet.
    const failing: RetentionStore = {
      readAll: (o) => store.readAll(o),
      readStream: (s, o) => store.readStream(s, o),
      append: (s, e, o) => store.append(s, e, o),
      headPosition: () => store.headPosition(),
      deleteStream: () => Promise.reject(new Error('disk full')),
    };
    const scheduler = new RetentionScheduler(failing, () => retention, clock, logger);
    expect(await scheduler.tick()).to.equal(undefined);
    expect(logged).to.include('error: could not apply audit retention; retrying at the next run');
    clock.advance(RETENTION_EVERY_MS);
    const healthy = new RetentionScheduler(store, () => retention, clock, logger);
    expect((await healthy.tick())?.dropped.length).to.equal(3);
    // The retried drop recorded the same holes again: verify passes all the same.
    expect((await verifyHistory(store, { acceptGap: await retentionBridge(store) })).ok).to.equal(true);
  });

  it('stop() waits for a run under way', async () => {
    await days(3);
    retention = { maxDays: 1, maxEntries: false };
    const scheduler = new RetentionScheduler(store, () => retention, clock, logger);
    const run = scheduler.tick();
    await scheduler.stop();
    expect(await store.readStream('access-2026-01-05')).to.deep.equal([]);
    expect((await run)?.dropped.length).to.equal(3);
  });
});

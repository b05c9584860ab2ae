// Retention's part of the store contract (run by eventStoreContract for every adapter): dropping day partitions, bridging the holes, checkpoints still matching.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';

import { checkpointKey } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { readCheckpoints } from '../../../core/checkpoints/stored.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { applyRetention, planRetention } from '../../../core/retention/apply.js';
import { retentionBridge } from '../../../core/retention/bridge.js';
import { RETENTION_APPLIED, RETENTION_STREAM } from '../../../core/retention/record.js';
import type { EventStore } from '../../../core/store/port.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const DAY = 86_400_000;
const JAN5 = Date.UTC(2026, 0, 5, 9);
const NOW = Date.UTC(2026, 0, 8, 12);

/** `count` decisions at `time`, one block. */
const block = (id: string, time: number, count = 2) =>
  sealedBlock(id, Array.from({ length: count }, (_, i) => sampleDecision({ time: time + i, requestId: `${id}-${i}` })));

const setting = (id: string) => ({ id, type: 'SettingsChanged', data: { patch: { enabled: true } } });

export function retentionContract(store: () => EventStore): void {
  describe('retention', () => {
    /**
     * Jan 5: b1, (a settings change), b2 — Jan 6: b3, right after b2 — a token event — Jan 7: b4 —
     * a settings change at the head. A checkpoint is signed after b1 (it names b1) and at the end.
     */
    async function history(): Promise<{ signer: CheckpointSigner; clock: ManualClock; key: ReturnType<typeof checkpointKey> }> {
      const s = store();
      const key = checkpointKey(generateKeyPairSync('ed25519').privateKey);
      const clock = new ManualClock(NOW);
      const signer = new CheckpointSigner(s, key, clock, silentLogger, { everyEvents: 1, everySeconds: 3600 });
      await s.append('settings', [setting('c1')]);
      await s.decisions.appendBlocks([block('b1', JAN5, 3)]);
      await signer.tick();
      await s.append('settings', [setting('c2')]);
      await s.decisions.appendBlocks([block('b2', JAN5 + 3_600_000)]);
      await s.decisions.appendBlocks([block('b3', JAN5 + DAY)]);
      await s.append('token-t1', [{ id: 't1', type: 'TokenIssued', data: { id: 't1' } }]);
      await s.decisions.appendBlocks([block('b4', JAN5 + 2 * DAY)]);
      await s.append('settings', [setting('c3')]);
      await signer.tick();
      return { signer, clock, key };
    }

    const verify = async (s: EventStore, exported?: Awaited<ReturnType<typeof readCheckpoints>>['checkpoints']) =>
      verifyHistory(s, { acceptGap: await retentionBridge(s), ...(exported ? { exported } : {}) });

    it('drops whole days oldest first, records each drop, and verify passes across the holes with the checkpoints still matching', async () => {
      const { signer } = await history();
      const s = store();
      const exported = (await readCheckpoints(s, 0, 10)).checkpoints;
      const before = await verify(s, exported);
      expect(before.ok).to.equal(true);

      const result = await applyRetention(s, { maxDays: 2, maxEntries: false }, NOW);
      expect(result.dropped.map((p) => [p.stream, p.events, p.decisions, p.rule])).to.deep.equal([
        ['access-2026-01-05', 2, 5, 'maxDays'],
        ['access-2026-01-06', 1, 2, 'maxDays'],
      ]);
      expect(await s.readStream('access-2026-01-05')).to.deep.equal([]);
      expect((await s.decisions.read()).map((d) => d.decision.requestId)).to.deep.equal(['b4-0', 'b4-1']);
      expect((await s.readStream('settings')).length).to.equal(3);
      expect((await s.readStream('token-t1')).length).to.equal(1);
      const records = await s.readStream(RETENTION_STREAM);
      expect(records.map((e) => e.type)).to.deep.equal([RETENTION_APPLIED, RETENTION_APPLIED]);
      // b1 and b2 are split by c2 and by the checkpoint after b1: two holes for the first day.
      expect((records[0]!.data as { gaps: unknown[] }).gaps).to.have.length(2);

      const after = await verify(s, exported);
      expect(after.problem).to.equal(undefined);
      // The checkpoint after b1 names a dropped event; the one at c3 still matches, its count including the dropped events.
      expect(after.checkpoints).to.include({ retired: 2, matched: 2 });
      expect(after.events).to.equal(before.events + 2 - 3);

      // The signer counts on (its count includes the dropped events), and so does a fresh one.
      await s.append('settings', [setting('c4')]);
      expect(await signer.tick()).to.not.equal(undefined);
      const fresh = new CheckpointSigner(s, checkpointKey(generateKeyPairSync('ed25519').privateKey), new ManualClock(NOW), silentLogger, { everyEvents: 1, everySeconds: 3600 });
      await s.append('settings', [setting('c5')]);
      expect(await fresh.tick()).to.not.equal(undefined);
      const later = await verify(s, (await readCheckpoints(s, 0, 10)).checkpoints);
      expect(later.problem).to.equal(undefined);
      expect(later.ok).to.equal(true);
    });

    it('verify fails on the holes without the bridge, and on any deletion no drop names, next to a dropped day or not', async () => {
      await history();
      const s = store();
      await applyRetention(s, { maxDays: 2, maxEntries: false }, NOW);
      const unbridged = await verifyHistory(s);
      expect(unbridged.ok).to.equal(false);
      expect(unbridged.problem?.kind).to.equal('chain');

      // The token event follows the dropped Jan 6 block directly.
      await s.deleteStream('token-t1');
      const adjacent = await verify(s);
      expect(adjacent.ok).to.equal(false);
      expect(adjacent.problem).to.deep.include({ kind: 'chain' });
    });

    it('verify fails on a deletion elsewhere, after a drop', async () => {
      await history();
      const s = store();
      await applyRetention(s, { maxDays: 2, maxEntries: false }, NOW);
      await s.deleteStream('access-2026-01-07');
      const result = await verify(s);
      expect(result.ok).to.equal(false);
      expect(result.problem?.kind).to.equal('chain');
    });

    it('maxEntries drops whole days, oldest first, until the rest fit', async () => {
      await history();
      const s = store();
      const plan = await planRetention(s, { maxDays: false, maxEntries: 3 }, NOW);
      expect(plan).to.deep.include({ decisions: 9, keptDecisions: 2 });
      expect(plan.drop.map((p) => [p.stream, p.rule])).to.deep.equal([['access-2026-01-05', 'maxEntries'], ['access-2026-01-06', 'maxEntries']]);
      const one = await planRetention(s, { maxDays: false, maxEntries: 4 }, NOW);
      expect(one.drop.map((p) => p.stream)).to.deep.equal(['access-2026-01-05']);
      const none = await planRetention(s, { maxDays: false, maxEntries: 9 }, NOW);
      expect(none.drop).to.deep.equal([]);
      expect((await applyRetention(s, { maxDays: false, maxEntries: 3 }, NOW)).dropped).to.have.length(2);
      expect((await verify(s)).ok).to.equal(true);
    });

    it('a signer starting with no checkpoint in the store counts the dropped events too', async () => {
      const s = store();
      await s.append('settings', [setting('c1')]);
      await s.decisions.appendBlocks([block('b1', JAN5, 3)]);
      await s.append('settings', [setting('c2')]);
      expect((await applyRetention(s, { maxDays: 1, maxEntries: false }, NOW)).dropped).to.have.length(1);
      const signer = new CheckpointSigner(s, checkpointKey(generateKeyPairSync('ed25519').privateKey), new ManualClock(NOW), silentLogger, { everyEvents: 1, everySeconds: 3600 });
      // c1, the dropped block, c2 and the RetentionApplied event.
      expect(await signer.tick()).to.include({ count: 4 });
      const result = await verify(s, (await readCheckpoints(s, 0, 10)).checkpoints);
      expect(result.problem).to.equal(undefined);
      expect(result.checkpoints).to.include({ matched: 2 });
    });

    it('reports its size on disk, growing with what it holds (undefined for a store on no disk)', async () => {
      const s = store();
      const before = await s.sizeBytes();
      if (before === undefined) return;
      const big = 'x'.repeat(2000);
      for (let i = 0; i < 20; i++) await s.append('size', Array.from({ length: 25 }, (_, k) => ({ id: `z${i}-${k}`, type: 'Tested', data: { big } })));
      expect(await s.sizeBytes()).to.be.greaterThan(before);
    });

    it('keeps today, a partition holding the head, and one with events past the last checkpoint', async () => {
      await history();
      const s = store();
      // Jan 7's block is followed by c3, but signed only through c3's checkpoint: droppable. Today (Jan 8) is not.
      await s.decisions.appendBlocks([block('b5', NOW)]);
      expect((await planRetention(s, { maxDays: 1, maxEntries: false }, NOW + DAY)).heldBack).to.deep.equal({ stream: 'access-2026-01-08', reason: 'head' });
      await s.append('settings', [setting('c9')]);
      expect((await planRetention(s, { maxDays: 1, maxEntries: false }, NOW + DAY)).heldBack).to.deep.equal({ stream: 'access-2026-01-08', reason: 'unsigned' });
      expect((await planRetention(s, { maxDays: false, maxEntries: 1 }, NOW)).heldBack).to.deep.equal({ stream: 'access-2026-01-08', reason: 'today' });
      expect((await planRetention(s, { maxDays: false, maxEntries: false }, NOW)).drop).to.deep.equal([]);
    });
  });
}

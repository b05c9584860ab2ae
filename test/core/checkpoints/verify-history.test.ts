// verifyHistory beyond the SQLite attacks: checkpoints that are not what they claim, and the seam retention will use to bridge the gaps it leaves.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';

import { CHECKPOINT_SIGNED, CHECKPOINT_STREAM, checkpointKey, signCheckpoint } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { readCheckpoints } from '../../../core/checkpoints/stored.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import type { GapBridge } from '../../../core/store/hash.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import type { Position } from '../../../core/store/port.js';

const key = checkpointKey(generateKeyPairSync('ed25519').privateKey);
const ev = (id: string) => ({ id, type: 'Tested', data: { id } });

describe('verifyHistory', () => {
  let store: MemoryEventStore;
  let clock: ManualClock;
  const signer = (everyEvents = 1) => new CheckpointSigner(store, key, clock, silentLogger, { everyEvents, everySeconds: 60 });

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2024, 0, 1));
    store = new MemoryEventStore({ clock });
  });

  it('an exported checkpoint altered after export: reported before the store is read, as the file entry', async () => {
    await store.append('s-1', [ev('a'), ev('b')]);
    await signer().tick();
    const [checkpoint] = (await readCheckpoints(store, 0, 10)).checkpoints;
    const result = await verifyHistory(store, { exported: [checkpoint!, { ...checkpoint!, count: 1 }] });
    expect(result).to.deep.include({ ok: false, events: 0 });
    expect(result.problem).to.deep.equal({ kind: 'bad_signature', source: { kind: 'file', entry: 2 }, reason: 'the signature does not verify' });
  });

  it('an event of the checkpoint stream that holds no checkpoint: broken at that event', async () => {
    await store.append('s-1', [ev('a')]);
    const { position } = await store.append(CHECKPOINT_STREAM, [{ id: 'junk', type: CHECKPOINT_SIGNED, data: { position: '1' } }]);
    expect((await verifyHistory(store)).problem).to.deep.equal({ kind: 'bad_signature', source: { kind: 'stored', eventPosition: position }, reason: 'a checkpoint event that holds no checkpoint' });
  });

  it('a validly signed stored checkpoint that names a position after its own: broken at that event', async () => {
    await store.append('s-1', [ev('a')]);
    const [a] = await store.readAll();
    const ahead = signCheckpoint({ position: '5' as Position, count: 5, hash: a!.hash, time: '2024-01-01T00:00:00.000Z' }, key);
    const { position } = await store.append(CHECKPOINT_STREAM, [{ id: 'ahead', type: CHECKPOINT_SIGNED, data: ahead }]);
    expect((await verifyHistory(store)).problem).to.deep.equal({ kind: 'bad_signature', source: { kind: 'stored', eventPosition: position }, reason: 'a stored checkpoint names a position after its own' });
  });

  it('an exported checkpoint that names an event by the right hash but the wrong count: a mismatch with what the store holds', async () => {
    await store.append('s-1', [ev('a'), ev('b')]);
    const [, b] = await store.readAll();
    const wrongCount = signCheckpoint({ position: b!.position, count: 3, hash: b!.hash, time: '2024-01-01T00:00:00.000Z' }, key);
    expect((await verifyHistory(store, { exported: [wrongCount] })).problem).to.deep.equal({
      kind: 'checkpoint_mismatch',
      source: { kind: 'file', entry: 1 },
      checkpoint: wrongCount,
      found: { hash: b!.hash, count: 2 },
    });
  });

  describe('the retention seam (acceptGap)', () => {
    /** a [1], d1 d2 [2-3] in drop-1, b [4], checkpoint→4 [5], x [6] in drop-2, c [7]; then both drop streams deleted. */
    async function history(): Promise<GapBridge> {
      await store.append('s-1', [ev('a')]);
      await store.append('drop-1', [ev('d1'), ev('d2')]);
      await store.append('s-1', [ev('b')]);
      await signer(4).tick();
      await store.append('drop-2', [ev('x')]);
      await store.append('s-1', [ev('c')]);
      const all = await store.readAll();
      const droppedHead = all[2]!.hash;
      await store.deleteStream('drop-1');
      await store.deleteStream('drop-2');
      // What a RetentionApplied event would record: the gap after position 1, bridged by the hash of d2.
      return ({ before, after }) => (before?.position === '1' && after.prevHash === droppedHead ? { dropped: 2 } : undefined);
    }

    it('without a bridge, a dropped stream is a break at the event after the gap', async () => {
      await history();
      expect((await verifyHistory(store)).problem).to.deep.equal({ kind: 'chain', position: '4', reason: 'prevHash does not match the previous event' });
    });

    it('a bridged gap passes, counts the dropped events for the checkpoints, and any other gap still breaks the chain', async () => {
      const result = await verifyHistory(store, { acceptGap: await history() });
      // b is event 4 of the chain again, as its checkpoint says; the unbridged drop-2 gap breaks at c.
      expect(result.checkpoints).to.deep.include({ matched: 1, anchoredThrough: '4' });
      expect(result.problem).to.deep.equal({ kind: 'chain', position: '7', reason: 'prevHash does not match the previous event' });
    });
  });
});

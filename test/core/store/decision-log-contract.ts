// The decision log's part of the store contract (run by eventStoreContract for every adapter): blocks, their events, reads, verify.
import { expect } from 'chai';

import { DecisionBatch } from '../../../core/decision-log/batch.js';
import { blockDigest } from '../../../core/decision-log/digest.js';
import type { DecisionRecord, StoredDecision } from '../../../core/decision-log/record.js';
import { verifyChain } from '../../../core/store/hash.js';
import type { EventStore } from '../../../core/store/port.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);
const ids = (stored: readonly StoredDecision[]): string[] => stored.map((s) => s.decision.requestId);

/** Decisions of one day: ann (gateway token t-ann), bob (corp, no token), anonymous, one per hour from T0 + from hours. */
function day(prefix: string, from: number, count: number): DecisionRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const hour = from + i;
    const who = hour % 3;
    return sampleDecision({
      time: T0 + hour * HOUR,
      requestId: `${prefix}${hour}`,
      identity:
        who === 0
          ? { subject: 'sub-ann', username: 'ann', provider: 'gateway', groups: ['dev'], tokenId: 't-ann' }
          : who === 1
            ? { subject: 'sub-bob', username: 'bob', provider: 'corp', groups: [] }
            : undefined,
      ...(who === 2 ? { credential: undefined, allow: false, status: 401, reason: 'missing_credential', stage: 'authenticate' } : {}),
    });
  });
}

export function decisionLogContract(store: () => EventStore): void {
  describe('decision log', () => {
    it('stores a block as one AccessDecisionsRecorded event in its day’s stream, and its decisions by (block, index)', async () => {
      await store().append('settings', [{ id: 'c1', type: 'SettingsChanged', data: {} }]);
      const decisions = [
        sampleDecision(),
        sampleDecision({
          requestId: 'not-a-uuid',
          host: 'hôte.example',
          path: '/ü/☃',
          clientIp: '2001:db8::7',
          peerIp: '::1',
          credential: 'api_key',
          identity: { subject: 's', username: 'ü', provider: 'p', groups: ['a', 'b,"c"'] },
          trace: [{ stage: 'routes', outcome: 'allow' }],
        }),
        sampleDecision({ clientIp: 'unknown', peerIp: '2001:DB8::1', identity: undefined, credential: undefined, trace: [] }),
      ];
      const result = await store().decisions.appendBlocks([sealedBlock('block-1', decisions)]);
      const [event] = await store().readStream('access-2026-01-05');
      expect(event).to.deep.include({ id: 'block-1', type: 'AccessDecisionsRecorded', position: result.position, revision: 0 });
      expect(event?.data).to.deep.equal({ count: 3, digest: blockDigest(decisions), first: '2026-01-05T09:00:00.000Z', last: '2026-01-05T09:00:00.000Z' });
      const stored = await store().decisions.read();
      expect(stored.map((s) => [s.block, s.index])).to.deep.equal([[result.position, 0], [result.position, 1], [result.position, 2]]);
      // Absent, not undefined: what a JSON round trip keeps.
      expect(stored.map((s) => s.decision)).to.deep.equal(JSON.parse(JSON.stringify(decisions)));
      expect(await verifyChain(store())).to.deep.include({ ok: true, count: 2 });
    });

    it('stores a retried block once, and several blocks of one call in order', async () => {
      const first = await store().decisions.appendBlocks([sealedBlock('b1', day('a', 0, 2))]);
      expect(await store().decisions.appendBlocks([sealedBlock('b1', day('a', 0, 2))])).to.deep.equal(first);
      const last = await store().decisions.appendBlocks([
        sealedBlock('b1', day('a', 0, 2)),
        sealedBlock('b2', day('b', 0, 1)),
        sealedBlock('b3', day('c', 0, 1)),
      ]);
      expect(ids(await store().decisions.read())).to.deep.equal(['a0', 'a1', 'b0', 'c0']);
      expect((await store().readAll()).map((e) => e.id)).to.deep.equal(['b1', 'b2', 'b3']);
      expect(last.position).to.equal((await store().headPosition())!);
    });

    it('stores nothing of a call with a bad block: no event, no decision', async () => {
      const notABatch = { id: 'bad', batch: new ArrayBuffer(12) };
      const empty = { id: 'empty', batch: new DecisionBatch(1).seal() };
      for (const bad of [[sealedBlock('ok', day('a', 0, 2)), notABatch], [empty], []]) {
        await store().decisions.appendBlocks(bad).then(
          () => expect.fail('appendBlocks succeeded'),
          (err: unknown) => expect(err).to.be.instanceOf(TypeError),
        );
      }
      expect(await store().readAll()).to.deep.equal([]);
      expect(await store().decisions.read()).to.deep.equal([]);
    });

    it('reads by block, time range, user, token id and provider, forwards and backwards, with a cursor and a limit', async () => {
      const { position: b1 } = await store().decisions.appendBlocks([sealedBlock('b1', day('d', 0, 12))]);
      await store().append('settings', [{ id: 'between', type: 'SettingsChanged', data: {} }]);
      const { position: b2 } = await store().decisions.appendBlocks([sealedBlock('b2', day('d', 12, 12))]);
      const read = async (q: Parameters<EventStore['decisions']['read']>[0]) => ids(await store().decisions.read(q));
      expect(await read({ block: b2, limit: 3 })).to.deep.equal(['d12', 'd13', 'd14']);
      expect(await read({ from: T0 + 10 * HOUR, to: T0 + 14 * HOUR })).to.deep.equal(['d10', 'd11', 'd12', 'd13']);
      expect(await read({ username: 'ann', from: T0 + 6 * HOUR })).to.deep.equal(['d6', 'd9', 'd12', 'd15', 'd18', 'd21']);
      expect(await read({ tokenId: 't-ann', direction: 'backwards', limit: 2 })).to.deep.equal(['d21', 'd18']);
      expect(await read({ provider: 'corp', to: T0 + 5 * HOUR })).to.deep.equal(['d1', 'd4']);
      expect(await read({ username: 'bob', provider: 'gateway' })).to.deep.equal([]);
      expect(await read({ username: 'nobody' })).to.deep.equal([]);
      expect(await read({ from: T0 + 30 * HOUR })).to.deep.equal([]);
      expect(await read({ limit: 0 })).to.deep.equal([]);
      const page1 = await store().decisions.read({ direction: 'backwards', limit: 5 });
      expect(ids(page1)).to.deep.equal(['d23', 'd22', 'd21', 'd20', 'd19']);
      const page2 = await store().decisions.read({ direction: 'backwards', limit: 10, after: page1.at(-1)! });
      expect(ids(page2)).to.deep.equal(['d18', 'd17', 'd16', 'd15', 'd14', 'd13', 'd12', 'd11', 'd10', 'd9']);
      expect(ids(await store().decisions.read({ after: { block: b1, index: 10 }, limit: 3 }))).to.deep.equal(['d11', 'd12', 'd13']);
    });

    it('deletes a stream’s decisions with it, and verify still checks what remains', async () => {
      await store().decisions.appendBlocks([sealedBlock('old', day('o', 0, 3))]);
      await store().decisions.appendBlocks([sealedBlock('new', [sampleDecision({ time: Date.UTC(2026, 0, 6), requestId: 'n0', identity: undefined })])]);
      await store().deleteStream('access-2026-01-05');
      expect(ids(await store().decisions.read())).to.deep.equal(['n0']);
      expect(await store().decisions.read({ username: 'ann' })).to.deep.equal([]);
    });
  });
}

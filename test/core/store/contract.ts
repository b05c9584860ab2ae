// The contract every event store adapter must meet; each adapter's test file runs it once.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';

import { CHECKPOINT_SIGNED, checkpointKey } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { readCheckpoints } from '../../../core/checkpoints/stored.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { hashEvent, verifyChain } from '../../../core/store/hash.js';
import {
  WrongExpectedRevisionError,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type RecordedEvent,
} from '../../../core/store/port.js';
import { decisionLogContract } from './decision-log-contract.js';
import { replayMatchesLive } from './replay-contract.js';
import { eventually } from '../../support/eventually.js';
import { retentionContract } from './retention-contract.js';

export function ev(id: string, data: unknown = { n: id }, type = 'Tested'): NewEvent {
  return { id, type, data };
}

export async function take(
  events: AsyncIterable<RecordedEvent>,
  count: number,
  onEach?: (e: RecordedEvent) => void,
): Promise<RecordedEvent[]> {
  const seen: RecordedEvent[] = [];
  if (count === 0) return seen;
  for await (const e of events) {
    seen.push(e);
    onEach?.(e);
    if (seen.length >= count) break;
  }
  return seen;
}

async function conflict(promise: Promise<unknown>): Promise<WrongExpectedRevisionError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(WrongExpectedRevisionError);
    return err as WrongExpectedRevisionError;
  }
  expect.fail('append should have failed with wrong_expected_revision');
}

const ids = (events: readonly RecordedEvent[]): string[] => events.map((e) => e.id);
const asNumbers = (events: readonly RecordedEvent[]): number[] => events.map((e) => Number(e.position));

/** Every adapter's test file calls this once: the store contract, and replay against the live projections on that store. */
export function eventStoreContract(
  name: string,
  make: () => Promise<EventStore>,
  cleanup?: () => Promise<void> | void,
): void {
  replayMatchesLive(name, make, cleanup);
  describe(`${name}: event store contract`, () => {
    let store: EventStore;

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    describe('append', () => {
      it('creates a stream with no_stream and returns its revision and position', async () => {
        const result = await store.append('tokens-1', [ev('a', { x: 1 })], { expectedRevision: 'no_stream' });
        expect(result.nextRevision).to.equal(0);
        expect(await store.headPosition()).to.equal(result.position);
        const [event, ...rest] = await store.readStream('tokens-1');
        expect(rest).to.deep.equal([]);
        expect(event).to.include({ id: 'a', type: 'Tested', stream: 'tokens-1', revision: 0, position: result.position });
        expect(event?.data).to.deep.equal({ x: 1 });
        expect(event?.metadata).to.deep.equal({});
        expect(event?.time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });

      const cases: Array<{ title: string; setup: number; expected: ExpectedRevision; actual: number }> = [
        { title: 'no_stream on an existing stream', setup: 1, expected: 'no_stream', actual: 0 },
        { title: 'stream_exists on a missing stream', setup: 0, expected: 'stream_exists', actual: -1 },
        { title: 'a revision behind the stream', setup: 2, expected: 0, actual: 1 },
        { title: 'a revision ahead of the stream', setup: 1, expected: 3, actual: 0 },
        { title: 'a revision on a missing stream', setup: 0, expected: 0, actual: -1 },
      ];
      for (const c of cases) {
        it(`rejects ${c.title} and writes nothing`, async () => {
          for (let i = 0; i < c.setup; i++) await store.append('s-1', [ev(`setup-${i}`)]);
          const head = await store.headPosition();
          const err = await conflict(store.append('s-1', [ev('x')], { expectedRevision: c.expected }));
          expect(err.code).to.equal('wrong_expected_revision');
          expect(err.stream).to.equal('s-1');
          expect(err.expected).to.equal(c.expected);
          expect(err.actual).to.equal(c.actual);
          expect(await store.headPosition()).to.equal(head);
          expect(ids(await store.readStream('s-1'))).to.not.include('x');
        });
      }

      it('accepts any, stream_exists and the exact revision', async () => {
        expect((await store.append('s-1', [ev('a')], { expectedRevision: 'any' })).nextRevision).to.equal(0);
        expect((await store.append('s-1', [ev('b')], { expectedRevision: 'any' })).nextRevision).to.equal(1);
        expect((await store.append('s-1', [ev('c')], { expectedRevision: 'stream_exists' })).nextRevision).to.equal(2);
        expect((await store.append('s-1', [ev('d')], { expectedRevision: 2 })).nextRevision).to.equal(3);
        expect(ids(await store.readStream('s-1'))).to.deep.equal(['a', 'b', 'c', 'd']);
      });

      it('skips ids already stored: a retried append is a no-op with the same result', async () => {
        const first = await store.append('s-1', [ev('a'), ev('b')], { expectedRevision: 'no_stream' });
        const retry = await store.append('s-1', [ev('a'), ev('b')], { expectedRevision: 'no_stream' });
        expect(retry).to.deep.equal(first);
        expect(ids(await store.readAll())).to.deep.equal(['a', 'b']);
        const partial = await store.append('s-1', [ev('b'), ev('c')], { expectedRevision: 1 });
        expect(partial.nextRevision).to.equal(2);
        expect(ids(await store.readStream('s-1'))).to.deep.equal(['a', 'b', 'c']);
      });

      it('skips ids already stored without an expected revision too, and writes the rest', async () => {
        const first = await store.append('s-1', [ev('a'), ev('b')]);
        expect(await store.append('s-1', [ev('a'), ev('b')])).to.deep.equal(first);
        const partial = await store.append('s-1', [ev('b'), ev('c')]);
        expect(partial.nextRevision).to.equal(2);
        expect(ids(await store.readAll())).to.deep.equal(['a', 'b', 'c']);
      });

      it('writes a batch atomically with consecutive revisions and positions', async () => {
        await store.append('other-1', [ev('o')]);
        const result = await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
        const events = await store.readStream('s-1');
        expect(events.map((e) => e.revision)).to.deep.equal([0, 1, 2]);
        const [p0, p1, p2] = asNumbers(events);
        expect([p1, p2]).to.deep.equal([p0! + 1, p0! + 2]);
        expect(result).to.deep.equal({ nextRevision: 2, position: events[2]?.position });
        expect(new Set(events.map((e) => e.time)).size).to.equal(1);
        await conflict(store.append('s-1', [ev('d'), ev('e')], { expectedRevision: 1 }));
        expect(ids(await store.readAll())).to.deep.equal(['o', 'a', 'b', 'c']);
      });

      it('rejects misuse with TypeError and writes nothing', async () => {
        await store.append('s-1', [ev('a')]);
        const attempts = [
          () => store.append('bad stream', [ev('x')]),
          () => store.append('s-1', []),
          () => store.append('s-1', [ev('y'), ev('y')]),
          () => store.append('s-2', [ev('a')]),
          () => store.append('s-1', [ev('z')], { expectedRevision: 1.5 }),
          () => store.readAll({ after: 'nope' as Position }),
        ];
        for (const attempt of attempts) {
          let error: unknown;
          await attempt().catch((err: unknown) => (error = err));
          expect(error).to.be.instanceOf(TypeError);
        }
        expect(ids(await store.readAll())).to.deep.equal(['a']);
      });

      it('round-trips data and metadata', async () => {
        const metadata = { actor: 'admin', correlationId: 'c-1', causationId: 'e-0', sourceIp: '192.0.2.7', extra: { n: [1, 'two'] } };
        const data = { nested: { list: [1, 2, { deep: true }], text: 'ünïcode ✓' }, n: 1.5, none: null };
        await store.append('s-1', [{ id: 'a', type: 'ProviderConfigured', data, metadata }]);
        const [event] = await store.readAll();
        expect(event?.type).to.equal('ProviderConfigured');
        expect(event?.data).to.deep.equal(data);
        expect(event?.metadata).to.deep.equal(metadata);
      });
    });

    describe('read', () => {
      beforeEach(async () => {
        await store.append('s-1', ['a', 'b', 'c', 'd', 'e'].map((id) => ev(id)));
      });

      it('reads a stream forwards from a revision with a limit', async () => {
        expect(ids(await store.readStream('s-1'))).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
        expect(ids(await store.readStream('s-1', { fromRevision: 2 }))).to.deep.equal(['c', 'd', 'e']);
        expect(ids(await store.readStream('s-1', { fromRevision: 1, maxCount: 2 }))).to.deep.equal(['b', 'c']);
        expect(ids(await store.readStream('s-1', { fromRevision: 9 }))).to.deep.equal([]);
      });

      it('reads a stream backwards from a revision with a limit', async () => {
        const back = (o: { fromRevision?: number; maxCount?: number }) =>
          store.readStream('s-1', { direction: 'backwards', ...o }).then(ids);
        expect(await back({})).to.deep.equal(['e', 'd', 'c', 'b', 'a']);
        expect(await back({ fromRevision: 2 })).to.deep.equal(['c', 'b', 'a']);
        expect(await back({ fromRevision: 3, maxCount: 2 })).to.deep.equal(['d', 'c']);
        expect(await back({ maxCount: 1 })).to.deep.equal(['e']);
      });

      it('reads a missing stream as empty', async () => {
        expect(await store.readStream('nope')).to.deep.equal([]);
        expect(await store.readStream('nope', { direction: 'backwards' })).to.deep.equal([]);
      });

      it('reads all after an exclusive position, with a limit and stream prefixes', async () => {
        await store.append('access-2024-01-01', [ev('x1')]);
        await store.append('tokens-9', [ev('t1')]);
        await store.append('access-2024-01-02', [ev('x2')]);
        const all = await store.readAll();
        expect(ids(all)).to.deep.equal(['a', 'b', 'c', 'd', 'e', 'x1', 't1', 'x2']);
        expect(ids(await store.readAll({ after: all[4]?.position }))).to.deep.equal(['x1', 't1', 'x2']);
        expect(ids(await store.readAll({ after: all[1]?.position, maxCount: 2 }))).to.deep.equal(['c', 'd']);
        expect(ids(await store.readAll({ after: all[7]?.position }))).to.deep.equal([]);
        expect(ids(await store.readAll({ streamPrefixes: ['access-'] }))).to.deep.equal(['x1', 'x2']);
        expect(ids(await store.readAll({ streamPrefixes: ['tokens-', 's-'], maxCount: 6 }))).to.deep.equal(
          ['a', 'b', 'c', 'd', 'e', 't1'],
        );
        expect(ids(await store.readAll({ streamPrefixes: ['access-'], after: all[5]?.position }))).to.deep.equal(['x2']);
      });

      it('reads all before an exclusive position, forwards or backwards (newest first), with a limit and stream prefixes', async () => {
        await store.append('access-2024-01-01', [ev('x1')]);
        await store.append('tokens-9', [ev('t1')]);
        await store.append('access-2024-01-02', [ev('x2')]);
        const all = await store.readAll();
        expect(ids(await store.readAll({ direction: 'backwards' }))).to.deep.equal(['x2', 't1', 'x1', 'e', 'd', 'c', 'b', 'a']);
        expect(ids(await store.readAll({ before: all[5]?.position }))).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
        expect(ids(await store.readAll({ direction: 'backwards', before: all[5]?.position, maxCount: 2 }))).to.deep.equal(['e', 'd']);
        expect(ids(await store.readAll({ direction: 'backwards', after: all[1]?.position, before: all[5]?.position }))).to.deep.equal(['e', 'd', 'c']);
        expect(ids(await store.readAll({ direction: 'backwards', streamPrefixes: ['access-', 'tokens-'], maxCount: 2 }))).to.deep.equal(['x2', 't1']);
        expect(ids(await store.readAll({ direction: 'backwards', before: all[0]?.position }))).to.deep.equal([]);
        expect(ids(await store.readAll({ before: '0' as Position }))).to.deep.equal([]);
        // A position past the head bounds nothing.
        expect(ids(await store.readAll({ direction: 'backwards', before: String(Number(all[7]!.position) + 10) as Position, maxCount: 1 }))).to.deep.equal(['x2']);
      });

      it('reads all of some event types only, in either direction; an empty list matches nothing', async () => {
        await store.append('tokens-9', [ev('t1', {}, 'TokenIssued'), ev('t2', {}, 'TokenRevoked')]);
        await store.append('settings', [ev('p1', {}, 'SettingsChanged')]);
        expect(ids(await store.readAll({ types: ['TokenRevoked', 'SettingsChanged'] }))).to.deep.equal(['t2', 'p1']);
        expect(ids(await store.readAll({ types: ['Tested'], direction: 'backwards', maxCount: 2 }))).to.deep.equal(['e', 'd']);
        expect(ids(await store.readAll({ types: ['TokenIssued', 'TokenRevoked'], streamPrefixes: ['settings'] }))).to.deep.equal([]);
        expect(ids(await store.readAll({ types: [] }))).to.deep.equal([]);
        expect(ids(await store.readAll({ types: ['NoSuchType'] }))).to.deep.equal([]);
      });

      it('reads all whose data holds a string at a path, with stream prefixes and a limit', async () => {
        const access = (id: string, identity: unknown): NewEvent => ({ id, type: 'AccessDecided', data: { identity } });
        await store.append('access-2024-01-01', [
          access('g1', { provider: 'gateway', tokenId: 't' }),
          access('j1', { provider: 'jwt' }),
          access('n1', null),
          access('g2', { provider: 'gateway' }),
          { id: 'odd', type: 'AccessDecided', data: { identity: { provider: ['gateway'] }, 'identity.provider': 'gateway' } },
        ]);
        await store.append('tokens-1', [access('t1', { provider: 'gateway' })]);
        const gateway = { path: ['identity', 'provider'], value: 'gateway' };
        expect(ids(await store.readAll({ streamPrefixes: ['access-'], dataEquals: gateway }))).to.deep.equal(['g1', 'g2']);
        expect(ids(await store.readAll({ dataEquals: gateway }))).to.deep.equal(['g1', 'g2', 't1']);
        expect(ids(await store.readAll({ dataEquals: gateway, maxCount: 1 }))).to.deep.equal(['g1']);
        expect(ids(await store.readAll({ dataEquals: { path: ['identity.provider'], value: 'gateway' } }))).to.deep.equal(['odd']);
        expect(ids(await store.readAll({ dataEquals: { path: ['identity', 'provider'], value: 'jw' } }))).to.deep.equal([]);
      });

      it('keeps positions strictly increasing across streams', async () => {
        for (let i = 0; i < 10; i++) await store.append(`s-${i % 3}`, [ev(`i${i}`)]);
        const positions = asNumbers(await store.readAll());
        expect(positions).to.have.length(15);
        positions.slice(1).forEach((p, i) => expect(p).to.be.greaterThan(positions[i]!));
      });

      it('reports the head position', async () => {
        const all = await store.readAll();
        expect(await store.headPosition()).to.equal(all.at(-1)?.position);
        const { position } = await store.append('s-2', [ev('z')]);
        expect(await store.headPosition()).to.equal(position);
      });
    });

    it('has no head position when empty', async () => {
      expect(await store.headPosition()).to.equal(undefined);
      expect(await store.readAll()).to.deep.equal([]);
    });

    it('chains every event to its predecessor by hash', async () => {
      await store.append('s-1', [ev('a'), ev('b')], { durable: false });
      await store.append('s-2', [{ id: 'c', type: 'T', data: { k: 1 }, metadata: { actor: 'system' } }]);
      const events = await store.readAll();
      expect(events[0]?.prevHash).to.equal('');
      events.forEach((e, i) => {
        expect(e.hash).to.match(/^[0-9a-f]{64}$/);
        expect(e.hash).to.equal(hashEvent(e.prevHash, e));
        if (i > 0) expect(e.prevHash).to.equal(events[i - 1]?.hash);
      });
      const progress: number[] = [];
      const result = await verifyChain(store, { onProgress: (n) => progress.push(n) });
      expect(result).to.deep.equal({ ok: true, count: 3, head: events[2]?.hash });
      expect(progress.at(-1)).to.equal(3);
    });

    it('counts events after a position, at most maxCount, naming the last by position and hash', async () => {
      expect(await store.countEvents()).to.deep.equal({ count: 0 });
      await store.append('s-1', [ev('a'), ev('b')]);
      await store.append('s-2', [ev('c'), ev('d'), ev('e')], { durable: false });
      const all = await store.readAll();
      const tip = (e: RecordedEvent | undefined) => ({ position: e?.position, hash: e?.hash });
      expect(await store.countEvents()).to.deep.equal({ count: 5, last: tip(all[4]) });
      expect(await store.countEvents({ maxCount: 2 })).to.deep.equal({ count: 2, last: tip(all[1]) });
      expect(await store.countEvents({ after: all[1]?.position })).to.deep.equal({ count: 3, last: tip(all[4]) });
      expect(await store.countEvents({ after: all[1]?.position, maxCount: 1 })).to.deep.equal({ count: 1, last: tip(all[2]) });
      expect(await store.countEvents({ after: all[4]?.position })).to.deep.equal({ count: 0 });
      expect(await store.countEvents({ maxCount: 0 })).to.deep.equal({ count: 0 });
      for (const bad of [{ after: 'x' as Position }, { maxCount: -1 }, { maxCount: 1.5 }]) {
        let error: unknown;
        await store.countEvents(bad).catch((err: unknown) => (error = err));
        expect(error, JSON.stringify(bad)).to.be.instanceOf(TypeError);
      }
    });

    it('counts around a deleted stream: only the events still stored', async () => {
      await store.append('keep-1', [ev('k1')]);
      await store.append('drop-1', [ev('d1'), ev('d2')]);
      await store.append('keep-1', [ev('k2')]);
      await store.deleteStream('drop-1');
      const [k1, k2] = await store.readAll();
      expect(await store.countEvents()).to.deep.equal({ count: 2, last: { position: k2?.position, hash: k2?.hash } });
      expect(await store.countEvents({ after: k1?.position })).to.deep.equal({ count: 1, last: { position: k2?.position, hash: k2?.hash } });
    });

    it('keeps signed checkpoints in the chain, and verify checks them against the events they name', async () => {
      const key = checkpointKey(generateKeyPairSync('ed25519').privateKey);
      const clock = new ManualClock(Date.UTC(2024, 0, 1));
      const signer = new CheckpointSigner(store, key, clock, silentLogger, { everyEvents: 3, everySeconds: 60 });
      await store.append('s-1', [ev('a'), ev('b'), ev('c')], { durable: false });
      const first = await signer.tick();
      await store.append('s-2', [ev('d')]);
      clock.advance(60_000);
      const second = await signer.tick();
      const events = await store.readAll();
      expect(events.map((e) => e.type)).to.deep.equal(['Tested', 'Tested', 'Tested', CHECKPOINT_SIGNED, 'Tested', CHECKPOINT_SIGNED]);
      expect(first).to.include({ position: events[2]?.position, count: 3, hash: events[2]?.hash });
      // The second covers the first checkpoint's own event too.
      expect(second).to.include({ position: events[4]?.position, count: 5, hash: events[4]?.hash });
      const exported = (await readCheckpoints(store, 0, 10)).checkpoints;
      expect(exported).to.deep.equal([first, second]);
      const result = await verifyHistory(store, { exported });
      expect(result).to.deep.include({ ok: true, events: 6 });
      expect(result.checkpoints).to.deep.equal({ stored: 2, file: 2, matched: 4, keyIds: [key.keyId], anchoredThrough: events[4]?.position });
    });

    it('deletes a stream without reusing its positions', async () => {
      await store.append('keep-1', [ev('k1')]);
      const { position: deletedHead } = await store.append('access-1', [ev('x1'), ev('x2')]);
      await store.deleteStream('access-1');
      expect(await store.readStream('access-1')).to.deep.equal([]);
      expect(ids(await store.readAll())).to.deep.equal(['k1']);
      const { position } = await store.append('keep-1', [ev('k2')]);
      expect(Number(position)).to.be.greaterThan(Number(deletedHead));
      expect((await store.append('access-1', [ev('x3')], { expectedRevision: 'no_stream' })).nextRevision).to.equal(0);
      await store.deleteStream('never-existed');
    });

    it('saves, loads and overwrites checkpoints', async () => {
      expect(await store.loadCheckpoint('tokens')).to.equal(undefined);
      const { position } = await store.append('s-1', [ev('a')]);
      await store.saveCheckpoint('tokens', { position, state: { active: ['t1'], n: 1 } });
      expect(await store.loadCheckpoint('tokens')).to.deep.equal({ position, state: { active: ['t1'], n: 1 } });
      await store.saveCheckpoint('tokens', { position: '0' as Position, state: { active: [] } });
      expect(await store.loadCheckpoint('tokens')).to.deep.equal({ position: '0', state: { active: [] } });
      expect(await store.loadCheckpoint('other')).to.equal(undefined);
    });

    describe('subscribe', () => {
      it('catches up on stored events, then delivers live ones', async () => {
        await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
        const controller = new AbortController();
        const seen = take(store.subscribe({ signal: controller.signal }), 5, (e) => {
          if (e.id === 'c') void store.append('s-2', [ev('d'), ev('e')]);
        });
        expect(ids(await seen)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
        controller.abort();
      });

      it('starts after a given position', async () => {
        await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
        const [, second] = await store.readAll();
        const controller = new AbortController();
        const seen = await take(store.subscribe({ after: second?.position, signal: controller.signal }), 1);
        expect(ids(seen)).to.deep.equal(['c']);
        controller.abort();
      });

      it('delivers every event once, in order, while appends race the catch-up', async () => {
        for (let i = 0; i < 50; i++) await store.append(`pre-${i % 4}`, [ev(`p${i}`)]);
        const controller = new AbortController();
        const seen = take(store.subscribe({ signal: controller.signal }), 250);
        for (let i = 0; i < 200; i++) await store.append(`live-${i % 7}`, [ev(`l${i}`)], { durable: false });
        const events = await seen;
        controller.abort();
        const expected = [...Array.from({ length: 50 }, (_, i) => `p${i}`), ...Array.from({ length: 200 }, (_, i) => `l${i}`)];
        expect(ids(events)).to.deep.equal(expected);
        expect(asNumbers(events)).to.deep.equal(asNumbers(await store.readAll()));
      });

      it('gives way to the event loop between pages while it catches up', async () => {
        await store.append('s-1', Array.from({ length: 1000 }, (_, i) => ev(`e${i}`)), { durable: false });
        const controller = new AbortController();
        let consumed = 0;
        let consumedWhenIoRan: number | undefined;
        for await (const _event of store.subscribe({ signal: controller.signal })) {
          // Scheduled at the first event: it runs only if the subscriber lets the loop turn.
          if (consumed === 0) setImmediate(() => (consumedWhenIoRan ??= consumed));
          consumed += 1;
          if (consumed === 1000) break;
        }
        controller.abort();
        expect(consumedWhenIoRan).to.be.a('number').below(1000);
      });

      it('filters by stream prefix', async () => {
        await store.append('access-1', [ev('x1')]);
        await store.append('tokens-1', [ev('t1')]);
        const controller = new AbortController();
        const seen = take(store.subscribe({ streamPrefixes: ['tokens-'], signal: controller.signal }), 2);
        await store.append('access-1', [ev('x2')]);
        await store.append('tokens-2', [ev('t2')]);
        expect(ids(await seen)).to.deep.equal(['t1', 't2']);
        controller.abort();
      });

      it('filters by data, and skips non-matching events without rereading them', async () => {
        const controller = new AbortController();
        const hit = (id: string): NewEvent => ({ id, type: 'AccessDecided', data: { identity: { provider: 'gateway' } } });
        const seen = take(store.subscribe({ dataEquals: { path: ['identity', 'provider'], value: 'gateway' }, signal: controller.signal }), 2);
        await store.append('access-1', [ev('x1'), hit('h1'), ev('x2')]);
        await store.append('access-1', [ev('x3'), hit('h2')]);
        expect(ids(await seen)).to.deep.equal(['h1', 'h2']);
        controller.abort();
      });

      it('ends without error when the signal aborts', async () => {
        await store.append('s-1', [ev('a')]);
        const controller = new AbortController();
        const seen: string[] = [];
        const done = (async () => {
          for await (const e of store.subscribe({ signal: controller.signal })) seen.push(e.id);
          return 'ended';
        })();
        // Aborted while live (caught up and waiting for more), not before it began.
        await eventually(() => seen.length === 1, { within: 5_000, what: 'the subscriber catching up' });
        controller.abort();
        expect(await done).to.equal('ended');
        expect(seen).to.deep.equal(['a']);
        const aborted = await take(store.subscribe({ signal: AbortSignal.abort() }), 10);
        expect(aborted).to.deep.equal([]);
      });
    });

    decisionLogContract(() => store);
    retentionContract(() => store);
  });
}

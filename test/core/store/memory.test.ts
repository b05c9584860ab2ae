// Runs the event store contract on the in-memory adapter, plus what only it promises.
import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { eventually } from '../../support/eventually.js';
import { eventStoreContract } from './contract.js';

eventStoreContract('memory', async () => new MemoryEventStore());

describe('MemoryEventStore', () => {
  it('a filtered subscription moves past non-matching events instead of rescanning them', async () => {
    const reads: (string | undefined)[] = [];
    class Counting extends MemoryEventStore {
      override readAll(options: Parameters<MemoryEventStore['readAll']>[0] = {}) {
        if (options.streamPrefixes) reads.push(options.after);
        return super.readAll(options);
      }
    }
    const store = new Counting();
    const abort = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of store.subscribe({ streamPrefixes: ['cfg-'], signal: abort.signal })) seen.push(e.id);
    })();
    await store.append('cfg-1', [{ id: 'c1', type: 'T', data: null }]);
    for (let i = 0; i < 20; i++) await store.append('access-1', [{ id: `a${i}`, type: 'T', data: null }]);
    await store.append('cfg-1', [{ id: 'c2', type: 'T', data: null }]);
    await eventually(() => seen.length === 2, { within: 5_000, what: 'the subscriber seeing c2' });
    abort.abort();
    await done;
    expect(seen).to.deep.equal(['c1', 'c2']);
    // Between the two matches the reads advanced with the head instead of staying at c1's position (1).
    expect(reads.filter((a) => a !== undefined && Number(a) > 1).length, 'reads that started past c1').to.be.greaterThan(0);
  });

  it('keeps history immune to later mutation of the appended objects', async () => {
    const store = new MemoryEventStore();
    const data = { list: [1, 2] };
    await store.append('s-1', [{ id: 'a', type: 'T', data }]);
    data.list.push(3);
    const [event] = await store.readAll();
    expect(event?.data).to.deep.equal({ list: [1, 2] });
    expect(() => (event?.data as { list: number[] }).list.push(4)).to.throw(TypeError);
  });

  it('stamps events with the injected clock', async () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 2, 3, 4, 5, 6));
    const store = new MemoryEventStore({ clock });
    await store.append('s-1', [{ id: 'a', type: 'T', data: null }]);
    expect((await store.readAll())[0]?.time).to.equal('2024-01-02T03:04:05.006Z');
  });

  it('refuses use after close and ends its subscriptions', async () => {
    const store = new MemoryEventStore();
    const ended = (async () => {
      for await (const _ of store.subscribe()) expect.fail('nothing was appended');
      return 'ended';
    })();
    await store.close();
    expect(await ended).to.equal('ended');
    let error: unknown;
    await store.readAll().catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).code).to.equal('store_unavailable');
  });
});

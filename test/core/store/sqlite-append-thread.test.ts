// The append thread: a second connection in a worker thread, sharing one file and one hash chain with the main connection.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { verifyChain } from '../../../core/store/hash.js';
import { StoreUnavailableError, type NewEvent } from '../../../core/store/port.js';
import { decodeEvents, encodeEvents, SqliteAppendThread } from '../../../core/store/sqlite-append-thread.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';

const event = (id: string, n: number): NewEvent => ({ id, type: 'AccessDecided', data: { n, path: `/p/${n}` }, metadata: { actor: 'gateway' } });

describe('SqliteAppendThread', function () {
  this.timeout(20_000);
  let dir: string;
  let store: SqliteEventStore;
  let thread: SqliteAppendThread;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-append-thread-'));
    store = await SqliteEventStore.open(join(dir, 'events.db'));
    thread = new SqliteAppendThread(join(dir, 'events.db'));
  });

  afterEach(async () => {
    await thread.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('appends what the main connection reads back, in one hash chain with the main connection’s own appends', async () => {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      writes.push(thread.append('access-2026-11-23', [event(`a${i}-1`, i), event(`a${i}-2`, i)], { durable: false }));
      writes.push(store.append(`settings-${i % 3}`, [event(`c${i}`, i)]));
    }
    await Promise.all(writes);
    const all = await store.readAll();
    expect(all).to.have.length(60);
    expect(all.filter((e) => e.stream === 'access-2026-11-23').map((e) => e.revision)).to.deep.equal([...Array(40).keys()]);
    expect(all.find((e) => e.id === 'a7-2')?.data).to.deep.equal({ n: 7, path: '/p/7' });
    expect(await verifyChain(store)).to.deep.include({ ok: true, count: 60 });
  });

  it('sends serialised events as one string that decodes to the same events, and refuses an id or type with a newline', () => {
    const events = [
      { id: 'a', type: 'AccessDecided', data: JSON.stringify({ text: 'two\nlines', tab: '\t' }), metadata: '{}' },
      { id: 'b', type: 'AccessDecided', data: '[]', metadata: '{"actor":"gateway"}' },
    ];
    expect(decodeEvents(encodeEvents(events))).to.deep.equal(events);
    expect(() => encodeEvents([{ ...events[0]!, id: 'a\nb' }])).to.throw(TypeError);
    expect(() => encodeEvents([{ ...events[0]!, type: 'X\nY' }])).to.throw(TypeError);
  });

  it('keeps appends idempotent by event id, as the store does', async () => {
    const first = await thread.append('access-2026-11-23', [event('same', 1)]);
    const again = await thread.append('access-2026-11-23', [event('same', 1)]);
    expect(again).to.deep.equal(first);
    expect(await store.readAll()).to.have.length(1);
  });

  it('fails with StoreUnavailableError when its connection cannot open the file, and after close', async () => {
    const blocked = join(dir, 'not-a-file');
    mkdirSync(blocked);
    const broken = new SqliteAppendThread(blocked);
    try {
      await broken.append('access-x', [event('x', 1)]).then(
        () => expect.fail('append succeeded'),
        (err: unknown) => expect(err).to.be.instanceOf(StoreUnavailableError),
      );
    } finally {
      await broken.close();
    }
    await thread.close();
    await thread.append('access-x', [event('y', 1)]).then(
      () => expect.fail('append after close succeeded'),
      (err: unknown) => expect(err).to.be.instanceOf(StoreUnavailableError),
    );
  });
});

// The append thread: a second connection in a worker thread storing decision blocks, in one hash chain with the main connection.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import type { Decision } from '../../../core/access.js';
import { DecisionBatch } from '../../../core/decision-log/batch.js';
import type { SealedBlock } from '../../../core/decision-log/record.js';
import { verifyChain } from '../../../core/store/hash.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { SqliteAppendThread } from '../../../core/store/sqlite-append-thread.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { request } from '../../fixtures/requests.js';

const decision: Decision = { allow: false, status: 401, reason: 'missing_credential', stage: 'authenticate', trace: [{ stage: 'authenticate', outcome: 'deny' }], credentialConsumed: false };

function sealed(id: string, requestIds: readonly string[]): SealedBlock {
  const batch = new DecisionBatch(requestIds.length);
  for (const requestId of requestIds) batch.add(request({ id: requestId }), decision);
  return { id, batch: batch.seal() };
}

describe('SqliteAppendThread', function () {
  this.timeout(20_000);
  let dir: string;
  let store: SqliteEventStore;
  let thread: SqliteAppendThread;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-append-thread-'));
    store = SqliteEventStore.open(join(dir, 'events.db'));
    thread = new SqliteAppendThread(join(dir, 'events.db'));
  });

  afterEach(async () => {
    await thread.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores blocks the main connection reads back, in one hash chain with the main connection’s own appends', async () => {
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      writes.push(thread.appendBlocks([sealed(`b${i}`, [`r${i}-1`, `r${i}-2`])]));
      writes.push(store.append(`settings-${i % 3}`, [{ id: `c${i}`, type: 'SettingsChanged', data: { i } }]));
    }
    await Promise.all(writes);
    const all = await store.readAll();
    expect(all).to.have.length(20);
    expect(all.filter((e) => e.stream === 'access-2023-11-14').map((e) => e.revision)).to.deep.equal([...Array(10).keys()]);
    const decisions = await store.decisions.read();
    expect(decisions).to.have.length(20);
    expect(decisions.find((s) => s.decision.requestId === 'r7-2')?.decision).to.deep.include({ reason: 'missing_credential', status: 401 });
    expect(await verifyChain(store)).to.deep.include({ ok: true, count: 20 });
  });

  it('stores the blocks of one call together and keeps them idempotent by block id', async () => {
    const blocks = [sealed('x1', ['a']), sealed('x2', ['b', 'c'])];
    const first = await thread.appendBlocks(blocks);
    const again = await thread.appendBlocks(blocks);
    expect(again).to.deep.equal(first);
    expect((await store.readAll()).map((e) => e.id)).to.deep.equal(['x1', 'x2']);
    expect((await store.decisions.read()).map((s) => s.decision.requestId)).to.deep.equal(['a', 'b', 'c']);
  });

  it('fails with StoreUnavailableError when its connection cannot open the file, and after close', async () => {
    const blocked = join(dir, 'not-a-file');
    mkdirSync(blocked);
    const broken = new SqliteAppendThread(blocked);
    try {
      await broken.appendBlocks([sealed('x', ['a'])]).then(
        () => expect.fail('append succeeded'),
        (err: unknown) => expect(err).to.be.instanceOf(StoreUnavailableError),
      );
    } finally {
      await broken.close();
    }
    await thread.close();
    await thread.appendBlocks([sealed('y', ['a'])]).then(
      () => expect.fail('append after close succeeded'),
      (err: unknown) => expect(err).to.be.instanceOf(StoreUnavailableError),
    );
  });

  it('reports a batch that is not one as a failure of that call, and goes on', async () => {
    await thread.appendBlocks([{ id: 'bad', batch: new ArrayBuffer(8) }]).then(
      () => expect.fail('a bad batch was stored'),
      (err: unknown) => expect(err).to.be.instanceOf(Error).and.not.instanceOf(StoreUnavailableError),
    );
    await thread.appendBlocks([sealed('good', ['a'])]);
    expect((await store.readAll()).map((e) => e.id)).to.deep.equal(['good']);
  });
});

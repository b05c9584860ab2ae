// A PostgreSQL store whose connection is cut in the middle of an append (a TCP relay in front of the real server): the append fails as unavailable, the process lives on, and appends work again once the server is reachable.
import { expect } from 'chai';

import { StoreUnavailableError } from '../../../core/store/port.js';
import { PostgresEventStore } from '../../../core/store/postgres.js';
import { eventually } from '../../support/eventually.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { ev } from './contract.js';
import { dropSchema, requirePostgres, storeUrl, testSchema, TEST_POSTGRES_URL } from './postgres-fixture.js';

describe('postgres: a connection lost in the middle of an append', function () {
  this.timeout(20_000);
  requirePostgres();

  const schema = testSchema();
  let relay: TcpRelay;
  let store: PostgresEventStore | undefined;

  before(async () => {
    const server = new URL(TEST_POSTGRES_URL);
    relay = await startTcpRelay(server.hostname, Number(server.port || 5432));
  });

  after(async () => {
    await store?.close();
    await relay?.close();
    await dropSchema(schema);
  });

  it('fails that append with StoreUnavailableError without ending the process, and appends again once the server is back', async () => {
    const url = new URL(storeUrl(schema));
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    store = await PostgresEventStore.open(url.toString(), { listen: false });
    await store.append('before', [ev('e1')]);

    // Cut while the append's connection is checked out of the pool, as it takes the chain lock.
    // pg emits 'error' on that client as well as failing its query: unheard, that ends the process.
    relay.downWhen((chunk) => chunk.includes('FOR UPDATE'));
    const failed = await store.append('during', [ev('e2')]).then(() => undefined, (err: unknown) => err);
    expect(failed).to.be.instanceOf(StoreUnavailableError);

    relay.up();
    const open = store;
    await eventually(async () => (await open.append('after', [ev('e3')]), true), { within: 10_000, what: 'an append once the server is back' });
    expect((await open.readAll()).map((e) => e.stream)).to.deep.equal(['before', 'after']);
  });
});

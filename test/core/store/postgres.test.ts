// Runs the event store contract on the PostgreSQL adapter, each test in a schema of its own, plus what only a server shows.
import { createServer, type AddressInfo, type Socket } from 'node:net';

import { expect } from 'chai';

import { verifyChain } from '../../../core/store/hash.js';
import { openEventStore } from '../../../core/store/open.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { PostgresEventStore, type PostgresStoreOptions } from '../../../core/store/postgres.js';
import { SCHEMA_VERSION } from '../../../core/store/postgres-schema.js';
import { parsePostgresUrl } from '../../../core/store/postgres-url.js';
import { ev, eventStoreContract, take } from './contract.js';
import { dropSchema, requirePostgres, storeUrl, testSchema, withClient } from './postgres-fixture.js';

describe('postgres', () => {
  requirePostgres();
  let schema = '';
  eventStoreContract(
    'postgres',
    async () => {
      schema = testSchema();
      return PostgresEventStore.open(storeUrl(schema));
    },
    () => dropSchema(schema),
  );
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return expect.fail('expected a rejection');
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('parsePostgresUrl', () => {
  it('takes schema, pool size and connect timeout out of the URL and keeps the rest for pg', () => {
    const target = parsePostgresUrl('postgres://app:s3cret@db.internal:6432/gateway?schema=edge_1&pool_size=20&connect_timeout=2&sslmode=require');
    expect(target).to.deep.include({ schema: 'edge_1', poolSize: 20, connectTimeoutMs: 2000, where: 'db.internal:6432/gateway' });
    expect(target.connectionString).to.equal('postgres://app:s3cret@db.internal:6432/gateway?sslmode=require');
  });

  it('defaults to schema portcullis, 10 connections, 5 s and port 5432', () => {
    expect(parsePostgresUrl('postgresql://db/x')).to.deep.include({ schema: 'portcullis', poolSize: 10, connectTimeoutMs: 5000, where: 'db:5432/x' });
  });

  it('refuses a bad schema, pool size or timeout with a TypeError that does not echo the password', () => {
    for (const query of ['schema=Bad-Name', 'schema=1x', `schema=${'a'.repeat(49)}`, 'pool_size=0', 'pool_size=101', 'pool_size=x', 'connect_timeout=0', 'connect_timeout=1.5']) {
      let error: unknown;
      try {
        parsePostgresUrl(`postgres://app:s3cret@db/x?${query}`);
      } catch (err) {
        error = err;
      }
      expect(error, query).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.not.include('s3cret');
    }
  });
});

describe('PostgresEventStore', () => {
  requirePostgres();
  let schema = '';
  const opened: PostgresEventStore[] = [];
  const open = async (options: PostgresStoreOptions = {}, url = storeUrl(schema)): Promise<PostgresEventStore> => {
    const store = await PostgresEventStore.open(url, options);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    schema = testSchema();
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await dropSchema(schema);
  });

  describe('opening', () => {
    it('names host, port and database, never the password, when nothing listens there', async () => {
      const port = await closedPort();
      const err = await rejection(openEventStore(`postgres://postgres:s3cret@127.0.0.1:${port}/test?schema=${schema}`));
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect(err).to.have.property('code', 'store_unavailable');
      expect((err as Error).message).to.include(`127.0.0.1:${port}/test`).and.include('ECONNREFUSED').and.not.include('s3cret');
    });

    it('gives up after connect_timeout on a server that never answers', async () => {
      const sockets = new Set<Socket>();
      const silent = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as AddressInfo;
      try {
        const err = await rejection(openEventStore(`postgres://postgres:s3cret@127.0.0.1:${port}/test?connect_timeout=1`));
        expect(err).to.be.instanceOf(StoreUnavailableError);
        expect((err as Error).message).to.include(`127.0.0.1:${port}/test`).and.not.include('s3cret');
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('names a database that does not exist', async () => {
      const url = new URL(storeUrl(schema));
      url.pathname = '/portcullis_no_such_database';
      const err = await rejection(openEventStore(url.toString()));
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).message).to.include('/portcullis_no_such_database').and.include('3D000');
    });

    it('creates its schema at the current version, once, even when nodes start together', async () => {
      await Promise.all([open(), open(), open()]);
      const versions = await withClient((c) => c.query<{ version: number }>(`SELECT version FROM "${schema}".schema_version`));
      expect(versions.rows.map((r) => r.version)).to.deep.equal(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
      const reopened = await openEventStore(storeUrl(schema));
      expect(reopened).to.be.instanceOf(PostgresEventStore);
      await reopened.append('s-1', [ev('a')]);
      await reopened.close();
      expect((await (await open()).readAll()).map((e) => e.id)).to.deep.equal(['a']);
    });

    it('refuses a schema written by a newer version', async () => {
      await (await open()).close();
      await withClient((c) => c.query(`INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, [SCHEMA_VERSION + 1]));
      const err = await rejection(open());
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).message).to.include(`schema version ${SCHEMA_VERSION + 1}`);
      expect(await rejection(open({ readonly: true }))).to.be.instanceOf(StoreUnavailableError);
    });

    it('read-only, creates nothing where there is no store', async () => {
      const err = await rejection(openEventStore(storeUrl(schema), { readonly: true }));
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).message).to.include(`no Portcullis event store in schema ${schema}`);
      const found = await withClient((c) => c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]));
      expect(found.rowCount).to.equal(0);
    });

    it('read-only, reads and verifies but refuses writes with StoreUnavailableError', async () => {
      const writer = await open();
      await writer.append('s-1', [ev('a')]);
      const reader = await open({ readonly: true });
      expect(await verifyChain(reader)).to.include({ ok: true, count: 1 });
      const err = await rejection(reader.append('s-1', [ev('b')]));
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).cause).to.have.property('code', '25006');
      expect((await writer.readAll()).map((e) => e.id)).to.deep.equal(['a']);
    });
  });

  describe('the chain on the server', () => {
    it('detects an edited event', async () => {
      const store = await open();
      await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
      const [, b] = await store.readAll();
      await withClient((c) => c.query(`UPDATE "${schema}".events SET data = '{"n":"forged"}' WHERE id = 'b'`));
      expect(await verifyChain(store)).to.deep.equal({ ok: false, count: 2, position: b?.position, reason: 'hash does not match the event content' });
    });

    it('detects a deleted event in the middle of the history', async () => {
      const store = await open();
      await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
      const [, , c] = await store.readAll();
      await withClient((client) => client.query(`DELETE FROM "${schema}".events WHERE id = 'b'`));
      expect(await verifyChain(store)).to.deep.equal({ ok: false, count: 2, position: c?.position, reason: 'prevHash does not match the previous event' });
    });

    it('continues the chain from the last event left when the newest stream is deleted, as on SQLite', async () => {
      const store = await open();
      await store.append('keep-1', [ev('k1')]);
      await store.append('access-1', [ev('x1')]);
      await store.deleteStream('access-1');
      await store.append('keep-1', [ev('k2')]);
      expect(await verifyChain(store)).to.include({ ok: true, count: 2 });
    });
  });

  describe('wake-ups', () => {
    it("wakes a subscriber on another node's append through LISTEN/NOTIFY, not the poll", async () => {
      // A poll slower than the test's timeout: only a notification can deliver in time.
      const reader = await open({ pollIntervalMs: 600_000 });
      const writer = await open({ listen: false });
      await writer.append('s-1', [ev('a')]);
      const controller = new AbortController();
      const seen = take(reader.subscribe({ signal: controller.signal }), 3);
      await writer.append('s-1', [ev('b')]);
      await writer.append('s-2', [ev('c')]);
      expect((await seen).map((e) => e.id)).to.deep.equal(['a', 'b', 'c']);
      controller.abort();
    });

    it('still finds other nodes\' appends by polling when it does not listen', async () => {
      const reader = await open({ listen: false, pollIntervalMs: 20 });
      const writer = await open({ listen: false });
      const controller = new AbortController();
      const seen = take(reader.subscribe({ signal: controller.signal }), 2);
      await writer.append('s-1', [ev('a')]);
      await writer.append('s-1', [ev('b')]);
      expect((await seen).map((e) => e.id)).to.deep.equal(['a', 'b']);
      expect(reader.listening).to.equal(false);
      controller.abort();
    });

    it('listens again after its LISTEN connection is killed', async () => {
      const reader = await open({ pollIntervalMs: 600_000, listenRetryMs: 20 });
      const writer = await open({ listen: false });
      const controller = new AbortController();
      const events = reader.subscribe({ signal: controller.signal })[Symbol.asyncIterator]();
      const first = events.next();
      await writer.append('s-1', [ev('a')]);
      expect((await first).value).to.have.property('id', 'a');
      const killed = await withClient((c) =>
        c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`portcullis listen ${schema}`]),
      );
      expect(killed.rowCount).to.equal(1);
      const second = events.next();
      await writer.append('s-1', [ev('b')]);
      expect((await second).value).to.have.property('id', 'b');
      controller.abort();
      await events.return?.();
    });
  });

  it('serves again after the server ends its connections', async () => {
    const store = await open();
    await store.append('s-1', [ev('a')]);
    await withClient((c) =>
      c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [`portcullis ${schema}`]),
    );
    // The pool drops the dead connections as they report it; the append after that one connects anew.
    await store.append('s-1', [ev('b')]).catch((err: unknown) => expect(err).to.be.instanceOf(StoreUnavailableError));
    await store.append('s-1', [ev('c')]);
    expect((await store.readAll()).map((e) => e.id)).to.include.members(['a', 'c']);
  });

  it('refuses use after close', async () => {
    const store = await open();
    await store.close();
    expect(await rejection(store.readAll())).to.be.instanceOf(StoreUnavailableError);
    expect(await rejection(store.append('s-1', [ev('a')]))).to.be.instanceOf(StoreUnavailableError);
  });
});

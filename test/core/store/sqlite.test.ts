// Runs the event store contract on the SQLite adapter, plus what only a file on disk can show.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import { verifyChain } from '../../../core/store/hash.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { openEventStore } from '../../../core/store/open.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { eventually } from '../../support/eventually.js';
import { ev, eventStoreContract } from './contract.js';

let dir = '';
const fresh = (): string => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-store-'));
  return dir;
};
const removeDir = (): void => rmSync(dir, { recursive: true, force: true });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return expect.fail('expected a rejection');
}

eventStoreContract('sqlite', async () => SqliteEventStore.open(join(fresh(), 'nested', 'events.db')), removeDir);

describe('SqliteEventStore', () => {
  let file: string;
  const opened: SqliteEventStore[] = [];
  const open = (options?: Parameters<typeof SqliteEventStore.open>[1]): SqliteEventStore => {
    const store = SqliteEventStore.open(file, options);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    file = join(fresh(), 'events.db');
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    removeDir();
  });

  it('keeps events and checkpoints across close and reopen', async () => {
    const first = open();
    const { position } = await first.append('s-1', [ev('a'), ev('b')]);
    await first.saveCheckpoint('p', { position, state: { n: 2 } });
    await first.close();
    const second = open();
    expect((await second.readAll()).map((e) => e.id)).to.deep.equal(['a', 'b']);
    expect(await second.loadCheckpoint('p')).to.deep.equal({ position, state: { n: 2 } });
    expect((await second.append('s-1', [ev('c')], { expectedRevision: 1 })).nextRevision).to.equal(2);
    expect(await verifyChain(second)).to.include({ ok: true, count: 3 });
  });

  it('lets a subscriber see appends made by another process on the same file', async () => {
    const reader = open({ pollIntervalMs: 20 });
    const writer = open();
    await writer.append('s-1', [ev('a')]);
    const controller = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of reader.subscribe({ signal: controller.signal })) seen.push(e.id);
    })();
    // Caught up first, so the next two arrive through the poll of the other connection's file.
    await eventually(() => seen.length === 1, { within: 5_000, what: 'the subscriber catching up' });
    await writer.append('s-1', [ev('b')]);
    await writer.append('s-2', [ev('c')]);
    await eventually(() => seen.length === 3, { within: 5_000, what: 'the subscriber seeing the other connection\'s appends' });
    controller.abort();
    await following;
    expect(seen).to.deep.equal(['a', 'b', 'c']);
    const err = await rejection(reader.append('s-1', [ev('d')], { expectedRevision: 0 }));
    expect(err).to.include({ code: 'wrong_expected_revision', actual: 1 });
  });

  it('detects an edited event', async () => {
    const store = open();
    await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
    const [, b] = await store.readAll();
    const raw = new Database(file);
    raw.prepare('UPDATE events SET data = ? WHERE position = ?').run('{"n":"forged"}', Number(b?.position));
    raw.close();
    expect(await verifyChain(store)).to.deep.equal({
      ok: false,
      count: 2,
      position: b?.position,
      reason: 'hash does not match the event content',
    });
  });

  it('detects a deleted event in the middle of the history', async () => {
    const store = open();
    await store.append('s-1', [ev('a'), ev('b'), ev('c')]);
    const [, b, c] = await store.readAll();
    const raw = new Database(file);
    raw.prepare('DELETE FROM events WHERE position = ?').run(Number(b?.position));
    raw.close();
    expect(await verifyChain(store)).to.deep.equal({
      ok: false,
      count: 2,
      position: c?.position,
      reason: 'prevHash does not match the previous event',
    });
  });

  it('opens read-only for verification and refuses writes with StoreUnavailableError', async () => {
    const writer = open();
    await writer.append('s-1', [ev('a')]);
    const reader = open({ readonly: true });
    expect(await verifyChain(reader)).to.include({ ok: true, count: 1 });
    const err = await rejection(reader.append('s-1', [ev('b')]));
    expect(err).to.be.instanceOf(StoreUnavailableError);
    expect(err).to.have.property('code', 'store_unavailable');
    expect((err as Error).cause).to.have.property('code').that.matches(/^SQLITE_READONLY/);
    expect((await writer.readAll()).map((e) => e.id)).to.deep.equal(['a']);
  });

  it('reports a missing file opened read-only as unavailable, naming the file', () => {
    const missing = join(dir, 'missing.db');
    expect(() => SqliteEventStore.open(missing, { readonly: true })).to.throw(StoreUnavailableError, missing);
    expect(existsSync(missing)).to.equal(false);
    // Also in a directory that does not exist (better-sqlite3 itself answers that with a TypeError).
    const nowhere = join(dir, 'no', 'such', 'dir', 'events.db');
    expect(() => SqliteEventStore.open(nowhere, { readonly: true })).to.throw(StoreUnavailableError, nowhere);
  });

  it('names the file when it cannot be opened at all', () => {
    writeFileSync(join(dir, 'plain-file'), 'not a directory');
    const below = join(dir, 'plain-file', 'events.db');
    expect(() => SqliteEventStore.open(below)).to.throw(StoreUnavailableError, below);
    const notSqlite = join(dir, 'text.db');
    writeFileSync(notSqlite, 'just text, long enough to be read as a header by SQLite..........................................');
    expect(() => SqliteEventStore.open(notSqlite, { readonly: true })).to.throw(StoreUnavailableError, notSqlite);
  });

  it('creates the store for its owner only: the file and its -wal and -shm are 0600', async () => {
    const store = open();
    await store.append('s-1', [ev('a')]);
    for (const name of ['events.db', 'events.db-wal', 'events.db-shm']) {
      expect(statSync(join(dir, name)).mode & 0o777, name).to.equal(0o600);
    }
  });

  it('read-only, leaves no -wal or -shm file behind, and leaves a live writer\'s alone', async () => {
    const writer = open();
    await writer.append('s-1', [ev('a')]);
    await writer.close();
    const walFiles = () => readdirSync(dir).filter((n) => n.endsWith('-wal') || n.endsWith('-shm'));
    expect(walFiles(), 'a writer that closed removed its own').to.deep.equal([]);
    const reader = open({ readonly: true });
    expect(await verifyChain(reader)).to.include({ ok: true, count: 1 });
    await reader.close();
    expect(walFiles()).to.deep.equal([]);

    const live = open();
    const second = open({ readonly: true });
    expect((await second.readAll()).length).to.equal(1);
    await second.close();
    expect(walFiles(), 'the live writer keeps its files').to.have.members(['events.db-wal', 'events.db-shm']);
    await live.append('s-1', [ev('b')]);
    expect((await live.readAll()).map((e) => e.id)).to.deep.equal(['a', 'b']);
  });

  it('refuses use after close', async () => {
    const store = open();
    await store.close();
    expect(await rejection(store.readAll())).to.be.instanceOf(StoreUnavailableError);
  });
});

describe('openEventStore', () => {
  afterEach(removeDir);

  it('opens memory: and sqlite: paths relative to the working directory', async () => {
    const memory = await openEventStore('memory:');
    expect(memory).to.be.instanceOf(MemoryEventStore);
    await memory.close();
    const cwd = process.cwd();
    process.chdir(fresh());
    try {
      const store = await openEventStore('sqlite:data/events.db');
      expect(store).to.be.instanceOf(SqliteEventStore);
      await store.close();
    } finally {
      process.chdir(cwd);
    }
    expect(existsSync(join(dir, 'data', 'events.db'))).to.equal(true);
  });

  it('rejects unknown schemes without echoing credentials', async () => {
    const err = await rejection(openEventStore('mysql://admin:s3cret@db.example/x'));
    expect(err).to.be.instanceOf(TypeError);
    expect((err as Error).message).to.include('mysql://***@db.example/x');
    expect((err as Error).message).to.not.include('s3cret');
  });
});

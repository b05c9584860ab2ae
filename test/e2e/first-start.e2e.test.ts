// A new user's first start, with the built CLI: a port in use stops it before any admin token exists, the store's files are 0600, and verify leaves none behind.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { openEventStore } from '../../core/store/open.js';
import { stopAll } from '../support/processes.js';
import { ADMIN_TOKEN_LINE, CLI, runCli, startGateway, storeFor } from './fixtures/processes.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

describe('first start (built CLI)', function () {
  this.timeout(40_000);

  const dirs: string[] = [];
  const newDataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-first-'));
    dirs.push(dir);
    return dir;
  };
  let upstream: Upstream;
  let held: Server;
  let taken: string;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first`);
    upstream = await startUpstream();
    held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    taken = `127.0.0.1:${(held.address() as { port: number }).port}`;
  });
  after(async () => {
    await stopAll();
    await upstream?.close();
    await new Promise<void>((resolve) => held.close(() => resolve()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const adminTokenEvents = async (dataDir: string): Promise<number> => {
    const store = await openEventStore(storeFor(dataDir), { readonly: true });
    try {
      return (await store.readAll()).filter((e) => e.type === 'AdminTokenCreated').length;
    } finally {
      await store.close();
    }
  };

  for (const workers of ['1', '2']) {
    it(`serve --workers ${workers} with the gateway port in use: exit 1, one line naming the address, no admin token printed or stored`, async () => {
      const dataDir = await newDataDir();
      const env = {
        PORTCULLIS_STORE: storeFor(dataDir),
        PORTCULLIS_LISTEN: taken,
        // Never bound: the gateway listener, which binds first, fails.
        PORTCULLIS_ADMIN_LISTEN: '127.0.0.1:0',
        PORTCULLIS_UPSTREAM: upstream.url,
        PORTCULLIS_LOG_LEVEL: 'error',
      };
      const result = await runCli(['serve', '--workers', workers], env, dataDir);
      expect(result.code, result.stderr).to.equal(1);
      const errors = result.stderr.split('\n').filter((l) => l.startsWith('portcullis:'));
      expect(errors, result.stderr).to.have.length(1);
      expect(errors[0]).to.contain(`cannot listen on ${taken} (listen)`).and.contain('EADDRINUSE');
      expect(result.stderr + result.stdout).not.to.match(ADMIN_TOKEN_LINE);
      expect(result.stderr).not.to.match(/^\s+at /m);
      expect(await adminTokenEvents(dataDir)).to.equal(0);
    });
  }

  it('creates the store and its -wal/-shm 0600, and verify afterwards leaves only the store file', async () => {
    const dataDir = await newDataDir();
    const gateway = await startGateway({ dataDir, upstream: upstream.url });
    expect(gateway.printedAdminToken).to.match(/^pca_/);
    for (const name of ['portcullis.db', 'portcullis.db-wal', 'portcullis.db-shm', 'secret.key']) {
      expect(statSync(join(dataDir, name)).mode & 0o777, name).to.equal(0o600);
    }
    expect((await gateway.process.stop()).code).to.equal(0);
    const before = readdirSync(dataDir).sort();
    const verify = await runCli(['verify'], { PORTCULLIS_STORE: gateway.store }, dataDir);
    expect(verify.code, verify.stderr).to.equal(0);
    expect(readdirSync(dataDir).sort()).to.deep.equal(before);
    expect(before.filter((n) => n.endsWith('-wal') || n.endsWith('-shm'))).to.deep.equal([]);
  });
});

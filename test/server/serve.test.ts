// `serve` start-up: the listeners bind before the first start's admin token exists, and the banner shows addresses that can be called.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { silentLogger, type Logger } from '../../core/logger.js';
import { openEventStore } from '../../core/store/open.js';
import { loadProcessConfig } from '../../server/config.js';
import { nextStepText, reachableUrl, serve } from '../../server/serve.js';
import { ListenError } from '../../server/system-error.js';
import { LISTENING_MESSAGE, listeningEntry } from '../support/listening.js';

describe('server/serve start-up', () => {
  let dir: string;
  let held: Server;
  let heldPort: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-serve-'));
    held = createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    heldPort = (held.address() as { port: number }).port;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => held.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const store = () => `sqlite:${join(dir, 'data', 'portcullis.db')}`;
  const configWith = (listen: string, adminListen: string) =>
    loadProcessConfig(undefined, { PORTCULLIS_STORE: store(), PORTCULLIS_LISTEN: listen, PORTCULLIS_ADMIN_LISTEN: adminListen, PORTCULLIS_UPSTREAM: 'http://127.0.0.1:9' }, dir);

  async function startFailure(listen: string, adminListen: string): Promise<ListenError> {
    try {
      const running = await serve(configWith(listen, adminListen), silentLogger);
      await running.close();
    } catch (err) {
      expect(err).to.be.instanceOf(ListenError);
      return err as ListenError;
    }
    return expect.fail('serve started on a port in use');
  }

  async function eventTypes(): Promise<string[]> {
    const events = await openEventStore(store(), { readonly: true });
    try {
      return (await events.readAll()).map((e) => e.type);
    } finally {
      await events.close();
    }
  }

  for (const [which, key] of [['the gateway', 'listen'], ['the admin', 'adminListen']] as const) {
    it(`${which} port in use on first start: ListenError naming the address, and no admin token in the store`, async () => {
      const taken = `127.0.0.1:${heldPort}`;
      const err = await startFailure(key === 'listen' ? taken : '127.0.0.1:0', key === 'adminListen' ? taken : '127.0.0.1:0');
      expect(err.code).to.equal('EADDRINUSE');
      expect(err.address).to.equal(taken);
      expect(err.message).to.equal(`cannot listen on ${taken} (${key}): address already in use (EADDRINUSE)`);
      expect(await eventTypes()).not.to.include('AdminTokenCreated');
    });
  }

  it('on port 0, logs "portcullis is listening" with the ports it got (the line scripts read the addresses from)', async () => {
    const logged: { obj: Record<string, unknown>; msg: string | undefined }[] = [];
    const logger: Logger = {
      ...silentLogger,
      info: ((obj: Record<string, unknown> | string, msg?: string) => {
        if (typeof obj !== 'string') logged.push({ obj, msg });
      }) as Logger['info'],
    };
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // the first start's admin token
    let running: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      running = await serve(configWith('127.0.0.1:0', '127.0.0.1:0'), logger);
    } finally {
      process.stderr.write = write;
    }
    try {
      const lines = logged.filter((l) => l.msg === LISTENING_MESSAGE);
      expect(lines).to.have.length(1);
      const entry = listeningEntry({ ...lines[0]!.obj, msg: lines[0]!.msg });
      expect(entry).to.deep.equal({ gateway: running.gatewayUrl, admin: running.adminUrl });
      for (const url of [entry!.gateway, entry!.admin]) {
        expect(new URL(url).hostname).to.equal('127.0.0.1');
        expect(Number(new URL(url).port)).to.be.greaterThan(0);
      }
      expect((await fetch(`${entry!.admin}/healthz`)).status).to.equal(200);
    } finally {
      await running.close();
    }
  });

  it('released what it opened: the next start on free ports creates the admin token once', async () => {
    await startFailure(`127.0.0.1:${heldPort}`, '127.0.0.1:0');
    const write = process.stderr.write;
    const printed: string[] = [];
    process.stderr.write = ((chunk: string) => printed.push(String(chunk)) > 0) as typeof process.stderr.write;
    let running: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      running = await serve(configWith('127.0.0.1:0', '127.0.0.1:0'), silentLogger);
    } finally {
      process.stderr.write = write;
      await running?.close();
    }
    expect(printed.join('')).to.match(/Admin token \(shown once, store it now\): pca_/);
    expect((await eventTypes()).filter((t) => t === 'AdminTokenCreated')).to.have.length(1);
  });
});

describe('server/serve banner', () => {
  it('shows loopback for a listener bound to every address, and other addresses as they are', () => {
    expect(reachableUrl('http://0.0.0.0:8080')).to.equal('http://127.0.0.1:8080');
    expect(reachableUrl('http://[::]:8080')).to.equal('http://[::1]:8080');
    expect(reachableUrl('http://10.1.2.3:8080')).to.equal('http://10.1.2.3:8080');
    expect(reachableUrl('http://[::1]:8081')).to.equal('http://[::1]:8081');
  });

  it('never suggests calling 0.0.0.0 or [::]', () => {
    const text = nextStepText('http://0.0.0.0:8081', 'http://[::]:8080', 'pca_x');
    expect(text).to.contain('curl -X PUT http://127.0.0.1:8081/api/v1/providers/my-idp');
    expect(text).to.contain('curl -H "Authorization: Bearer <access token>" http://[::1]:8080/');
    expect(text).not.to.contain('0.0.0.0').and.not.to.contain('[::]');
  });
});

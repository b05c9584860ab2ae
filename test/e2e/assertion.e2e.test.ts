// The documented upstream (docs/examples/upstream-verify.mjs) behind a real gateway process: it serves what the gateway signed, and refuses a bypass, a forgery and a replay onto another path.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { decodeProtectedHeader, SignJWT } from 'jose';
import { request } from 'undici';

import { eventually } from '../support/eventually.js';
import { startNode, stopAll, type ProcessHandle } from '../support/processes.js';
import { admin, call } from './fixtures/http.js';
import { CLI, REPO_ROOT, runCli, startGateway, type Gateway } from './fixtures/processes.js';

const EXAMPLE = join(REPO_ROOT, 'docs', 'examples', 'upstream-verify.mjs');
const AUDIENCE = 'https://orders.internal';

describe('the identity assertion end to end (gateway + docs/examples/upstream-verify.mjs)', function () {
  this.timeout(30_000);

  let dataDir: string;
  let gateway: Gateway;
  let upstream: ProcessHandle;
  let upstreamUrl: string;
  let token: string;
  let relay: Server;
  let jwksUrl = '';

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    dataDir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-assertion-'));
    // The upstream starts first (the gateway needs its address), so it reads the key set through this
    // relay, which passes the gateway's once the gateway is up: in production it is the gateway's URL.
    relay = createServer((_req, res) => {
      void request(jwksUrl).then(
        async (r) => {
          res.writeHead(r.statusCode, { 'content-type': 'application/json' });
          res.end(await r.body.text());
        },
        () => res.writeHead(502).end(),
      );
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    upstream = await startNode(EXAMPLE, [], {
      name: 'upstream-verify',
      env: { PORT: '0', PORTCULLIS_JWKS_URL: `http://127.0.0.1:${(relay.address() as AddressInfo).port}/jwks.json`, PORTCULLIS_AUDIENCE: AUDIENCE },
    });
    upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    gateway = await startGateway({ dataDir, upstream: upstreamUrl, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
    jwksUrl = `${gateway.url}/_portcullis/jwks.json`;
    const patched = await admin(gateway, 'PATCH', '/settings', { assertion: { enabled: true, audience: AUDIENCE }, ip: { trustedProxies: ['127.0.0.1/32'] } });
    expect(patched.status, patched.text).to.equal(200);
    const created = await admin(gateway, 'POST', '/tokens', { owner: 'alice', name: 'e2e', groups: ['buyers'] });
    expect(created.status, created.text).to.equal(201);
    token = (created.json as { token: string }).token;
  });

  after(async () => {
    await stopAll();
    await new Promise((resolve) => relay.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });

  const bearer = (): Record<string, string> => ({ authorization: `Bearer ${token}` });
  /** An assertion the gateway signed for GET `path`, as its forward-auth answer carries it. */
  const signedFor = async (path: string): Promise<string> => {
    const res = await call(`${gateway.url}/_portcullis/decide`, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': path, 'x-forwarded-host': 'orders.example' },
    });
    expect(res.status, res.text).to.equal(200);
    return res.headers['x-portcullis-assertion']!;
  };

  it('serves a request that came through the gateway, knowing who sent it', async () => {
    const res = await call(`${gateway.url}/orders/42`, { headers: bearer() });
    expect(res.status, res.text).to.equal(200);
    expect(res.json).to.deep.equal({ user: 'alice', groups: ['buyers'] });
  });

  it('refuses a request that bypassed the gateway, even with the identity headers it would have had', async () => {
    const res = await call(`${upstreamUrl}/orders/42`, { headers: { 'x-portcullis-user': 'alice', 'x-portcullis-groups': 'buyers' } });
    expect(res.status).to.equal(401);
    expect(res.json).to.deep.equal({ error: 'not_signed_by_the_gateway' });
  });

  it('refuses a forged assertion: right claims and key id, another key', async () => {
    const genuine = await signedFor('/orders/42');
    const { kid } = decodeProtectedHeader(genuine);
    const { privateKey } = generateKeyPairSync('ed25519');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ username: 'admin', groups: ['admins'], method: 'GET', path: '/orders/42' })
      .setProtectedHeader({ alg: 'EdDSA', kid: kid! })
      .setIssuer('portcullis')
      .setAudience(AUDIENCE)
      .setSubject('admin')
      .setIssuedAt(now)
      .setExpirationTime(now + 30)
      .sign(privateKey);
    const res = await call(`${upstreamUrl}/orders/42`, { headers: { 'x-portcullis-assertion': forged } });
    expect(res.status).to.equal(401);
  });

  it('refuses a genuine assertion replayed onto another path or method, and accepts it where it was issued', async () => {
    const genuine = await signedFor('/orders/42');
    expect((await call(`${upstreamUrl}/orders/43`, { headers: { 'x-portcullis-assertion': genuine } })).status).to.equal(401);
    expect((await call(`${upstreamUrl}/orders/42`, { method: 'DELETE', headers: { 'x-portcullis-assertion': genuine } })).status).to.equal(401);
    const where = await call(`${upstreamUrl}/orders/42`, { headers: { 'x-portcullis-assertion': genuine } });
    expect(where.status, where.text).to.equal(200);
  });

  it('after `portcullis assertion-keys rotate`, publishes the new key at once and keeps signing with the old one until it is due', async () => {
    const before = await signedFor('/orders/1');
    const rotated = await runCli(['assertion-keys', 'rotate', '--json'], { PORTCULLIS_STORE: gateway.store }, dataDir);
    expect(rotated.code, rotated.stderr).to.equal(0);
    const { kid } = JSON.parse(rotated.stdout) as { kid: string };
    await eventually(
      async () => {
        const keys = ((await call(jwksUrl)).json as { keys: { kid: string }[] }).keys.map((k) => k.kid);
        expect(keys).to.deep.equal([decodeProtectedHeader(before).kid, kid]);
      },
      { within: 10_000, what: 'the rotated-in key published' },
    );
    const res = await call(`${gateway.url}/orders/1`, { headers: bearer() });
    expect(res.status, res.text).to.equal(200);
    expect(decodeProtectedHeader(await signedFor('/orders/1')).kid).to.equal(decodeProtectedHeader(before).kid);
  });
});

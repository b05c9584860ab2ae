// nginx `auth_request` in front of an echo upstream with the built gateway deciding: the exact file docs/forward-auth.md shows.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify } from 'jose';

import {
  HOSTILE_FORWARDING,
  HOSTILE_SETTINGS,
  NEVER_UPSTREAM,
  RESET_HOSTILE_SETTINGS,
  decidedEvent,
  failureOnTakenPort,
  findBinary,
  startProxy,
  type ProxyProcess,
} from './fixtures/forward-auth.js';
import { admin, asEcho, call, configureProvider, oidcProvider } from './fixtures/http.js';
import { PortTakenError, startOnUnassignedPort } from '../support/ports.js';
import { stopAll } from '../support/processes.js';
import { CLI, REPO_ROOT, startGateway, startOp, type Gateway, type Op } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey, tamperSignature } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

/** The example the docs show (docs/forward-auth.md includes it), rendered with this test's ports. */
export const NGINX_EXAMPLE = join(REPO_ROOT, 'docs/examples/nginx-portcullis.conf');

const findNginx = () => findBinary('nginx', ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']);

/** The example with its placeholder addresses replaced, inside a complete nginx.conf whose files all live in `dir`. */
async function renderConfig(dir: string, ports: { listen: number; gateway: number; upstream: number }): Promise<string> {
  const example = await readFile(NGINX_EXAMPLE, 'utf8');
  const site = example
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.gateway};`)
    .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${ports.upstream};`)
    .replace('listen 80;', `listen 127.0.0.1:${ports.listen};`);
  // The replacements must all have happened, or the test would silently exercise something else.
  for (const expected of [`:${ports.gateway};`, `:${ports.upstream};`, `listen 127.0.0.1:${ports.listen};`]) {
    if (!site.includes(expected)) throw new Error(`${NGINX_EXAMPLE} no longer has the placeholder for ${expected}`);
  }
  await writeFile(join(dir, 'portcullis.conf'), site);
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir, 'tmp', sub), { recursive: true });
  return [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'worker_processes 1;',
    'events { worker_connections 64; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    `  client_body_temp_path ${dir}/tmp/client_body;`,
    `  proxy_temp_path ${dir}/tmp/proxy;`,
    `  fastcgi_temp_path ${dir}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${dir}/tmp/uwsgi;`,
    `  scgi_temp_path ${dir}/tmp/scgi;`,
    `  include ${dir}/portcullis.conf;`,
    '}',
    '',
  ].join('\n');
}

async function startNginx(binary: string, dir: string, port: number): Promise<ProxyProcess> {
  const conf = join(dir, 'nginx.conf');
  const check = spawnSync(binary, ['-t', '-p', dir, '-c', conf], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused the configuration:\n${check.stderr}`);
  return startProxy('nginx', binary, ['-p', dir, '-c', conf, '-g', 'daemon off;'], port, 'SIGQUIT');
}

interface ErrorBody {
  error?: string;
  error_description?: string;
  request_id?: string;
}

describe('nginx auth_request in front of the gateway (docs/examples/nginx-portcullis.conf)', function () {
  this.timeout(60_000);

  const nginxBinary = findNginx();
  let dir: string;
  let upstream: Upstream;
  let op: Op;
  let gateway: Gateway;
  let nginx: ProxyProcess | undefined;

  before(async function () {
    if (!nginxBinary) {
      // CI installs nginx (.ci/run); elsewhere say loudly why this suite did not run.
      if (process.env.CI === 'true') throw new Error('nginx is not installed: .ci/run installs it (apt-get install nginx-light)');
      console.warn('    (skipped: nginx is not installed; `apt-get install nginx-light` to run the forward-auth example)');
      this.skip();
    }
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
    dir = await mkdtemp(join(tmpdir(), 'portcullis-nginx-'));
    // Workers run as an unprivileged user when nginx starts as root: let them into the temp paths.
    await chmod(dir, 0o755);
    upstream = await startUpstream();
    const key = await generateSigningKey('nginx-k1');
    op = await startOp({ jwks: { keys: [key.privateJwk] }, clients: [E2E_CLIENT], tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS } });
    const dataDir = join(dir, 'gateway');
    await mkdir(dataDir);
    gateway = await startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
    await configureProvider(gateway, 'idp', oidcProvider(op.issuer, RESOURCE));
    // nginx cannot listen on port 0 and say which port it got: it gets one no other test is handed,
    // and another if some program holds that one.
    nginx = await startOnUnassignedPort(async (listen) => {
      const ports = { listen, gateway: Number(new URL(gateway.url).port), upstream: upstream.port };
      await writeFile(join(dir, 'nginx.conf'), await renderConfig(dir, ports));
      return startNginx(nginxBinary, dir, listen);
    });
  });

  after(async () => {
    await nginx?.stop();
    await stopAll();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('passes an allowed request on with the identity nginx copied from the decision', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const res = await call(`${nginx!.url}/rest/api/2/issue/ABC-1?expand=names`, { headers: bearer(token) });
    expect(res.status, res.text).to.equal(200);
    const echo = asEcho(res);
    expect(echo.method).to.equal('GET');
    expect(echo.url).to.equal('/rest/api/2/issue/ABC-1?expand=names');
    expect(echo.headers['x-portcullis-user']).to.equal('alice');
    expect(echo.headers['x-portcullis-provider']).to.equal('idp');
    expect(String(echo.headers['x-portcullis-groups'])).to.include('developers');
    expect(echo.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    // The API trusts the identity headers; the token stays between the client and the gateway.
    expect(echo.headers.authorization).to.equal(undefined);
  });

  it('cannot start on a port another program holds: PortTakenError, so the suite takes another port', async () => {
    const other = join(dir, 'port-taken');
    await mkdir(other);
    await chmod(other, 0o755);
    const err = await failureOnTakenPort(async (listen) => {
      await writeFile(join(other, 'nginx.conf'), await renderConfig(other, { listen, gateway: Number(new URL(gateway.url).port), upstream: upstream.port }));
      return startNginx(nginxBinary!, other, listen);
    });
    expect(err).to.be.instanceOf(PortTakenError);
  });

  it('passes the request body to the upstream but not to the decision', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const res = await call(`${nginx!.url}/rest/api/2/issue`, { method: 'POST', headers: bearer(token), body: { fields: { summary: 'x' } } });
    expect(res.status, res.text).to.equal(200);
    const echo = asEcho(res);
    expect(echo.method).to.equal('POST');
    expect(JSON.parse(echo.body)).to.deep.equal({ fields: { summary: 'x' } });
  });

  it('never lets a client-sent X-Portcullis-User reach the upstream', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const spoof = { 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'administrators', 'X-Portcullis-Provider': 'forged', 'X-Portcullis-Token-Id': 'forged' };
    const res = await call(`${nginx!.url}/spoof-check`, { headers: { ...bearer(token), ...spoof } });
    expect(res.status, res.text).to.equal(200);
    const echo = asEcho(res);
    expect(echo.headers['x-portcullis-user']).to.equal('alice');
    expect(String(echo.headers['x-portcullis-groups'])).not.to.include('administrators');
    expect(echo.headers['x-portcullis-provider']).to.equal('idp');
    expect(echo.headers['x-portcullis-token-id']).not.to.equal('forged');
  });

  it('passes the signed assertion the decision carries, never the client’s own (issue 20)', async () => {
    const enabled = await admin(gateway, 'PATCH', '/settings', { assertion: { enabled: true, audience: 'https://api.internal' } });
    expect(enabled.status, enabled.text).to.equal(200);
    try {
      const token = await clientCredentialsToken(op.issuer);
      const forged = 'eyJhbGciOiJub25lIn0.eyJ1c2VybmFtZSI6ImFkbWluIn0.';
      const res = await call(`${nginx!.url}/assert-check?x=1`, { headers: { ...bearer(token), 'X-Portcullis-Assertion': forged } });
      expect(res.status, res.text).to.equal(200);
      const assertion = asEcho(res).headers['x-portcullis-assertion'];
      expect(assertion).to.be.a('string').and.not.equal(forged);
      const { payload } = await jwtVerify(String(assertion), createRemoteJWKSet(new URL(`${gateway.url}/_portcullis/jwks.json`)), {
        issuer: 'portcullis',
        audience: 'https://api.internal',
      });
      expect(payload).to.include({ username: 'alice', method: 'GET', path: '/assert-check' });
    } finally {
      const reset = await admin(gateway, 'PATCH', '/settings', { assertion: null });
      expect(reset.status, reset.text).to.equal(200);
    }
  });

  it('answers 401 with the Bearer challenge and a JSON body when no token is sent, without calling the upstream', async () => {
    const before = upstream.requests.length;
    const res = await call(`${nginx!.url}/rest/api/2/myself`, { headers: { 'X-Portcullis-User': 'admin' } });
    expect(res.status, res.text).to.equal(401);
    expect(res.headers['www-authenticate']).to.equal('Bearer realm="portcullis"');
    expect(res.headers['content-type']).to.match(/^application\/json/);
    const body = res.json as ErrorBody;
    expect(body.error).to.equal('missing_credential');
    expect(body.error_description).to.be.a('string').and.not.equal('');
    expect(body.request_id).to.match(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).to.equal(body.request_id);
    expect(upstream.requests.length).to.equal(before);
  });

  it('answers 401 invalid_token for a token whose signature does not verify', async () => {
    const before = upstream.requests.length;
    const token = tamperSignature(await clientCredentialsToken(op.issuer));
    const res = await call(`${nginx!.url}/rest/api/2/myself`, { headers: bearer(token) });
    expect(res.status, res.text).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    expect((res.json as ErrorBody).error).to.equal('invalid_token');
    expect(upstream.requests.length).to.equal(before);
  });

  it('decided on the original method and URI (the audit records what the client asked nginx for)', async () => {
    const res = await call(`${nginx!.url}/audited/path?q=1`, { method: 'DELETE' });
    expect(res.status).to.equal(401);
    const requestId = (res.json as ErrorBody).request_id!;
    const found = await decidedEvent(gateway, requestId);
    expect(found, `a recorded decision for ${requestId}`).to.not.equal(undefined);
    expect(found).to.include({ method: 'DELETE', path: '/audited/path', host: '127.0.0.1', reason: 'missing_credential' });
  });

  describe('a client that sends every forwarding header with hostile values (issue 13)', () => {
    before(async () => {
      const patched = await admin(gateway, 'PATCH', '/settings', HOSTILE_SETTINGS);
      expect(patched.status, patched.text).to.equal(200);
    });
    after(async () => {
      const patched = await admin(gateway, 'PATCH', '/settings', RESET_HOSTILE_SETTINGS);
      expect(patched.status, patched.text).to.equal(200);
    });

    it('keeps a protected path protected: 401, judged on what the client really asked for', async () => {
      const before = upstream.requests.length;
      const res = await call(`${nginx!.url}/admin/users?x=1`, { headers: HOSTILE_FORWARDING });
      expect(res.status, res.text).to.equal(401);
      expect((res.json as ErrorBody).error).to.equal('missing_credential');
      expect(upstream.requests.length, 'the upstream was not called').to.equal(before);
      const decided = await decidedEvent(gateway, (res.json as ErrorBody).request_id!);
      expect(decided).to.include({ method: 'GET', path: '/admin/users', host: '127.0.0.1', clientIp: '127.0.0.1', reason: 'missing_credential' });
    });

    it('refuses a read-only caller’s DELETE: 403, and never lets it reach the upstream', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const before = upstream.requests.length;
      const res = await call(`${nginx!.url}/rest/api/2/issue/ABC-1`, { method: 'DELETE', headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(403);
      expect(upstream.requests.length, 'the upstream was not called').to.equal(before);
      const decided = await decidedEvent(gateway, (res.json as ErrorBody).request_id!);
      expect(decided).to.include({ method: 'DELETE', path: '/rest/api/2/issue/ABC-1', reason: 'read_only' });
    });

    it('passes the read-only caller’s GET, with none of the client’s path or method headers and the host that was judged', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${nginx!.url}/rest/api/2/issue/ABC-1`, { headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(200);
      const echo = asEcho(res);
      expect(echo.url).to.equal('/rest/api/2/issue/ABC-1');
      expect(echo.headers['x-portcullis-user']).to.equal('alice');
      expect(echo.headers['x-forwarded-host']).to.equal('127.0.0.1');
      expect(echo.headers.host).to.equal('127.0.0.1');
      for (const name of NEVER_UPSTREAM) expect(echo.headers, name).not.to.have.property(name);
    });

    it('does not let the client choose its address: an allow-list still refuses it', async () => {
      const patched = await admin(gateway, 'PATCH', '/settings', { ip: { allow: ['198.51.100.0/24'] } });
      expect(patched.status, patched.text).to.equal(200);
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${nginx!.url}/rest/api/2/issue/ABC-1`, { headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(403);
      const decided = await decidedEvent(gateway, (res.json as ErrorBody).request_id!);
      expect(decided).to.include({ clientIp: '127.0.0.1', reason: 'ip_not_allowed' });
    });
  });

  // Nested suites run after the tests above, in order: these two change the gateway for good.
  describe('last: the master switch off, then the gateway gone', () => {
    it('lets a request pass without identity headers when the gateway lets everyone through', async () => {
      const patched = await admin(gateway, 'PATCH', '/settings', { enabled: false });
      expect(patched.status, patched.text).to.equal(200);
      const res = await call(`${nginx!.url}/open`, { headers: { 'X-Portcullis-User': 'admin' } });
      expect(res.status, res.text).to.equal(200);
      expect(asEcho(res).headers['x-portcullis-user']).to.equal(undefined);
    });

    it('answers 503 with a JSON body when the gateway cannot be reached (last: it stops the gateway)', async () => {
      await gateway.process.stop();
      const res = await call(`${nginx!.url}/rest/api/2/myself`, { headers: bearer('any') });
      expect(res.status, res.text).to.equal(503);
      expect((res.json as ErrorBody).error).to.equal('unavailable');
    });
  });
});

describe('docs/forward-auth.md', () => {
  it('shows exactly the nginx example the end-to-end test runs', async () => {
    const [doc, example] = await Promise.all([readFile(join(REPO_ROOT, 'docs/forward-auth.md'), 'utf8'), readFile(NGINX_EXAMPLE, 'utf8')]);
    expect(doc).to.include(`\`\`\`nginx\n${example}\`\`\``);
  });
});

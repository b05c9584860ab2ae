// Debian's HAProxy in front of an echo upstream with the built gateway deciding: the exact files docs/forward-auth.md shows
// (docs/examples/haproxy-portcullis.cfg and its Lua action, docs/examples/haproxy-portcullis.lua).
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { rawExchange, wire } from '../security/raw.js';
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

export const HAPROXY_CONFIG = join(REPO_ROOT, 'docs/examples/haproxy-portcullis.cfg');
export const HAPROXY_LUA = join(REPO_ROOT, 'docs/examples/haproxy-portcullis.lua');

const findHaproxy = () => findBinary('haproxy', ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy']);

/** The example configuration with this test's addresses, loading the example Lua file copied unchanged into `dir`. */
async function renderConfig(dir: string, ports: { listen: number; gateway: number; upstream: number }): Promise<string> {
  await copyFile(HAPROXY_LUA, join(dir, 'portcullis.lua'));
  const config = (await readFile(HAPROXY_CONFIG, 'utf8'))
    // Test-only: HAProxy binds with SO_REUSEPORT by default, so a second HAProxy (another test run) could
    // share the port unnoticed; without it, the one that comes second fails and takes another port.
    .replace('global\n', 'global\n    noreuseport\n')
    .replace('lua-load /etc/haproxy/portcullis.lua', `lua-load ${dir}/portcullis.lua`)
    .replace('bind :80', `bind 127.0.0.1:${ports.listen}`)
    .replace('http://127.0.0.1:8080/_portcullis/decide', `http://127.0.0.1:${ports.gateway}/_portcullis/decide`)
    .replace('server api1 127.0.0.1:3000', `server api1 127.0.0.1:${ports.upstream}`);
  // The replacements must all have happened, or the test would silently exercise something else.
  for (const expected of ['noreuseport', `lua-load ${dir}/`, `bind 127.0.0.1:${ports.listen}`, `:${ports.gateway}/_portcullis/decide`, `127.0.0.1:${ports.upstream}`]) {
    if (!config.includes(expected)) throw new Error(`${HAPROXY_CONFIG} no longer has the placeholder for ${expected}`);
  }
  const path = join(dir, 'haproxy.cfg');
  await writeFile(path, config);
  return path;
}

async function startHaproxy(binary: string, config: string, port: number): Promise<ProxyProcess> {
  const check = spawnSync(binary, ['-c', '-f', config], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c refused the configuration:\n${check.stdout}${check.stderr}`);
  // -db: foreground, no daemon; ended by its pid.
  return startProxy('haproxy', binary, ['-db', '-f', config], port, 'SIGTERM');
}

interface ErrorBody {
  error?: string;
  error_description?: string;
  request_id?: string;
}

describe('HAProxy with the Lua forward-auth action in front of the gateway (docs/examples/haproxy-portcullis.cfg)', function () {
  this.timeout(60_000);

  const haproxyBinary = findHaproxy();
  let dir: string;
  let upstream: Upstream;
  let op: Op;
  let gateway: Gateway;
  let haproxy: ProxyProcess | undefined;

  before(async function () {
    if (!haproxyBinary) {
      // CI installs haproxy (.ci/run); elsewhere say loudly why this suite did not run.
      if (process.env.CI === 'true') throw new Error('haproxy is not installed: .ci/run installs it (apt-get install haproxy)');
      console.warn('    (skipped: haproxy is not installed; `apt-get install haproxy` to run the forward-auth example)');
      this.skip();
    }
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
    dir = await mkdtemp(join(tmpdir(), 'portcullis-haproxy-'));
    await chmod(dir, 0o755);
    upstream = await startUpstream();
    const key = await generateSigningKey('haproxy-k1');
    op = await startOp({ jwks: { keys: [key.privateJwk] }, clients: [E2E_CLIENT], tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS } });
    const dataDir = join(dir, 'gateway');
    await mkdir(dataDir);
    gateway = await startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
    await configureProvider(gateway, 'idp', oidcProvider(op.issuer, RESOURCE));
    // HAProxy cannot listen on port 0 and say which port it got: it gets one no other test is handed,
    // and another if some program holds that one.
    haproxy = await startOnUnassignedPort(async (listen) => {
      const config = await renderConfig(dir, { listen, gateway: Number(new URL(gateway.url).port), upstream: upstream.port });
      return startHaproxy(haproxyBinary!, config, listen);
    });
  });

  after(async () => {
    await haproxy?.stop();
    await stopAll();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('passes an allowed request on with the identity from the decision, and without the token', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const spoof = { 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'administrators', 'X-Portcullis-Token-Id': 'forged' };
    const res = await call(`${haproxy!.url}/rest/api/2/issue/ABC-1?expand=names`, { headers: { ...bearer(token), ...spoof } });
    expect(res.status, res.text).to.equal(200);
    const echo = asEcho(res);
    expect(echo.method).to.equal('GET');
    expect(echo.url).to.equal('/rest/api/2/issue/ABC-1?expand=names');
    expect(echo.headers['x-portcullis-user']).to.equal('alice');
    expect(echo.headers['x-portcullis-provider']).to.equal('idp');
    expect(String(echo.headers['x-portcullis-groups'])).to.include('developers').and.not.include('administrators');
    expect(echo.headers['x-portcullis-token-id']).not.to.equal('forged');
    expect(echo.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
    expect(echo.headers.authorization).to.equal(undefined);
  });

  it('cannot start on a port another program holds: PortTakenError, so the suite takes another port', async () => {
    const other = join(dir, 'port-taken');
    await mkdir(other);
    await chmod(other, 0o755);
    const err = await failureOnTakenPort(async (listen) =>
      startHaproxy(haproxyBinary!, await renderConfig(other, { listen, gateway: Number(new URL(gateway.url).port), upstream: upstream.port }), listen),
    );
    expect(err).to.be.instanceOf(PortTakenError);
  });

  it('passes the request body to the upstream', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const res = await call(`${haproxy!.url}/rest/api/2/issue`, { method: 'POST', headers: bearer(token), body: { fields: { summary: 'x' } } });
    expect(res.status, res.text).to.equal(200);
    expect(JSON.parse(asEcho(res).body)).to.deep.equal({ fields: { summary: 'x' } });
  });

  it('answers Portcullis’s own 401: status, challenge, JSON body and request id, without calling the upstream', async () => {
    const before = upstream.requests.length;
    const res = await call(`${haproxy!.url}/rest/api/2/myself`, { headers: { 'X-Portcullis-User': 'admin' } });
    expect(res.status, res.text).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis"/);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    const body = res.json as ErrorBody;
    expect(body.error).to.equal('missing_credential');
    expect(body.request_id).to.match(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-request-id']).to.equal(body.request_id);
    expect(upstream.requests.length).to.equal(before);
  });

  it('answers 401 invalid_token for a token whose signature does not verify', async () => {
    const token = tamperSignature(await clientCredentialsToken(op.issuer));
    const res = await call(`${haproxy!.url}/rest/api/2/myself`, { headers: bearer(token) });
    expect(res.status, res.text).to.equal(401);
    expect(res.headers['www-authenticate']).to.match(/error="invalid_token"/);
    expect((res.json as ErrorBody).error).to.equal('invalid_token');
  });

  it('refuses two different Host headers with 400 before asking anyone', async () => {
    const before = upstream.requests.length;
    const port = Number(new URL(haproxy!.url).port);
    const exchange = await rawExchange(port, wire('GET', '/rest/api/2/myself', [['Host', 'public.example'], ['Host', '127.0.0.1']]));
    expect(exchange.responses[0]?.status).to.equal(400);
    expect(upstream.requests.length).to.equal(before);
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
      const res = await call(`${haproxy!.url}/admin/users?x=1`, { headers: HOSTILE_FORWARDING });
      expect(res.status, res.text).to.equal(401);
      expect((res.json as ErrorBody).error).to.equal('missing_credential');
      expect(upstream.requests.length, 'the upstream was not called').to.equal(before);
      const decided = await decidedEvent(gateway, (res.json as ErrorBody).request_id!);
      expect(decided).to.include({ method: 'GET', path: '/admin/users', clientIp: '127.0.0.1', reason: 'missing_credential' });
      expect(decided?.host).to.equal(`127.0.0.1:${new URL(haproxy!.url).port}`);
    });

    it('refuses a read-only caller’s DELETE with Portcullis’s 403 read_only, and never lets it reach the upstream', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const before = upstream.requests.length;
      const res = await call(`${haproxy!.url}/rest/api/2/issue/ABC-1`, { method: 'DELETE', headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(403);
      expect((res.json as ErrorBody).error).to.equal('read_only');
      expect(upstream.requests.length, 'the upstream was not called').to.equal(before);
      expect(await decidedEvent(gateway, (res.json as ErrorBody).request_id!)).to.include({ method: 'DELETE', path: '/rest/api/2/issue/ABC-1' });
    });

    it('passes the read-only caller’s GET, with none of the client’s path or method headers and the host that was judged', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${haproxy!.url}/rest/api/2/issue/ABC-1`, { headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(200);
      const echo = asEcho(res);
      expect(echo.url).to.equal('/rest/api/2/issue/ABC-1');
      expect(echo.headers['x-portcullis-user']).to.equal('alice');
      expect(echo.headers['x-forwarded-host']).to.equal(`127.0.0.1:${new URL(haproxy!.url).port}`);
      expect(echo.headers['x-forwarded-for']).to.equal('127.0.0.1');
      for (const name of NEVER_UPSTREAM) expect(echo.headers, name).not.to.have.property(name);
    });

    it('does not let the client choose its address: an allow-list still refuses it', async () => {
      const patched = await admin(gateway, 'PATCH', '/settings', { ip: { allow: ['198.51.100.0/24'] } });
      expect(patched.status, patched.text).to.equal(200);
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${haproxy!.url}/rest/api/2/issue/ABC-1`, { headers: { ...HOSTILE_FORWARDING, ...bearer(token) } });
      expect(res.status, res.text).to.equal(403);
      expect((res.json as ErrorBody).error).to.equal('ip_not_allowed');
      expect(await decidedEvent(gateway, (res.json as ErrorBody).request_id!)).to.include({ clientIp: '127.0.0.1' });
    });
  });

  describe('last: the gateway gone', () => {
    it('answers 503 with a JSON body when the gateway cannot be reached', async () => {
      await gateway.process.stop();
      const before = upstream.requests.length;
      const res = await call(`${haproxy!.url}/rest/api/2/myself`, { headers: bearer('any') });
      expect(res.status, res.text).to.equal(503);
      expect((res.json as ErrorBody).error).to.equal('unavailable');
      expect(upstream.requests.length).to.equal(before);
    });
  });
});

describe('docs/forward-auth.md (HAProxy)', () => {
  it('shows exactly the HAProxy configuration and Lua action the end-to-end test runs', async () => {
    const [doc, config, lua] = await Promise.all([
      readFile(join(REPO_ROOT, 'docs/forward-auth.md'), 'utf8'),
      readFile(HAPROXY_CONFIG, 'utf8'),
      readFile(HAPROXY_LUA, 'utf8'),
    ]);
    expect(doc).to.include(`\`\`\`haproxy\n${config}\`\`\``);
    expect(doc).to.include(`\`\`\`lua\n${lua}\`\`\``);
  });
});

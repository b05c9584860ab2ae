// The signed identity assertion (issue 20): what the upstream receives, what the key set publishes, per-route settings, forward auth, spoofing, key reload.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { Agent } from 'undici';

import type { ManualClock } from '../../../core/clock.js';
import { ASSERTION_KEYS_STREAM } from '../../../core/events.js';
import { silentLogger } from '../../../core/logger.js';
import { assertionKeysFile, loadAssertionKeys, rotateAssertionKeys } from '../../../server/assertion-keys.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { AssertionSigner } from '../../../server/gateway/assertion.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { eventually } from '../../support/eventually.js';
import { changeSettings, configureStatic, listen, send, startRuntime, type HttpResult, type Listening } from '../fixtures.js';

const ALICE = 'tok-alice-5d2e';

describe('server/gateway: the signed identity assertion', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let clock: ManualClock;
  let dir: string;
  let file: string;
  let client: Agent;
  let gateway: Listening;
  let upstream: Listening;
  let seen: { url: string; headers: IncomingHttpHeaders }[];
  let cleanups: (() => Promise<void>)[];

  beforeEach(async () => {
    cleanups = [];
    seen = [];
    ({ runtime, store, clock } = await startRuntime());
    cleanups.push(() => runtime.close());
    dir = await mkdtemp(join(tmpdir(), 'portcullis-assertion-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    file = assertionKeysFile(join(dir, 'assertion-keys.json'), 'memory:');
    await configureStatic(runtime, 'corp', { [ALICE]: { username: 'alice', groups: ['devs', 'ops'] } });
    upstream = await listen((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.end('ok');
    });
    cleanups.push(() => upstream.close());
    const proxy = new UpstreamProxy({ upstream: new URL(`${upstream.url}/base`), timeoutMs: 5000, logger: silentLogger, isTrustedProxy: () => false });
    cleanups.push(() => proxy.close());
    const keys = await loadAssertionKeys(file, clock.now(), silentLogger);
    const assertions = new AssertionSigner(keys, { defaultAudience: new URL(upstream.url).origin, clock, logger: silentLogger });
    runtime.projection.onChange((_s, event) => {
      if (event.type === 'AssertionKeyRotated') void assertions.reload(file);
    });
    gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger, assertions }).callback());
    cleanups.push(() => gateway.close());
    client = new Agent({ keepAliveTimeout: 10 });
  });

  afterEach(async () => {
    await client.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const call = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<HttpResult> =>
    send(client, gateway.url + path, { method, headers: { authorization: `Bearer ${ALICE}`, ...headers } });

  /** Verified against the gateway's published key set, at the gateway's clock. */
  async function verified(assertion: unknown, audience = new URL(upstream.url).origin): Promise<JWTPayload> {
    expect(assertion, 'an X-Portcullis-Assertion').to.be.a('string');
    const jwks = (await send(client, `${gateway.url}/_portcullis/jwks.json`)).json as { keys: [] };
    const { payload } = await jwtVerify(assertion as string, createLocalJWKSet(jwks), {
      issuer: 'portcullis',
      audience,
      algorithms: ['EdDSA'],
      currentDate: new Date(clock.now()),
    });
    return payload;
  }

  it('is absent by default (assertion.enabled is false)', async () => {
    const res = await call('/x');
    expect(res.status, res.text).to.equal(200);
    expect(seen[0]!.headers).not.to.have.property('x-portcullis-assertion');
  });

  it('carries who, for whom, for how long, and the one method and path the upstream receives', async () => {
    await changeSettings(runtime, { assertion: { enabled: true, ttlSeconds: 20, reuseSeconds: 0 } });
    const res = await call('/rest/./api?q=1', {}, 'POST');
    expect(res.status, res.text).to.equal(200);
    const payload = await verified(seen[0]!.headers['x-portcullis-assertion']);
    expect(seen[0]!.url).to.equal('/base/rest/api?q=1');
    expect(payload).to.include({ iss: 'portcullis', sub: 'sub-alice', username: 'alice', provider: 'corp', method: 'POST', path: '/base/rest/api' });
    expect(payload.groups).to.deep.equal(['devs', 'ops']);
    expect(payload.jti).to.equal(res.headers['x-request-id']);
    expect(payload.iat).to.equal(Math.floor(clock.now() / 1000));
    expect(payload.exp).to.equal(payload.iat! + 20);
    expect(decodeProtectedHeader(seen[0]!.headers['x-portcullis-assertion'] as string)).to.include({ alg: 'EdDSA', typ: 'JWT' });
  });

  it('with reuseSeconds 0 signs each request: its request id is the jti, so two requests never share an assertion', async () => {
    await changeSettings(runtime, { assertion: { enabled: true, reuseSeconds: 0 } });
    const first = await call('/same');
    const second = await call('/same');
    expect((await verified(seen[0]!.headers['x-portcullis-assertion'])).jti).to.equal(first.headers['x-request-id']);
    expect((await verified(seen[1]!.headers['x-portcullis-assertion'])).jti).to.equal(second.headers['x-request-id']);
  });

  it('reuses an assertion for the same caller, method and path within reuseSeconds, never for another path or method', async () => {
    await changeSettings(runtime, { assertion: { enabled: true, ttlSeconds: 30, reuseSeconds: 10 } });
    const first = await call('/same');
    clock.advance(9_000);
    await call('/same');
    await call('/other');
    await call('/same', {}, 'POST');
    const got = seen.map((s) => s.headers['x-portcullis-assertion'] as string);
    expect(got[1]).to.equal(got[0]);
    expect((await verified(got[1])).jti).to.equal(first.headers['x-request-id']);
    expect(await verified(got[2])).to.include({ method: 'GET', path: '/base/other' });
    expect(await verified(got[3])).to.include({ method: 'POST', path: '/base/same' });
    clock.advance(1_000);
    await call('/same');
    const renewed = seen[4]!.headers['x-portcullis-assertion'] as string;
    expect(renewed).not.to.equal(got[0]);
    expect((await verified(renewed)).iat).to.equal(Math.floor(clock.now() / 1000));
  });

  it('takes issuer, audience and lifetime from the settings, and per route overrides them or turns it off', async () => {
    await changeSettings(runtime, {
      assertion: { enabled: true, issuer: 'gw.example', audience: 'https://default.example' },
      routes: [
        { name: 'jira', path: '/jira/**', assertion: { audience: 'https://jira.example', ttlSeconds: 5 } },
        { path: '/legacy/**', assertion: { enabled: false } },
      ],
    });
    await call('/jira/issue');
    await call('/other');
    await call('/legacy/thing');
    const jwks = createLocalJWKSet((await send(client, `${gateway.url}/_portcullis/jwks.json`)).json as { keys: [] });
    const at = { currentDate: new Date(clock.now()), issuer: 'gw.example' };
    const jira = await jwtVerify(seen[0]!.headers['x-portcullis-assertion'] as string, jwks, { ...at, audience: 'https://jira.example' });
    expect(jira.payload.exp! - jira.payload.iat!).to.equal(5);
    const other = await jwtVerify(seen[1]!.headers['x-portcullis-assertion'] as string, jwks, { ...at, audience: 'https://default.example' });
    expect(other.payload.exp! - other.payload.iat!).to.equal(30);
    expect(seen[2]!.headers).not.to.have.property('x-portcullis-assertion');
  });

  it('signs anonymous requests to public paths with no identity claims', async () => {
    await changeSettings(runtime, { assertion: { enabled: true }, paths: { public: ['/status'] } });
    const res = await send(client, `${gateway.url}/status`);
    expect(res.status, res.text).to.equal(200);
    const payload = await verified(seen[0]!.headers['x-portcullis-assertion']);
    expect(payload).to.include({ method: 'GET', path: '/base/status' });
    expect(payload).not.to.have.property('sub');
    expect(payload).not.to.have.property('username');
  });

  for (const enabled of [false, true]) {
    it(`never passes a client's own assertion, in any spelling (assertion.enabled ${enabled})`, async () => {
      await changeSettings(runtime, { assertion: { enabled } });
      const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
      await call('/x', { 'X-Portcullis-Assertion': forged, X_Portcullis_Assertion: forged, 'x-portcullis_assertion': forged });
      const headers = seen[0]!.headers;
      expect(headers['x-portcullis-assertion']).not.to.equal(forged);
      expect(headers).not.to.have.property('x_portcullis_assertion');
      expect(headers).not.to.have.property('x-portcullis_assertion');
      expect(Object.keys(headers).filter((h) => h.replaceAll('_', '-') === 'x-portcullis-assertion')).to.have.length(enabled ? 1 : 0);
    });
  }

  it('publishes the public keys only, cacheable, and answers anything but GET and HEAD with 405', async () => {
    const res = await send(client, `${gateway.url}/_portcullis/jwks.json`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/jwk-set\+json/);
    expect(res.headers['cache-control']).to.equal('public, max-age=60');
    const keys = (res.json as { keys: Record<string, unknown>[] }).keys;
    expect(keys).to.have.length(1);
    expect(keys[0]).to.include({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(keys[0]).not.to.have.property('d');
    const post = await send(client, `${gateway.url}/_portcullis/jwks.json`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.json).to.include({ error: 'method_not_allowed' });
    expect(post.headers.allow).to.equal('GET, HEAD');
  });

  it('answers forward auth with an assertion bound to the forwarded method and judged path', async () => {
    await changeSettings(runtime, { assertion: { enabled: true }, ip: { trustedProxies: ['127.0.0.0/8', '::1/128'] } });
    const res = await call('/_portcullis/decide', { 'x-forwarded-method': 'DELETE', 'x-forwarded-uri': '/a/../b?x=1', 'x-forwarded-host': 'api.example' });
    expect(res.status, res.text).to.equal(200);
    expect(await verified(res.headers['x-portcullis-assertion'])).to.include({ method: 'DELETE', path: '/b', username: 'alice' });
  });

  it('after a rotation event publishes the new key at once, signs with it from its start, and drops the old one once its assertions expired', async () => {
    await changeSettings(runtime, { assertion: { enabled: true } });
    const before = (await send(client, `${gateway.url}/_portcullis/jwks.json`)).json as { keys: { kid: string }[] };
    const oldKid = before.keys[0]!.kid;
    const rotation = await rotateAssertionKeys(file, clock.now(), 120);
    await store.append(ASSERTION_KEYS_STREAM, [{ id: 'rot-1', type: 'AssertionKeyRotated', data: { ...rotation }, metadata: { actor: 'test' } }]);
    const kids = async () => ((await send(client, `${gateway.url}/_portcullis/jwks.json`)).json as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    await eventually(async () => expect(await kids()).to.deep.equal([oldKid, rotation.kid]), { within: 10_000, what: 'the new key published' });
    await call('/x');
    expect(decodeProtectedHeader(seen[0]!.headers['x-portcullis-assertion'] as string).kid).to.equal(oldKid);
    clock.advance(120_000);
    await call('/x');
    expect(decodeProtectedHeader(seen[1]!.headers['x-portcullis-assertion'] as string).kid).to.equal(rotation.kid);
    clock.advance(89_000);
    expect(await kids()).to.deep.equal([oldKid, rotation.kid]);
    clock.advance(1_000);
    expect(await kids()).to.deep.equal([rotation.kid]);
  });
});

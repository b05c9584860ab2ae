// Gateway tokens at the gateway listener: self-service at /_portcullis/tokens, tokens in use (Bearer, Basic, API key), revocation, toggles at the edge.
import { expect } from 'chai';
import { Agent } from 'undici';

import type { DecisionEntry } from '../../../core/decision-log/reader.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { silentLogger } from '../../../core/logger.js';
import { startEchoUpstream } from '../../../server/gateway/echo-upstream.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { decisionEntries, changeSettings, configureStatic, listen, send, startRuntime, type HttpResult, type Listening } from '../fixtures.js';

const ALICE = 'tok-alice-self-service-1';
const BOB = 'tok-bob-self-service-2';
const TOKENS = '/_portcullis/tokens';

interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

describe('server/self-service tokens and gateway tokens at the edge', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let client: Agent;
  let gateway: Listening;
  let cleanups: (() => Promise<void>)[];
  /** Every secret handed out; only its creation answer may carry it. */
  let secrets: string[];

  beforeEach(async () => {
    cleanups = [];
    secrets = [];
    ({ runtime, store } = await startRuntime());
    cleanups.push(() => runtime.close());
    await configureStatic(runtime, 'p1', { [ALICE]: { username: 'alice', groups: ['devs'] }, [BOB]: { username: 'bob', groups: ['sales'] } });
    const echo = await startEchoUpstream();
    cleanups.push(() => new Promise<void>((resolve) => echo.server.close(() => resolve())));
    const proxy = new UpstreamProxy({ upstream: new URL(echo.url), timeoutMs: 5000, logger: silentLogger, isTrustedProxy: () => false });
    cleanups.push(() => proxy.close());
    gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
    cleanups.push(() => gateway.close());
    client = new Agent({ keepAliveTimeout: 10 });
  });

  afterEach(async () => {
    const everything = JSON.stringify(await store.readAll());
    for (const secret of secrets) expect(everything, 'a token secret in an event').not.to.include(secret);
    await client.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function call(path: string, options: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpResult> {
    const headers = { ...options.headers, ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}) };
    const res = await send(client, gateway.url + path, {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const creation = res.status === 201 && typeof res.json.token === 'string';
    for (const secret of secrets) if (!creation) expect(res.text, `${path} echoes a token`).not.to.include(secret);
    if (creation) secrets.push(res.json.token as string);
    return res;
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const echoOf = (res: HttpResult): Echo => {
    expect(res.status, res.text).to.equal(200);
    return res.json as unknown as Echo;
  };

  async function decidedFor(res: HttpResult): Promise<DecisionEntry> {
    await runtime.audit.flush();
    const events = (await decisionEntries(store)).filter((e) => e.data.requestId === res.headers['x-request-id']);
    expect(events, 'one AccessDecided per request').to.have.length(1);
    return events[0]!;
  }

  const allowCreators = () => changeSettings(runtime, { tokens: { allowUserCreate: true }, groups: { tokenCreators: ['devs'] } });

  describe('self-service creation', () => {
    it('is refused 403 token_creation_not_allowed unless allowUserCreate is on and the caller is in groups.tokenCreators', async () => {
      const off = await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'laptop' } });
      expect(off.status, off.text).to.equal(403);
      expect(off.json.error).to.equal('token_creation_not_allowed');
      const event = await decidedFor(off);
      expect(event.data).to.include({ allow: false, status: 403, reason: 'token_creation_not_allowed', stage: 'self_service', path: TOKENS });
      expect(event.data.identity?.username).to.equal('alice');

      await changeSettings(runtime, { tokens: { allowUserCreate: true } });
      expect((await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'laptop' } })).status, 'not a creator yet').to.equal(403);
      await changeSettings(runtime, { groups: { tokenCreators: ['devs'] } });
      expect((await call(TOKENS, { method: 'POST', headers: bearer(BOB), body: { name: 'laptop' } })).status, 'bob is in sales').to.equal(403);
      const ok = await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'laptop', expiresInDays: 7, readOnly: true } });
      expect(ok.status, ok.text).to.equal(201);
      expect(ok.json).to.deep.include({ owner: 'alice', groups: ['devs'], kind: 'user', readOnly: true, createdBy: 'user:alice', state: 'expiring_soon' });
      const [issued] = await store.readStream(`token-${ok.json.id as string}`);
      expect(issued!.metadata).to.include({ actor: 'user:alice', sourceIp: '127.0.0.1' });
    });

    it('takes owner and groups from the identity: a body naming them is refused 400', async () => {
      await allowCreators();
      const res = await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'x', owner: 'bob', groups: ['admins'] } });
      expect(res.status).to.equal(400);
      expect((res.json.fields as { path: string }[]).map((f) => f.path)).to.have.members(['owner', 'groups']);
      const malformed = await send(client, `${gateway.url}${TOKENS}`, { method: 'POST', headers: { ...bearer(ALICE), 'content-type': 'application/json' }, body: '{"name":' });
      expect(malformed.status).to.equal(400);
    });

    it('needs a provider identity: none → 401, a gateway token → 403 provider_identity_required', async () => {
      await allowCreators();
      const anonymous = await call(TOKENS);
      expect(anonymous.status).to.equal(401);
      expect(anonymous.json.error).to.equal('missing_credential');
      expect(anonymous.headers['www-authenticate']).to.match(/^Bearer realm="portcullis"/);
      const { json } = await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'a' } });
      const withToken = await call(TOKENS, { method: 'POST', headers: bearer(json.token as string), body: { name: 'b' } });
      expect(withToken.status).to.equal(403);
      expect(withToken.json.error).to.equal('provider_identity_required');
      expect((await call(TOKENS, { headers: bearer(json.token as string) })).status).to.equal(403);
    });

    it('answers 405 for other methods and 404 under the prefix; other /_portcullis paths stay 404', async () => {
      expect((await call(TOKENS, { method: 'PUT', headers: bearer(ALICE) })).status).to.equal(405);
      expect((await call(`${TOKENS}/not-an-id`, { headers: bearer(ALICE) })).status).to.equal(404);
      expect((await call('/_portcullis/tokensx', { headers: bearer(ALICE) })).status).to.equal(404);
      expect((await call('/_portcullis/other', { headers: bearer(ALICE) })).status).to.equal(404);
    });
  });

  describe('a self-service token in use', () => {
    let token: string;
    let id: string;

    beforeEach(async () => {
      await allowCreators();
      const res = await call(TOKENS, { method: 'POST', headers: bearer(ALICE), body: { name: 'cli' } });
      expect(res.status, res.text).to.equal(201);
      token = res.json.token as string;
      id = res.json.id as string;
    });

    it('Bearer: the upstream sees the owner, groups, provider gateway and token id, and not the token', async () => {
      const echo = echoOf(await call('/rest/api/2/myself', { headers: bearer(token) }));
      expect(echo.headers).to.include({ 'x-portcullis-user': 'alice', 'x-portcullis-groups': 'devs', 'x-portcullis-provider': 'gateway', 'x-portcullis-token-id': id });
      expect(echo.headers).not.to.have.property('authorization');
    });

    it('Basic with the owner as user name passes; another user name → 401', async () => {
      const echo = echoOf(await call('/x', { headers: basic('alice', token) }));
      expect(echo.headers['x-portcullis-token-id']).to.equal(id);
      expect(echo.headers).not.to.have.property('authorization');
      const wrong = await call('/x', { headers: basic('bob', token) });
      expect(wrong.status).to.equal(401);
      expect(wrong.json.error).to.equal('token_owner_mismatch');
    });

    it('the API-key header carries it when configured, and is removed before the upstream; both credentials at once → 400', async () => {
      expect((await call('/x', { headers: { 'x-api-key': token } })).status, 'not configured: no credential').to.equal(401);
      await changeSettings(runtime, { credentials: { apiKeyHeader: 'X-Api-Key' } });
      const echo = echoOf(await call('/x', { headers: { 'X-Api-Key': token } }));
      expect(echo.headers['x-portcullis-token-id']).to.equal(id);
      expect(echo.headers).not.to.have.property('x-api-key');
      const both = await call('/x', { headers: { 'x-api-key': token, ...bearer(ALICE) } });
      expect(both.status).to.equal(400);
      expect(both.json.error).to.equal('invalid_request');
    });

    it('lists only the caller’s own tokens, with state and usage', async () => {
      await runtime.tokenCommands.issue({ owner: 'bob', name: 'not yours' }, { actor: 'admin' });
      for (let i = 0; i < 3; i++) echoOf(await call('/x', { headers: bearer(token) }));
      await runtime.audit.flush();
      const last = (await decisionEntries(store)).at(-1)!;
      await runtime.tokenUsage.waitFor(last.position);
      const list = await call(TOKENS, { headers: bearer(ALICE) });
      expect(list.status).to.equal(200);
      const tokens = list.json.tokens as Record<string, unknown>[];
      expect(tokens.map((t) => t.id)).to.deep.equal([id]);
      expect(tokens[0]).to.deep.include({ state: 'active', useCount: 3 });
      expect(tokens[0]!.lastUsedAt).to.be.a('string');
      expect(tokens[0]).not.to.have.property('token');
      expect((await call(`${TOKENS}?state=revoked`, { headers: bearer(ALICE) })).json.tokens).to.deep.equal([]);
    });

    it('revoking it at /_portcullis/tokens/{id} takes effect on the next request: 401 token_revoked', async () => {
      echoOf(await call('/x', { headers: bearer(token) }));
      expect((await call(`${TOKENS}/${id}`, { method: 'DELETE', headers: bearer(BOB) })).status, 'not bob’s').to.equal(404);
      const revoked = await call(`${TOKENS}/${id}?reason=done`, { method: 'DELETE', headers: bearer(ALICE) });
      expect(revoked.status, revoked.text).to.equal(204);
      const next = await call('/x', { headers: bearer(token) });
      expect(next.status).to.equal(401);
      expect(next.json.error).to.equal('token_revoked');
      expect(next.headers['www-authenticate']).to.include('error="invalid_token"');
      const event = await decidedFor(next);
      expect(event.data).to.include({ reason: 'token_revoked', stage: 'authenticate', credential: 'bearer' });
      const [, revokedEvent] = await store.readStream(`token-${id}`);
      expect(revokedEvent!.data).to.deep.equal({ id, by: 'user:alice', reason: 'done' });
    });

    it('an admin revocation counts from the next request too', async () => {
      echoOf(await call('/x', { headers: bearer(token) }));
      await runtime.tokenCommands.revoke(id, 'incident', { actor: 'admin' });
      expect((await call('/x', { headers: basic('alice', token) })).json.error).to.equal('token_revoked');
    });
  });

  describe('toggles at the edge', () => {
    it('Basic challenge: sent with 401s while Basic is accepted (tokens-only, allow), not when denied', async () => {
      const challenges = async () => (await call('/x')).headers['www-authenticate'];
      expect(await challenges()).to.equal('Bearer realm="portcullis", Basic realm="portcullis"');
      await changeSettings(runtime, { credentials: { basic: 'allow' } });
      expect(await challenges()).to.equal('Bearer realm="portcullis", Basic realm="portcullis"');
      await changeSettings(runtime, { credentials: { basic: 'deny' } });
      expect(await challenges()).to.equal('Bearer realm="portcullis"');
      const denied = await call('/x', { headers: basic('jira-user', 'pw') });
      expect(denied.status).to.equal(401);
      expect(denied.json.error).to.equal('basic_auth_disabled');
      expect(denied.headers['www-authenticate']).not.to.include('Basic realm');
    });

    it('basic: allow forwards the Basic header as received; tokens-only refuses it', async () => {
      const header = basic('jira-user', 'their-password');
      expect((await call('/x', { headers: header })).status).to.equal(401);
      await changeSettings(runtime, { credentials: { basic: 'allow' } });
      const res = await call('/x', { headers: header });
      const echo = echoOf(res);
      expect(echo.headers.authorization).to.equal(header.authorization);
      expect(echo.headers).not.to.have.property('x-portcullis-user');
      expect((await decidedFor(res)).data).to.include({ allow: true, reason: 'pass_through', credential: 'basic' });
    });

    it('pat: allowed PATs are forwarded as received; not allowed → 401 pat_not_allowed', async () => {
      const pat = 'NjE2MzQ1Nzg5MDEyOkFCQ0RFRkdISUpLTE1OT1BRUlNUVVZX';
      await changeSettings(runtime, { credentials: { pat: { allow: true, pattern: '[A-Za-z0-9+/]{44,48}' } } });
      expect(echoOf(await call('/x', { headers: bearer(pat) })).headers.authorization).to.equal(`Bearer ${pat}`);
      await changeSettings(runtime, { credentials: { pat: { allow: false } } });
      const refused = await call('/x', { headers: bearer(pat) });
      expect(refused.status).to.equal(401);
      expect(refused.json.error).to.equal('pat_not_allowed');
    });

    it('gatewayTokens: false refuses gateway tokens with 401 gateway_tokens_disabled', async () => {
      const { token } = await runtime.tokenCommands.issue({ owner: 'alice', name: 'x' }, { actor: 'admin' });
      secrets.push(token);
      echoOf(await call('/x', { headers: bearer(token) }));
      await changeSettings(runtime, { credentials: { gatewayTokens: false } });
      const off = await call('/x', { headers: bearer(token) });
      expect(off.status).to.equal(401);
      expect(off.json.error).to.equal('gateway_tokens_disabled');
    });
  });
});

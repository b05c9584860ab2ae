// The admin helpers: test token with the decision trace, userinfo attribute paths, fetch token (PKCE + state, client credentials), masked secrets.
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import nock from 'nock';
import { Agent } from 'undici';
import { z } from 'zod';
import { ManualClock } from '../../../core/clock.js';
import { UpstreamHttpError } from '../../../core/http.js';
import { silentLogger } from '../../../core/logger.js';
import type { ProviderPlugin } from '../../../core/provider.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { MASK, SecretBox } from '../../../core/secrets.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { ADMIN_TOKEN, FIXED_TIME, listen, send, type Listening } from '../fixtures.js';

const IDP = 'https://idp.example.test';

/** A kind with every optional capability: secrets, inspect (userinfo) and an OAuth client. */
const capable: ProviderPlugin<{ clientId: string; clientSecret: string; publicClient?: boolean }> = {
  kind: 'capable',
  description: 'test kind with helpers',
  configSchema: z.object({ clientId: z.string(), clientSecret: z.string(), publicClient: z.boolean().optional() }).strict(),
  secretFields: ['clientSecret'],
  create: (config, deps) => ({
    id: deps.id,
    kind: 'capable',
    status: () => ({ ready: true }),
    async authenticate(credential) {
      if (credential.secret === 'good-token') {
        return { outcome: 'identity', identity: { subject: 's-1', username: 'ann', groups: ['dev'], scopes: [], provider: deps.id } };
      }
      if (credential.secret === 'expired-token') return { outcome: 'failure', code: 'invalid_token', description: 'token expired' };
      return { outcome: 'not_responsible' };
    },
    async inspect(token) {
      if (token !== 'good-token') throw new UpstreamHttpError('http_status', 'GET userinfo: answered HTTP 401', { status: 401 });
      return { sub: 's-1', preferred_username: 'ann', profile: { email: 'ann@example.test', groups: ['dev', 'ops'], deep: { n: 1 } }, flag: true };
    },
    oauthClient: async () => ({
      authorizationEndpoint: `${IDP}/authorize`,
      tokenEndpoint: `${IDP}/token`,
      clientId: config.clientId,
      ...(config.publicClient ? {} : { clientSecret: config.clientSecret }),
      clientAuth: 'basic' as const,
      scope: 'openid profile',
    }),
  }),
};

describe('server/admin provider helpers', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let admin: Listening;
  const agent = new Agent({ keepAliveTimeout: 10 });
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = auth) =>
    send(agent, `${admin.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  beforeEach(async () => {
    store = new MemoryEventStore();
    runtime = await Runtime.start({
      store,
      plugins: { get: (k) => (k === 'capable' ? (capable as ProviderPlugin) : undefined), kinds: () => ['capable'] },
      fetch: globalThis.fetch,
      clock: new ManualClock(FIXED_TIME),
      logger: silentLogger,
      adminToken: ADMIN_TOKEN,
      secrets: SecretBox.fromEncodedKey(SecretBox.generateEncodedKey()),
    });
    admin = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
    const put = await call('PUT', '/api/v1/providers/cap', { kind: 'capable', config: { clientId: 'portcullis-app', clientSecret: 'very-secret-value' } });
    expect(put.status).to.equal(201);
  });
  afterEach(async () => {
    await admin.close();
    await runtime.close();
  });
  after(() => agent.close());

  it('masks secrets in every provider answer and keeps them when the mask is sent back', async () => {
    const got = await call('GET', '/api/v1/providers/cap');
    expect(got.json.config).to.deep.equal({ clientId: 'portcullis-app', clientSecret: MASK });
    const list = await call('GET', '/api/v1/providers');
    expect(list.text).to.not.include('very-secret-value');
    const again = await call('PUT', '/api/v1/providers/cap', { kind: 'capable', config: got.json.config });
    expect(again.status).to.equal(200);
    expect(again.json.revision, 'nothing changed, nothing appended').to.equal(1);
    expect(JSON.stringify(await store.readAll())).to.not.include('very-secret-value');
  });

  describe('test token', () => {
    it('shows the provider answer, the identity and the decision trace, without echoing the token', async () => {
      const res = await call('POST', '/api/v1/providers/cap/test', { scheme: 'Bearer', token: 'good-token' });
      expect(res.status).to.equal(200);
      expect(res.json.provider).to.equal('cap');
      expect(res.json.result).to.deep.include({ outcome: 'identity' });
      const decision = res.json.decision as { allow: boolean; reason: string; trace: { stage: string; detail?: string }[]; identity: { username: string } };
      expect(decision).to.include({ allow: true, reason: 'authenticated' });
      expect(decision.identity.username).to.equal('ann');
      expect(decision.trace.map((t) => t.stage)).to.deep.equal(['master_switch', 'paths', 'ip', 'authenticate', 'token_scopes', 'groups', 'read_only', 'routes', 'rate_limit']);
      expect(decision.trace.find((t) => t.stage === 'authenticate')?.detail).to.equal('provider=cap');
      expect(res.text).to.not.include('good-token');
      expect(await store.readAll({ streamPrefixes: ['access-'] }), 'a dry run is not traffic').to.have.length(0);
    });

    it('gives the exact reason a token fails', async () => {
      const res = await call('POST', '/api/v1/providers/cap/test', { token: 'expired-token' });
      expect(res.json.result).to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'token expired' });
      expect(res.json.decision).to.include({ allow: false, status: 401, reason: 'invalid_token', stage: 'authenticate', description: 'token expired' });
    });

    it('validates the body and refuses unknown or stopped providers', async () => {
      expect((await call('POST', '/api/v1/providers/cap/test', { scheme: 'Digest', token: 'x' })).json.error).to.equal('invalid_request');
      expect((await call('POST', '/api/v1/providers/cap/test', { scheme: 'Basic', token: 'x' })).json.fields).to.deep.equal([
        { path: 'username', message: 'required for Basic' },
      ]);
      expect((await call('POST', '/api/v1/providers/nope/test', { token: 'x' })).status).to.equal(404);
      await call('PUT', '/api/v1/providers/cap', { kind: 'capable', enabled: false, config: { clientId: 'portcullis-app', clientSecret: MASK } });
      const stopped = await call('POST', '/api/v1/providers/cap/test', { token: 'good-token' });
      expect(stopped.status).to.equal(409);
      expect(stopped.json.error).to.equal('provider_not_running');
    });
  });

  describe('userinfo', () => {
    it('returns the raw answer and every scalar attribute path', async () => {
      const res = await call('POST', '/api/v1/providers/cap/userinfo', { token: 'good-token' });
      expect(res.status).to.equal(200);
      expect((res.json.raw as { preferred_username: string }).preferred_username).to.equal('ann');
      expect(res.json.attributes).to.deep.equal([
        { path: 'sub', type: 'string', value: 's-1' },
        { path: 'preferred_username', type: 'string', value: 'ann' },
        { path: 'profile.email', type: 'string', value: 'ann@example.test' },
        { path: 'profile.groups', type: 'array', value: ['dev', 'ops'] },
        { path: 'profile.deep.n', type: 'number', value: 1 },
        { path: 'flag', type: 'boolean', value: true },
      ]);
    });

    it('answers 502 provider_error when the provider refuses the token', async () => {
      const res = await call('POST', '/api/v1/providers/cap/userinfo', { token: 'bad' });
      expect(res.status).to.equal(502);
      expect(res.json.error).to.equal('provider_error');
      expect(res.text).to.not.include('bad"');
    });
  });

  describe('fetch token', () => {
    it('runs the authorization-code flow with PKCE and a single-use state', async () => {
      const begin = await call('GET', '/api/v1/providers/cap/authorize');
      expect(begin.status).to.equal(200);
      const { authorizationUrl, redirectUri, state } = begin.json as { authorizationUrl: string; redirectUri: string; state: string };
      expect(redirectUri).to.equal(`${admin.url}/oauth/callback`);
      const url = new URL(authorizationUrl);
      expect(`${url.origin}${url.pathname}`).to.equal(`${IDP}/authorize`);
      expect(Object.fromEntries(url.searchParams)).to.include({
        response_type: 'code', client_id: 'portcullis-app', redirect_uri: redirectUri, state, code_challenge_method: 'S256', scope: 'openid profile',
      });
      const challenge = url.searchParams.get('code_challenge');

      let verifierOk = false;
      nock(IDP)
        .post('/token', (form: Record<string, string>) => {
          verifierOk = createHash('sha256').update(form.code_verifier ?? '').digest('base64url') === challenge;
          return form.grant_type === 'authorization_code' && form.code === 'the-code' && form.redirect_uri === redirectUri;
        })
        .basicAuth({ user: 'portcullis-app', pass: 'very-secret-value' })
        .reply(200, { access_token: 'at-123', token_type: 'Bearer', expires_in: 300, scope: 'openid profile', unexpected: 'x' });

      const cb = await send(agent, `${redirectUri}?code=the-code&state=${state}`, { headers: { accept: 'application/json' } });
      expect(cb.status).to.equal(200);
      expect(cb.json).to.deep.equal({ access_token: 'at-123', token_type: 'Bearer', expires_in: 300, scope: 'openid profile' });
      expect(cb.headers['cache-control']).to.equal('no-store');
      expect(verifierOk, 'the PKCE verifier matches the challenge').to.equal(true);

      const replay = await send(agent, `${redirectUri}?code=the-code&state=${state}`, { headers: { accept: 'application/json' } });
      expect(replay.status).to.equal(400);
      expect(replay.json.error).to.equal('invalid_state');
    });

    it('shows the token on an HTML page with the HTML escaped', async () => {
      const { state, redirectUri } = (await call('GET', '/api/v1/providers/cap/authorize')).json as { state: string; redirectUri: string };
      nock(IDP).post('/token').reply(200, { access_token: '<script>x</script>', token_type: 'Bearer' });
      const page = await send(agent, `${redirectUri}?code=c&state=${state}`, { headers: { accept: 'text/html' } });
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.match(/text\/html/);
      expect(page.headers['content-security-policy']).to.include("default-src 'none'");
      expect(page.text).to.include('&#60;script&#62;x&#60;/script&#62;');
      expect(page.text).to.not.include('<script>');
    });

    it('refuses unknown states, provider errors, and token endpoint failures', async () => {
      const unknown = await send(agent, `${admin.url}/oauth/callback?code=c&state=forged`, { headers: { accept: 'application/json' } });
      expect(unknown.status).to.equal(400);
      const { state } = (await call('GET', '/api/v1/providers/cap/authorize')).json as { state: string };
      const denied = await send(agent, `${admin.url}/oauth/callback?error=access_denied&state=${state}`, { headers: { accept: 'application/json' } });
      expect(denied.json).to.include({ error: 'authorization_failed' });
      const reused = await send(agent, `${admin.url}/oauth/callback?code=c&state=${state}`, { headers: { accept: 'application/json' } });
      expect(reused.json.error, 'an abandoned state cannot be used afterwards').to.equal('invalid_state');

      const second = (await call('GET', '/api/v1/providers/cap/authorize')).json as { state: string };
      nock(IDP).post('/token').reply(400, { error: 'invalid_grant' });
      const failed = await send(agent, `${admin.url}/oauth/callback?code=c&state=${second.state}`, { headers: { accept: 'application/json' } });
      expect(failed.status).to.equal(502);
      expect(failed.json.error).to.equal('provider_error');
    });

    it('fetches a token with client credentials', async () => {
      nock(IDP)
        .post('/token', { grant_type: 'client_credentials', scope: 'api.read' })
        .basicAuth({ user: 'portcullis-app', pass: 'very-secret-value' })
        .reply(200, { access_token: 'cc-token', token_type: 'Bearer', expires_in: 60 });
      const res = await call('POST', '/api/v1/providers/cap/token', { scope: 'api.read' });
      expect(res.status).to.equal(200);
      expect(res.json).to.deep.equal({ access_token: 'cc-token', token_type: 'Bearer', expires_in: 60 });
    });
  });
});

// Tests for the `okta` provider: JWKS validation, introspection through the identity cache, userinfo and OAuth client.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import type { Provider } from '../../core/provider.js';
import { validateWith } from '../../core/validate.js';
import oktaPlugin, { createOktaProvider, oktaConfigSchema } from '../../providers/okta/index.js';
import {
  bearer, expectFailure, expectNotResponsible, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const ORIGIN = 'https://dev-123456.okta.com';
const ISSUER = `${ORIGIN}/oauth2/default`;
const AUDIENCE = 'api://default';

describe('providers/okta', () => {
  let key: TestKey;
  let clock: ManualClock;
  const open: Provider[] = [];

  before(async () => {
    key = await makeKey('okta-1');
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close?.()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  /** Shaped like an Okta access token of the default authorization server. */
  const accessToken = (extra: JWTPayload = {}) => signWith(key, clock, {
    ver: 1, jti: 'AT.2vX', iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 3600, cid: '0oa1cli', uid: '00u1usr',
    scp: ['openid', 'email'], auth_time: now(), sub: 'alice@example.com', groups: ['Everyone', 'Engineering'], ...extra,
  }, { typ: undefined });
  /** Okta's introspection answer for an active access token. */
  const active = (extra: Record<string, unknown> = {}) => ({
    active: true, scope: 'openid email', username: 'alice@example.com', exp: now() + 3600, iat: now(), sub: 'alice@example.com',
    aud: AUDIENCE, iss: ISSUER, jti: 'AT.2vX', token_type: 'Bearer', client_id: '0oa1cli', uid: '00u1usr', ...extra,
  });

  async function build(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serveKeys = true) {
    const config = oktaConfigSchema.parse({ domain: 'dev-123456.okta.com', audience: AUDIENCE, ...overrides });
    if (serveKeys && config.validation === 'jwt') nock(ORIGIN).get('/oauth2/default/v1/keys').reply(200, jwks(key));
    const deps = makeDeps(clock);
    const provider = createOktaProvider(config, deps, { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start?.(new AbortController().signal);
    return { provider, cache: deps.cache };
  }
  const introspecting = (overrides: Record<string, unknown> = {}, limits: FetchLimits = {}) =>
    build({ validation: 'introspection', clientId: '0oa-gw', clientSecret: 'gw-secret', ...overrides }, limits);
  const introspection = () => nock(ORIGIN).post('/oauth2/default/v1/introspect', (body) => body.token_type_hint === 'access_token');

  describe('configuration', () => {
    it('defaults to JWT validation on the default server and needs a client for introspection', async () => {
      expect(oktaConfigSchema.parse({ domain: 'dev-1.okta.com', audience: AUDIENCE })).to.deep.include({
        authorizationServerId: 'default', validation: 'jwt', usernameClaim: 'preferred_username', groupsClaim: 'groups',
      });
      expect(issuePaths(await validateWith(oktaConfigSchema, { domain: 'dev-1.okta.com', audience: AUDIENCE, validation: 'introspection' }))).to.deep.equal(['clientSecret']);
      expect(issuePaths(await validateWith(oktaConfigSchema, { domain: 'https://dev-1.okta.com/', audience: [] }))).to.have.members(['domain', 'audience']);
      expect(oktaPlugin.secretFields).to.deep.equal(['clientSecret']);
    });
  });

  describe('JWT validation', () => {
    it('maps an access token (username falls back to sub, the Okta login)', async () => {
      const { provider } = await build();
      expect(provider.issuers).to.deep.equal([ISSUER]);
      expect(identityOf(await provider.authenticate(bearer(await accessToken())))).to.deep.equal({
        subject: 'alice@example.com', username: 'alice@example.com', groups: ['Everyone', 'Engineering'], provider: 'corp',
        tokenId: 'AT.2vX', scopes: ['openid', 'email'], expiresAt: (now() + 3600) * 1000,
        claims: { iss: ISSUER, aud: AUDIENCE, sub: 'alice@example.com', cid: '0oa1cli', uid: '00u1usr' },
      });
    });

    it('refuses expired tokens, other audiences and other client apps', async () => {
      const { provider } = await build({ clientIds: ['0oa1cli'] });
      expectFailure(await provider.authenticate(bearer(await accessToken({ exp: now() - 61 }))), 'invalid_token', 'token expired');
      expectFailure(await provider.authenticate(bearer(await accessToken({ aud: 'api://other' }))), 'invalid_token', 'audience not accepted');
      expectFailure(await provider.authenticate(bearer(await accessToken({ cid: '0oa-other' }))), 'invalid_token', 'client not accepted');
      expectNotResponsible(await provider.authenticate(bearer(await accessToken({ iss: `${ORIGIN}/oauth2/aus-other` }))));
    });

    for (const [what, serve, limits, code] of outages(() => nock(ORIGIN).get('/oauth2/default/v1/keys'), () => jwks(key))) {
      it(`answers provider_unavailable when the keys come with ${what}`, async () => {
        serve();
        const { provider } = await build({}, limits, false);
        expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
        expectFailure(await provider.authenticate(bearer(await accessToken())), 'provider_unavailable', 'signing keys unavailable');
      });
    }
  });

  describe('introspection', () => {
    it('asks Okta with the client credentials and maps the answer', async () => {
      const { provider } = await introspecting();
      expect(provider.status()).to.deep.equal({ ready: true });
      const auth = `Basic ${Buffer.from('0oa-gw:gw-secret').toString('base64')}`;
      nock(ORIGIN, { reqheaders: { authorization: auth } }).post('/oauth2/default/v1/introspect').reply(200, active());
      expect(identityOf(await provider.authenticate(bearer(await accessToken())))).to.deep.equal({
        subject: 'alice@example.com', username: 'alice@example.com', groups: [], provider: 'corp', tokenId: 'AT.2vX',
        scopes: ['openid', 'email'], expiresAt: (now() + 3600) * 1000,
        claims: { iss: ISSUER, aud: AUDIENCE, client_id: '0oa1cli', sub: 'alice@example.com', uid: '00u1usr' },
      });
    });

    it('refuses inactive tokens, other audiences and other clients', async () => {
      const { provider } = await introspecting({ clientIds: ['0oa1cli'] });
      const cases: [object, string][] = [
        [{ active: false }, 'token not active'],
        [active({ aud: 'api://other' }), 'audience not accepted'],
        [active({ client_id: '0oa-other' }), 'client not accepted'],
      ];
      for (const [answer, description] of cases) {
        introspection().reply(200, answer);
        expectFailure(await provider.authenticate(bearer(await accessToken({ jti: description }))), 'invalid_token', description);
      }
    });

    const failures: [string, () => void, FetchLimits][] = [
      ['a 500', () => introspection().reply(500, { errorCode: 'E0000009' }), {}],
      ['an answer slower than the timeout', () => introspection().delay(300).reply(200, active()), { timeoutMs: 50 }],
      ['malformed JSON', () => introspection().reply(200, '{"active":', { 'content-type': 'application/json' }), {}],
      ['an oversized body', () => introspection().reply(200, { ...active(), pad: 'x'.repeat(8_192) }), { maxBytes: 4_096 }],
    ];
    for (const [what, serve, limits] of failures) {
      it(`answers provider_unavailable after ${what}`, async () => {
        serve();
        const { provider } = await introspecting({}, limits);
        expectFailure(await provider.authenticate(bearer(await accessToken())), 'provider_unavailable', 'the identity provider cannot be reached');
      });
    }

    it('serves a repeated token from the cache, and drops it once Okta refuses it after the TTL', async () => {
      const { provider, cache } = await introspecting();
      introspection().once().reply(200, active());
      const token = await accessToken();
      identityOf(await provider.authenticate(bearer(token)));
      identityOf(await provider.authenticate(bearer(token)));
      expect([cache.hits, cache.misses]).to.deep.equal([1, 1]);
      introspection().once().reply(200, { active: false });
      clock.advance(61_000);
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'token not active');
    });

    it('makes one call for concurrent identical tokens', async () => {
      const { provider } = await introspecting();
      let calls = 0;
      introspection().delay(50).reply(() => {
        calls += 1;
        return [200, active()];
      });
      const token = await accessToken();
      const results = await Promise.all(Array.from({ length: 5 }, () => provider.authenticate(bearer(token))));
      expect(results.map((r) => r.outcome)).to.deep.equal(Array(5).fill('identity'));
      expect(calls).to.equal(1);
    });

    it('leaves opaque tokens and other issuers to other providers', async () => {
      const { provider } = await introspecting();
      expectNotResponsible(await provider.authenticate(bearer('00Ab-opaque-refresh')));
      expectNotResponsible(await provider.authenticate(bearer(await accessToken({ iss: 'https://other.okta.com/oauth2/default' }))));
    });
  });

  it('inspects at userinfo and offers the server endpoints as OAuth client', async () => {
    const { provider } = await build({ clientId: '0oa-gw', clientSecret: 'gw-secret', authorizationServerId: 'default' });
    const answer = { sub: '00u1usr', name: 'Alice', preferred_username: 'alice@example.com', groups: ['Everyone'] };
    nock(ORIGIN, { reqheaders: { authorization: 'Bearer at' } }).get('/oauth2/default/v1/userinfo').reply(200, answer);
    expect(await provider.inspect!('at')).to.deep.equal(answer);
    expect(await provider.oauthClient!()).to.deep.equal({
      authorizationEndpoint: `${ISSUER}/v1/authorize`, tokenEndpoint: `${ISSUER}/v1/token`, clientId: '0oa-gw',
      clientSecret: 'gw-secret', clientAuth: 'basic', scope: 'openid profile email',
    });
  });
});

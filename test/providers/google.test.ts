// Tests for the `google` provider: ID tokens by JWKS, access tokens by tokeninfo (POST), client binding, hosted domain, cache.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import { validateWith } from '../../core/validate.js';
import googlePlugin, { createGoogleProvider, googleConfigSchema } from '../../providers/google/index.js';
import type { JwksProvider } from '../../providers/sdk/index.js';
import {
  bearer, expectFailure, expectNotResponsible, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const CLIENT = '1234567890-abc.apps.googleusercontent.com';
const OTHER = '999-evil.apps.googleusercontent.com';
const ACCESS = 'ya29.a0AfB_byC-example-access-token';

describe('providers/google', () => {
  let key: TestKey;
  let clock: ManualClock;
  const open: JwksProvider[] = [];

  before(async () => {
    key = await makeKey('g-1');
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  const idToken = (extra: JWTPayload = {}) => signWith(key, clock, {
    iss: 'https://accounts.google.com', azp: CLIENT, aud: CLIENT, sub: '110169484474386276334', hd: 'example.com',
    email: 'alice@example.com', email_verified: true, at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', name: 'Alice', iat: now(), exp: now() + 3600, ...extra,
  });
  /** Google's tokeninfo answer for an access token (numbers as strings, as Google sends them). */
  const info = (extra: Record<string, unknown> = {}) => ({
    azp: CLIENT, aud: CLIENT, sub: '110169484474386276334', scope: 'openid https://www.googleapis.com/auth/userinfo.email',
    exp: String(now() + 3599), expires_in: '3599', email: 'alice@example.com', email_verified: 'true', access_type: 'online', ...extra,
  });
  const tokeninfo = () => nock('https://oauth2.googleapis.com').post('/tokeninfo', (body) => String(body.access_token).startsWith(ACCESS));

  async function started(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serveKeys = true) {
    if (serveKeys) nock('https://www.googleapis.com').get('/oauth2/v3/certs').reply(200, jwks(key));
    const deps = makeDeps(clock);
    const provider = createGoogleProvider(googleConfigSchema.parse({ clientId: CLIENT, ...overrides }), deps, { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start();
    return Object.assign(provider, { cache: deps.cache });
  }

  it('needs a client id and lists the client secret as secret', async () => {
    expect(issuePaths(await validateWith(googleConfigSchema, {}))).to.deep.equal(['clientId']);
    expect(googleConfigSchema.parse({ clientId: CLIENT })).to.deep.include({ usernameClaim: 'email', accessTokens: true });
    expect(googlePlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  describe('ID tokens', () => {
    it('verifies either issuer spelling and maps the verified email', async () => {
      const provider = await started({ hostedDomain: 'example.com' });
      expect(provider.issuers).to.deep.equal(['https://accounts.google.com', 'accounts.google.com']);
      const identity = identityOf(await provider.authenticate(bearer(await idToken({ iss: 'accounts.google.com' }))));
      expect(identity).to.deep.include({ subject: '110169484474386276334', username: 'alice@example.com', email: 'alice@example.com', groups: [] });
      expect(identity.claims).to.deep.equal({ iss: 'accounts.google.com', aud: CLIENT, azp: CLIENT, sub: '110169484474386276334', hd: 'example.com' });
    });

    it('does not use an unverified email as username', async () => {
      const provider = await started();
      const identity = identityOf(await provider.authenticate(bearer(await idToken({ email_verified: false }))));
      expect([identity.username, identity.email]).to.deep.equal(['110169484474386276334', undefined]);
    });

    it('refuses tokens for another client, another Workspace domain, and expired tokens', async () => {
      const provider = await started({ hostedDomain: ['example.com', 'example.org'] });
      expectFailure(await provider.authenticate(bearer(await idToken({ aud: OTHER }))), 'invalid_token', 'audience not accepted');
      expectFailure(await provider.authenticate(bearer(await idToken({ hd: 'evil.com' }))), 'invalid_token', 'hosted domain not accepted');
      expectFailure(await provider.authenticate(bearer(await idToken({ hd: undefined, email: 'x@gmail.com' }))), 'invalid_token', 'hosted domain not accepted');
      expectFailure(await provider.authenticate(bearer(await idToken({ exp: now() - 61 }))), 'invalid_token', 'token expired');
    });

    for (const [what, serve, limits, code] of outages(() => nock('https://www.googleapis.com').get('/oauth2/v3/certs'), () => jwks(key))) {
      it(`answers provider_unavailable when the certs come with ${what}`, async () => {
        serve();
        const provider = await started({}, limits, false);
        expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
        expectFailure(await provider.authenticate(bearer(await idToken())), 'provider_unavailable', 'signing keys unavailable');
      });
    }
  });

  describe('access tokens', () => {
    it('checks ya29 tokens at tokeninfo by POST and maps the answer', async () => {
      const provider = await started();
      tokeninfo().reply(200, info());
      expect(identityOf(await provider.authenticate(bearer(ACCESS)))).to.deep.equal({
        subject: '110169484474386276334', username: 'alice@example.com', email: 'alice@example.com', groups: [], provider: 'corp',
        scopes: ['openid', 'https://www.googleapis.com/auth/userinfo.email'], expiresAt: (now() + 3599) * 1000,
        claims: { aud: CLIENT, azp: CLIENT, sub: '110169484474386276334' },
      });
    });

    it('refuses a token issued to another client and tokens Google does not know', async () => {
      const provider = await started();
      tokeninfo().reply(200, info({ aud: OTHER, azp: OTHER }));
      expectFailure(await provider.authenticate(bearer(ACCESS)), 'invalid_token', 'audience not accepted');
      nock('https://oauth2.googleapis.com').post('/tokeninfo').reply(400, { error: 'invalid_token', error_description: 'Invalid Value' });
      expectFailure(await provider.authenticate(bearer(`${ACCESS}-revoked`)), 'invalid_token', 'token not accepted by the identity provider');
    });

    it('asks userinfo for the Workspace domain when hostedDomain is set', async () => {
      const provider = await started({ hostedDomain: 'example.com' });
      tokeninfo().twice().reply(200, info());
      nock('https://openidconnect.googleapis.com', { reqheaders: { authorization: `Bearer ${ACCESS}` } }).get('/v1/userinfo').reply(200, { sub: '1', hd: 'example.com' });
      expect(identityOf(await provider.authenticate(bearer(ACCESS))).claims).to.deep.include({ hd: 'example.com' });
      nock('https://openidconnect.googleapis.com').get('/v1/userinfo').reply(200, { sub: '1', email: 'x@gmail.com' });
      expectFailure(await provider.authenticate(bearer(`${ACCESS}x`)), 'invalid_token', 'hosted domain not accepted');
    });

    const failures: [string, () => void, FetchLimits][] = [
      ['a 503', () => tokeninfo().reply(503, 'Service Unavailable'), {}],
      ['an answer slower than the timeout', () => tokeninfo().delay(300).reply(200, info()), { timeoutMs: 50 }],
      ['malformed JSON', () => tokeninfo().reply(200, '{"azp":', { 'content-type': 'application/json; charset=UTF-8' }), {}],
      ['an oversized body', () => tokeninfo().reply(200, { ...info(), pad: 'x'.repeat(8_192) }), { maxBytes: 4_096 }],
    ];
    for (const [what, serve, limits] of failures) {
      it(`answers provider_unavailable after ${what}`, async () => {
        const provider = await started({}, limits);
        serve();
        expectFailure(await provider.authenticate(bearer(ACCESS)), 'provider_unavailable', 'the identity provider cannot be reached');
      });
    }

    it('caches an answer, then refuses the token once Google revokes it after the TTL', async () => {
      const provider = await started();
      tokeninfo().once().reply(200, info());
      identityOf(await provider.authenticate(bearer(ACCESS)));
      identityOf(await provider.authenticate(bearer(ACCESS)));
      expect(provider.cache.hits).to.equal(1);
      clock.advance(61_000);
      tokeninfo().once().reply(400, { error: 'invalid_token', error_description: 'Token has been expired or revoked.' });
      expectFailure(await provider.authenticate(bearer(ACCESS)), 'invalid_token', 'token not accepted by the identity provider');
    });

    it('makes one tokeninfo call for concurrent identical tokens', async () => {
      const provider = await started();
      let calls = 0;
      tokeninfo().delay(50).reply(() => {
        calls += 1;
        return [200, info()];
      });
      const results = await Promise.all(Array.from({ length: 5 }, () => provider.authenticate(bearer(ACCESS))));
      expect(results.map((r) => r.outcome)).to.deep.equal(Array(5).fill('identity'));
      expect(calls).to.equal(1);
    });

    it('leaves other opaque tokens alone, and ya29 tokens too when access tokens are off', async () => {
      expectNotResponsible(await (await started()).authenticate(bearer('gho_16C7e42F292c6912E7710c838347Ae178B4a')));
      expectNotResponsible(await (await started({ accessTokens: false })).authenticate(bearer(ACCESS)));
    });
  });

  it('inspects through tokeninfo and offers Google endpoints', async () => {
    const provider = await started({ clientSecret: 'GOCSPX-x' });
    tokeninfo().reply(200, info());
    expect(await provider.inspect!(ACCESS)).to.deep.equal(info());
    expect(await provider.oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth', tokenEndpoint: 'https://oauth2.googleapis.com/token',
      clientId: CLIENT, clientSecret: 'GOCSPX-x', clientAuth: 'basic', scope: 'openid email profile',
    });
  });
});

// Tests for the `cognito` provider: pool issuer and JWKS, token_use, client_id/aud binding, per-use usernames, hosted UI.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import { validateWith } from '../../core/validate.js';
import cognitoPlugin, { cognitoConfigSchema, createCognitoProvider } from '../../providers/cognito/index.js';
import type { JwksProvider } from '../../providers/sdk/index.js';
import {
  bearer, expectFailure, expectNotResponsible, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const REGION = 'eu-west-1';
const POOL = 'eu-west-1_AbC123xyz';
const ORIGIN = `https://cognito-idp.${REGION}.amazonaws.com`;
const ISSUER = `${ORIGIN}/${POOL}`;
const JWKS_PATH = `/${POOL}/.well-known/jwks.json`;
const CLIENT = '1h57kf5cpq17m0eml12example';

describe('providers/cognito', () => {
  let key: TestKey;
  let clock: ManualClock;
  const open: JwksProvider[] = [];

  before(async () => {
    key = await makeKey('cog-1');
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  /** Shaped like a real Cognito access token (no `aud`, `client_id` instead). */
  const accessToken = (extra: JWTPayload = {}) => signWith(key, clock, {
    sub: 'aaaa-bbbb', 'cognito:groups': ['admins', 'dev'], iss: ISSUER, version: 2, client_id: CLIENT,
    origin_jti: 'o-1', event_id: 'e-1', token_use: 'access', scope: 'openid email', auth_time: now(), exp: now() + 3600,
    iat: now(), jti: 'j-1', username: 'alice', ...extra,
  }, { typ: undefined });
  const idToken = (extra: JWTPayload = {}) => signWith(key, clock, {
    sub: 'aaaa-bbbb', 'cognito:groups': ['admins'], email_verified: true, iss: ISSUER, 'cognito:username': 'alice.id',
    origin_jti: 'o-1', aud: CLIENT, event_id: 'e-1', token_use: 'id', auth_time: now(), exp: now() + 3600, iat: now(),
    jti: 'j-2', email: 'alice@example.com', ...extra,
  }, { typ: undefined });

  async function started(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serveKeys = true) {
    if (serveKeys) nock(ORIGIN).get(JWKS_PATH).reply(200, jwks(key));
    const config = cognitoConfigSchema.parse({ region: REGION, userPoolId: POOL, clientId: CLIENT, ...overrides });
    const provider = createCognitoProvider(config, makeDeps(clock), { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start();
    return provider;
  }

  it('validates region, pool id and client id', async () => {
    expect(issuePaths(await validateWith(cognitoConfigSchema, { region: 'eu-west-1', userPoolId: 'us-east-1_Abc', clientId: CLIENT }))).to.deep.equal(['userPoolId']);
    expect(issuePaths(await validateWith(cognitoConfigSchema, { region: 'Europe', userPoolId: 'x', clientId: 'a b', tokenUse: ['refresh'] })))
      .to.have.members(['region', 'userPoolId', 'clientId', 'tokenUse[0]']);
    expect(cognitoPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps an access token: username, cognito:groups, scopes, routed by the pool issuer', async () => {
    const provider = await started();
    expect(provider.issuers).to.deep.equal([ISSUER]);
    expect(identityOf(await provider.authenticate(bearer(await accessToken())))).to.deep.equal({
      subject: 'aaaa-bbbb', username: 'alice', groups: ['admins', 'dev'], provider: 'corp', tokenId: 'j-1', scopes: ['openid', 'email'],
      expiresAt: (now() + 3600) * 1000, claims: { iss: ISSUER, client_id: CLIENT, sub: 'aaaa-bbbb', token_use: 'access' },
    });
  });

  it('refuses ID tokens unless accepted, then maps cognito:username and email', async () => {
    const accessOnly = await started();
    expectFailure(await accessOnly.authenticate(bearer(await idToken())), 'invalid_token', 'token use not accepted');
    const both = await started({ tokenUse: ['access', 'id'] });
    const identity = identityOf(await both.authenticate(bearer(await idToken())));
    expect([identity.username, identity.email, identity.groups]).to.deep.equal(['alice.id', 'alice@example.com', ['admins']]);
  });

  it('refuses tokens of another app client, expired tokens and tokens without token_use', async () => {
    const provider = await started({ tokenUse: ['access', 'id'] });
    expectFailure(await provider.authenticate(bearer(await accessToken({ client_id: 'another-client' }))), 'invalid_token', 'client not accepted');
    expectFailure(await provider.authenticate(bearer(await idToken({ aud: 'another-client' }))), 'invalid_token', 'audience not accepted');
    expectFailure(await provider.authenticate(bearer(await accessToken({ exp: now() - 120 }))), 'invalid_token', 'token expired');
    expectFailure(await provider.authenticate(bearer(await accessToken({ token_use: undefined }))), 'invalid_token', 'token has no token_use claim');
    expectNotResponsible(await provider.authenticate(bearer(await accessToken({ iss: `${ORIGIN}/eu-west-1_Other` }))));
  });

  for (const [what, serve, limits, code] of outages(() => nock(ORIGIN).get(JWKS_PATH), () => jwks(key))) {
    it(`answers provider_unavailable when the pool keys come with ${what}`, async () => {
      serve();
      const provider = await started({}, limits, false);
      expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
      expectFailure(await provider.authenticate(bearer(await accessToken())), 'provider_unavailable', 'signing keys unavailable');
    });
  }

  it('uses the hosted UI domain for userinfo and the OAuth client, and has neither without it', async () => {
    const bare = await started();
    expect([bare.inspect, bare.oauthClient]).to.deep.equal([undefined, undefined]);
    const provider = await started({ domain: 'auth.example.com', clientSecret: 'cs' });
    const answer = { sub: 'aaaa-bbbb', email_verified: 'true', email: 'alice@example.com', username: 'alice' };
    nock('https://auth.example.com', { reqheaders: { authorization: 'Bearer at-1' } }).get('/oauth2/userInfo').reply(200, answer);
    expect(await provider.inspect!('at-1')).to.deep.equal(answer);
    expect(await provider.oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://auth.example.com/oauth2/authorize', tokenEndpoint: 'https://auth.example.com/oauth2/token',
      clientId: CLIENT, clientSecret: 'cs', clientAuth: 'basic', scope: 'openid email profile',
    });
  });
});

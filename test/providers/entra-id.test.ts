// Tests for the `entra-id` provider: v1/v2 tokens for our app by tenant JWKS, Graph tokens by Graph /me with the cache.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import { validateWith } from '../../core/validate.js';
import entraIdPlugin, { createEntraIdProvider, entraIdConfigSchema } from '../../providers/entra-id/index.js';
import type { JwksProvider } from '../../providers/sdk/index.js';
import {
  bearer, expectFailure, expectNotResponsible, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP = '6e74172b-be56-4843-9ff4-e66a39bb12e3';
const OTHER_APP = 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c';
const V1 = `https://sts.windows.net/${TID}/`;
const V2 = `https://login.microsoftonline.com/${TID}/v2.0`;
const LOGIN = 'https://login.microsoftonline.com';
const KEYS = `/${TID}/discovery/v2.0/keys`;
const GRAPH = 'https://graph.microsoft.com';

describe('providers/entra-id', () => {
  let key: TestKey;
  let microsoftOnly: TestKey;
  let clock: ManualClock;
  const open: JwksProvider[] = [];

  before(async () => {
    [key, microsoftOnly] = await Promise.all([makeKey('nOo3ZDrODXEK1jKWhXslHR_KXEg'), makeKey('graph-key')]);
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  /** A v2 access token for our API, as Entra issues it. */
  const v2Token = (extra: JWTPayload = {}) => signWith(key, clock, {
    aud: APP, iss: V2, iat: now(), nbf: now(), exp: now() + 3900, aio: 'AWQAm/8', azp: OTHER_APP, azpacr: '0', name: 'Alice',
    oid: '00000000-0000-0000-66f3-3332eca7ea81', preferred_username: 'alice@contoso.com', rh: '0.AX', scp: 'access_as_user',
    sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', tid: TID, uti: 'fqiBqXLPj0eQa82S-IYFAA', ver: '2.0',
    groups: ['a1b2c3d4-0000-0000-0000-000000000001'], roles: ['Reader'], ...extra,
  });
  /** A v1 token: app ID URI audience, upn/unique_name instead of preferred_username. */
  const v1Token = (extra: JWTPayload = {}) => signWith(key, clock, {
    aud: `api://${APP}`, iss: V1, iat: now(), nbf: now(), exp: now() + 3900, appid: OTHER_APP, appidacr: '1',
    oid: '00000000-0000-0000-66f3-3332eca7ea81', sub: 'v1-sub', tid: TID, unique_name: 'alice@contoso.com', upn: 'alice@contoso.com',
    ver: '1.0', scp: 'access_as_user', roles: ['Writer'], ...extra,
  });
  /** A Graph token for our app: signed with a key nobody outside Microsoft can use, and with a `nonce` header. */
  const graphToken = (extra: JWTPayload = {}) => signWith(microsoftOnly, clock, {
    aud: '00000003-0000-0000-c000-000000000000', iss: V1, iat: now(), nbf: now(), exp: now() + 3900, app_displayname: 'Portcullis',
    appid: APP, appidacr: '1', idtyp: 'user', oid: '00000000-0000-0000-66f3-3332eca7ea81', scp: 'User.Read openid profile email',
    sub: 'graph-sub', tid: TID, unique_name: 'alice@contoso.com', upn: 'alice@contoso.com', ver: '1.0', ...extra,
  }, { nonce: 'x5kTHmN0' } as never);
  const me = { '@odata.context': `${GRAPH}/v1.0/$metadata#users/$entity`, businessPhones: [], displayName: 'Alice Example', givenName: 'Alice',
    jobTitle: null, mail: 'alice@contoso.com', mobilePhone: null, officeLocation: null, preferredLanguage: 'en-US', surname: 'Example',
    userPrincipalName: 'alice@contoso.com', id: '00000000-0000-0000-66f3-3332eca7ea81' };

  async function started(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serveKeys = true) {
    if (serveKeys) nock(LOGIN).get(KEYS).reply(200, jwks(key));
    const deps = makeDeps(clock);
    const provider = createEntraIdProvider(entraIdConfigSchema.parse({ tenantId: TID, clientId: APP, ...overrides }), deps, { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start();
    return Object.assign(provider, { cache: deps.cache });
  }

  it('needs GUIDs for tenant and client', async () => {
    expect(issuePaths(await validateWith(entraIdConfigSchema, { tenantId: 'contoso.onmicrosoft.com', clientId: 'app' }))).to.have.members(['tenantId', 'clientId']);
    expect(entraIdPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  describe('tokens for our app', () => {
    it('routes by both issuers and maps v2 and v1 tokens with groups and roles', async () => {
      const provider = await started();
      expect(provider.issuers).to.deep.equal([V1, V2]);
      const v2 = identityOf(await provider.authenticate(bearer(await v2Token())));
      expect(v2).to.deep.include({ username: 'alice@contoso.com', groups: ['a1b2c3d4-0000-0000-0000-000000000001', 'Reader'], scopes: ['access_as_user'] });
      expect(v2.claims).to.deep.equal({ iss: V2, aud: APP, azp: OTHER_APP, sub: 'AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ', tid: TID, ver: '2.0' });
      const v1 = identityOf(await provider.authenticate(bearer(await v1Token())));
      expect(v1).to.deep.include({ subject: 'v1-sub', username: 'alice@contoso.com', email: 'alice@contoso.com', groups: ['Writer'] });
    });

    it('refuses tokens for another app, another tenant, expired ones and foreign signatures', async () => {
      const provider = await started();
      expectFailure(await provider.authenticate(bearer(await v2Token({ aud: OTHER_APP }))), 'invalid_token', 'audience not accepted');
      expectFailure(await provider.authenticate(bearer(await v2Token({ tid: '11111111-1111-1111-1111-111111111111' }))), 'invalid_token', 'tenant not accepted');
      expectFailure(await provider.authenticate(bearer(await v2Token({ exp: now() - 61 }))), 'invalid_token', 'token expired');
      expectFailure(await provider.authenticate(bearer(await signWith(microsoftOnly, clock, { iss: V2, aud: APP, sub: 's', tid: TID, exp: now() + 60 }))), 'invalid_token', 'signing key not found');
      expectNotResponsible(await provider.authenticate(bearer(await v2Token({ iss: `${LOGIN}/common/v2.0` }))));
    });

    for (const [what, serve, limits, code] of outages(() => nock(LOGIN).get(KEYS), () => jwks(key))) {
      it(`answers provider_unavailable when the tenant keys come with ${what}`, async () => {
        serve();
        const provider = await started({}, limits, false);
        expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
        expectFailure(await provider.authenticate(bearer(await v2Token())), 'provider_unavailable', 'signing keys unavailable');
      });
    }
  });

  describe('Microsoft Graph tokens', () => {
    it('are refused unless acceptGraphTokens is on', async () => {
      const provider = await started();
      expectFailure(await provider.authenticate(bearer(await graphToken())), 'invalid_token', 'audience not accepted');
    });

    it('are validated by Graph /me and mapped from the token and the answer', async () => {
      const provider = await started({ acceptGraphTokens: true });
      const token = await graphToken();
      nock(GRAPH, { reqheaders: { authorization: `Bearer ${token}` } }).get('/v1.0/me').reply(200, me);
      expect(identityOf(await provider.authenticate(bearer(token)))).to.deep.include({
        subject: 'graph-sub', username: 'alice@contoso.com', email: 'alice@contoso.com', scopes: ['User.Read', 'openid', 'profile', 'email'],
        expiresAt: (now() + 3900) * 1000,
      });
    });

    it('refuses Graph tokens of another app or tenant without asking Graph, and those Graph refuses', async () => {
      const provider = await started({ acceptGraphTokens: true });
      expectFailure(await provider.authenticate(bearer(await graphToken({ appid: OTHER_APP }))), 'invalid_token', 'client not accepted');
      expectFailure(await provider.authenticate(bearer(await graphToken({ tid: '11111111-1111-1111-1111-111111111111' }))), 'invalid_token', 'tenant not accepted');
      nock(GRAPH).get('/v1.0/me').reply(401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } });
      expectFailure(await provider.authenticate(bearer(await graphToken({ uti: 'revoked' }))), 'invalid_token', 'token not accepted by the identity provider');
    });

    const failures: [string, () => void, FetchLimits][] = [
      ['a 503', () => nock(GRAPH).get('/v1.0/me').reply(503, { error: { code: 'serviceNotAvailable' } }), {}],
      ['an answer slower than the timeout', () => nock(GRAPH).get('/v1.0/me').delay(300).reply(200, me), { timeoutMs: 50 }],
      ['malformed JSON', () => nock(GRAPH).get('/v1.0/me').reply(200, '{"id":', { 'content-type': 'application/json;odata.metadata=minimal' }), {}],
      ['an oversized body', () => nock(GRAPH).get('/v1.0/me').reply(200, { ...me, pad: 'x'.repeat(8_192) }), { maxBytes: 4_096 }],
    ];
    for (const [what, serve, limits] of failures) {
      it(`answer provider_unavailable after ${what}`, async () => {
        const provider = await started({ acceptGraphTokens: true }, limits);
        serve();
        expectFailure(await provider.authenticate(bearer(await graphToken())), 'provider_unavailable', 'the identity provider cannot be reached');
      });
    }

    it('are served from the cache, refused after the TTL once Graph refuses, and asked once when concurrent', async () => {
      const provider = await started({ acceptGraphTokens: true });
      const token = await graphToken();
      let calls = 0;
      nock(GRAPH).get('/v1.0/me').once().delay(30).reply(() => {
        calls += 1;
        return [200, me];
      });
      const results = await Promise.all(Array.from({ length: 4 }, () => provider.authenticate(bearer(token))));
      expect(results.map((r) => r.outcome)).to.deep.equal(Array(4).fill('identity'));
      identityOf(await provider.authenticate(bearer(token)));
      expect([calls, provider.cache.hits, provider.cache.misses]).to.deep.equal([1, 1, 1]);
      clock.advance(61_000);
      nock(GRAPH).get('/v1.0/me').once().reply(401, { error: { code: 'InvalidAuthenticationToken' } });
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'token not accepted by the identity provider');
    });
  });

  it('inspects through Graph /me and offers the tenant v2 endpoints', async () => {
    const provider = await started({ clientSecret: 'cs~1' });
    nock(GRAPH).get('/v1.0/me').reply(200, me);
    expect(await provider.inspect!('t')).to.deep.equal(me);
    expect(await provider.oauthClient!()).to.deep.equal({
      authorizationEndpoint: `${LOGIN}/${TID}/oauth2/v2.0/authorize`, tokenEndpoint: `${LOGIN}/${TID}/oauth2/v2.0/token`,
      clientId: APP, clientSecret: 'cs~1', clientAuth: 'body', scope: `api://${APP}/.default openid profile`,
    });
  });
});

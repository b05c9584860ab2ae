// Tests for the `keycloak` provider: realm issuer and JWKS, audience/azp binding, merged group paths, userinfo and OAuth client.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import { UpstreamHttpError } from '../../core/http.js';
import { validateWith } from '../../core/validate.js';
import keycloakPlugin, { createKeycloakProvider, keycloakConfigSchema } from '../../providers/keycloak/index.js';
import type { JwksProvider } from '../../providers/sdk/index.js';
import {
  bearer, expectFailure, expectNotResponsible, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const BASE = 'https://sso.example.com';
const ISSUER = `${BASE}/realms/corp`;
const CERTS = '/realms/corp/protocol/openid-connect/certs';

describe('providers/keycloak', () => {
  let key: TestKey;
  let stranger: TestKey;
  let clock: ManualClock;
  const open: JwksProvider[] = [];

  before(async () => {
    [key, stranger] = await Promise.all([makeKey('kc-1'), makeKey('kc-1')]);
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  /** A realistic Keycloak 24 access token payload. */
  const accessToken = (extra: JWTPayload = {}) => signWith(key, clock, {
    exp: now() + 300, iat: now(), jti: 'onrtac:5a1f', iss: ISSUER, aud: ['portcullis', 'account'],
    sub: 'f3b1c2d4-0000-4e5f-8a9b-1234567890ab', typ: 'Bearer', azp: 'web-app', sid: 'f1e2', scope: 'openid email profile',
    realm_access: { roles: ['offline_access', 'developers'] }, resource_access: { portcullis: { roles: ['admin'] }, account: { roles: ['view-profile'] } },
    email_verified: true, preferred_username: 'alice', email: 'alice@example.com', groups: ['/staff', '/staff/dev'],
    ...extra,
  });

  async function started(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serveKeys = true) {
    if (serveKeys) nock(BASE).get(CERTS).reply(200, jwks(key));
    const config = keycloakConfigSchema.parse({ baseUrl: `${BASE}/`, realm: 'corp', audience: 'portcullis', ...overrides });
    const provider = createKeycloakProvider(config, makeDeps(clock), { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start();
    return provider;
  }

  describe('configuration', () => {
    it('applies the defaults and derives the realm issuer', async () => {
      const provider = await started();
      expect(provider.issuers).to.deep.equal([ISSUER]);
      expect(provider.kind).to.equal('keycloak');
      expect(keycloakConfigSchema.parse({ baseUrl: BASE, realm: 'corp', audience: 'x' })).to.deep.include({
        algorithms: ['RS256'], usernameClaim: 'preferred_username', groupsClaim: ['groups', 'realm_access.roles'], clientAuth: 'basic',
      });
      expect(keycloakPlugin.secretFields).to.deep.equal(['clientSecret']);
    });

    it('requires an audience or authorized parties, a realm name and an https base URL', async () => {
      expect(issuePaths(await validateWith(keycloakConfigSchema, { baseUrl: BASE, realm: 'corp' }))).to.deep.equal(['audience']);
      expect(issuePaths(await validateWith(keycloakConfigSchema, { baseUrl: 'http://sso.example.com', realm: 'a/b', audience: 'x' })))
        .to.have.members(['baseUrl', 'realm']);
    });
  });

  describe('access tokens', () => {
    it('maps username, email and merged groups and realm roles', async () => {
      const provider = await started();
      const identity = identityOf(await provider.authenticate(bearer(await accessToken())));
      expect(identity).to.deep.include({
        subject: 'f3b1c2d4-0000-4e5f-8a9b-1234567890ab', username: 'alice', email: 'alice@example.com', provider: 'corp',
        groups: ['/staff', '/staff/dev', 'offline_access', 'developers'], scopes: ['openid', 'email', 'profile'], tokenId: 'onrtac:5a1f',
      });
      expect(identity.claims).to.deep.equal({ iss: ISSUER, aud: ['portcullis', 'account'], azp: 'web-app', sub: identity.subject, typ: 'Bearer' });
    });

    it('reads client roles when configured', async () => {
      const provider = await started({ groupsClaim: ['resource_access.portcullis.roles'] });
      expect(identityOf(await provider.authenticate(bearer(await accessToken()))).groups).to.deep.equal(['admin']);
    });

    it('refuses expired tokens, other audiences, other authorized parties, ID tokens and foreign signatures', async () => {
      const provider = await started();
      expectFailure(await provider.authenticate(bearer(await accessToken({ exp: now() - 61 }))), 'invalid_token', 'token expired');
      expectFailure(await provider.authenticate(bearer(await accessToken({ aud: 'account' }))), 'invalid_token', 'audience not accepted');
      expectFailure(await provider.authenticate(bearer(await accessToken({ typ: 'ID', aud: 'portcullis' }))), 'invalid_token', 'token type not accepted');
      expectFailure(await provider.authenticate(bearer(await signWith(stranger, clock, { iss: ISSUER, aud: 'portcullis', sub: 's', exp: now() + 60 }))), 'invalid_token', 'signature invalid');
      const byParty = await started({ audience: undefined, authorizedParties: ['web-app'] });
      identityOf(await byParty.authenticate(bearer(await accessToken({ aud: 'account' }))));
      expectFailure(await byParty.authenticate(bearer(await accessToken({ azp: 'other-client' }))), 'invalid_token', 'authorized party not accepted');
    });

    it('leaves other realms and opaque tokens to other providers', async () => {
      const provider = await started();
      expectNotResponsible(await provider.authenticate(bearer(await accessToken({ iss: `${BASE}/realms/other` }))));
      expectNotResponsible(await provider.authenticate(bearer('8f2c1d0e-opaque')));
    });
  });

  describe('when the realm keys cannot be fetched', () => {
    for (const [what, serve, limits, code] of outages(() => nock(BASE).get(CERTS), () => jwks(key))) {
      it(`answers provider_unavailable after ${what}`, async () => {
        serve();
        const provider = await started({}, limits, false);
        expect(provider.status().ready).to.equal(false);
        expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
        expectFailure(await provider.authenticate(bearer(await accessToken())), 'provider_unavailable', 'signing keys unavailable');
      });
    }
  });

  describe('userinfo and OAuth client', () => {
    it('inspects a token at the userinfo endpoint, uncached', async () => {
      const provider = await started();
      const answer = { sub: 'f3b1', email_verified: true, preferred_username: 'alice', groups: ['/staff'] };
      const scope = nock(BASE, { reqheaders: { authorization: 'Bearer tok-1' } })
        .get('/realms/corp/protocol/openid-connect/userinfo').twice().reply(200, answer);
      expect(await provider.inspect!('tok-1')).to.deep.equal(answer);
      expect(await provider.inspect!('tok-1')).to.deep.equal(answer);
      scope.done();
      nock(BASE).get('/realms/corp/protocol/openid-connect/userinfo').reply(401, { error: 'invalid_token' });
      const err = await provider.inspect!('bad').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UpstreamHttpError);
      expect((err as UpstreamHttpError).status).to.equal(401);
    });

    it('offers the realm endpoints when a client is configured', async () => {
      expect((await started()).oauthClient).to.equal(undefined);
      const provider = await started({ clientId: 'portcullis', clientSecret: 's3cret' });
      expect(await provider.oauthClient!()).to.deep.equal({
        authorizationEndpoint: `${ISSUER}/protocol/openid-connect/auth`, tokenEndpoint: `${ISSUER}/protocol/openid-connect/token`,
        clientId: 'portcullis', clientSecret: 's3cret', clientAuth: 'basic', scope: 'openid profile email',
      });
    });
  });
});

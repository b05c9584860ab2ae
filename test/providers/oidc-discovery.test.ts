// Tests for the `oidc-discovery` provider: only issuer and audience typed; keys, userinfo and OAuth endpoints discovered.
import { expect } from 'chai';
import type { JWTPayload } from 'jose';
import nock from 'nock';
import { ManualClock } from '../../core/clock.js';
import { UpstreamHttpError } from '../../core/http.js';
import { validateWith } from '../../core/validate.js';
import type { OidcProvider } from '../../providers/oidc/index.js';
import oidcDiscoveryPlugin, { createOidcDiscoveryProvider, oidcDiscoveryConfigSchema } from '../../providers/oidc-discovery/index.js';
import {
  bearer, expectFailure, identityOf, idleScheduler, issuePaths, jwks, makeDeps, makeKey, outages,
  signWith, T0, type FetchLimits, type TestKey,
} from './jwt-kit.js';

const ISSUER = 'https://idp.example.test/tenant';
const ORIGIN = 'https://idp.example.test';
const DISCOVERY = '/tenant/.well-known/openid-configuration';
const metadata = {
  issuer: ISSUER, jwks_uri: `${ORIGIN}/tenant/jwks`, authorization_endpoint: `${ORIGIN}/tenant/authorize`,
  token_endpoint: `${ORIGIN}/tenant/token`, userinfo_endpoint: `${ORIGIN}/tenant/userinfo`, id_token_signing_alg_values_supported: ['ES384'],
};

describe('providers/oidc-discovery', () => {
  let key: TestKey;
  let clock: ManualClock;
  const open: OidcProvider[] = [];

  before(async () => {
    key = await makeKey('es', 'ES384');
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const now = () => Math.floor(clock.now() / 1000);
  const token = (extra: JWTPayload = {}) => signWith(key, clock, { iss: ISSUER, aud: 'api://gw', sub: 'u1', exp: now() + 300, preferred_username: 'ann', ...extra });

  async function started(overrides: Record<string, unknown> = {}, limits: FetchLimits = {}, serve = true) {
    if (serve) {
      nock(ORIGIN).get(DISCOVERY).reply(200, metadata);
      nock(ORIGIN).get('/tenant/jwks').reply(200, jwks(key));
    }
    const config = oidcDiscoveryConfigSchema.parse({ issuer: ISSUER, audience: 'api://gw', ...overrides });
    const provider = createOidcDiscoveryProvider(config, makeDeps(clock), { scheduler: idleScheduler, ...limits });
    open.push(provider);
    await provider.start();
    return provider;
  }

  it('takes the issuer and a required audience, and refuses fields it discovers', async () => {
    expect(issuePaths(await validateWith(oidcDiscoveryConfigSchema, { issuer: ISSUER }))).to.deep.equal(['audience']);
    expect(issuePaths(await validateWith(oidcDiscoveryConfigSchema, { issuer: ISSUER, audience: 'a', jwksUri: `${ORIGIN}/k`, algorithms: ['RS256'] })))
      .to.have.members(['jwksUri', 'algorithms']);
    expect(oidcDiscoveryPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('discovers the keys and verifies any asymmetric algorithm', async () => {
    const provider = await started();
    expect([provider.kind, provider.issuers]).to.deep.equal(['oidc-discovery', [ISSUER]]);
    expect(identityOf(await provider.authenticate(bearer(await token()))).username).to.equal('ann');
    expectFailure(await provider.authenticate(bearer(await token({ aud: 'api://other' }))), 'invalid_token', 'audience not accepted');
    expectFailure(await provider.authenticate(bearer(await token({ exp: now() - 61 }))), 'invalid_token', 'token expired');
  });

  for (const [what, serve, limits, code] of outages(() => nock(ORIGIN).get(DISCOVERY), () => metadata)) {
    it(`answers provider_unavailable when discovery comes with ${what}`, async () => {
      serve();
      const provider = await started({}, limits, false);
      expect(provider.status().detail).to.match(new RegExp(`^no signing keys: ${code}: `));
      expectFailure(await provider.authenticate(bearer(await token())), 'provider_unavailable', 'signing keys unavailable');
    });
  }

  it('inspects at the discovered userinfo endpoint and builds the OAuth client from discovery', async () => {
    const provider = await started({ clientId: 'gw', clientSecret: 'sec', scope: 'openid api' });
    nock(ORIGIN, { reqheaders: { authorization: 'Bearer at' } }).get('/tenant/userinfo').reply(200, { sub: 'u1', email: 'ann@example.test' });
    expect(await provider.inspect('at')).to.deep.equal({ sub: 'u1', email: 'ann@example.test' });
    nock(ORIGIN).get('/tenant/userinfo').reply(401, {});
    expect(await provider.inspect('bad').catch((e: unknown) => e)).to.be.instanceOf(UpstreamHttpError);
    expect(await provider.oauthClient()).to.deep.equal({
      authorizationEndpoint: `${ORIGIN}/tenant/authorize`, tokenEndpoint: `${ORIGIN}/tenant/token`, clientId: 'gw', clientSecret: 'sec',
      clientAuth: 'basic', scope: 'openid api',
    });
    const noClient = await started();
    expect(await noClient.oauthClient()).to.equal(undefined);
  });
});

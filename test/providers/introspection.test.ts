// Tests for the `introspection` provider: RFC 7662 answers, audience/scope checks, service accounts, failures, cache.
import { expect } from 'chai';
import nock from 'nock';
import introspectionPlugin, { type IntrospectionConfig } from '../../providers/introspection/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, T0, type Harness } from './opaque-kit.js';

const AS = 'https://as.example.com';
const PATH = '/oauth2/introspect';
const TOKEN = '2YotnFZFEjr1zCsicMWpAA';
const BASIC = `Basic ${Buffer.from('portcullis:s3cret').toString('base64')}`;
const EXP = T0 / 1000 + 600;

const ACTIVE = {
  active: true, client_id: 'l238j323ds-23ij4', username: 'jdoe', scope: 'read write dolphin', sub: 'Z5O3upPC88QrAjx00dis',
  aud: 'https://protected.example.net/resource', iss: 'https://as.example.com/', exp: EXP, iat: T0 / 1000 - 60, jti: 'tok-1',
  email: 'jdoe@example.com', groups: ['staff'],
};
const unavailable = 'the identity provider cannot be reached';

async function make(h: Harness, extra: Partial<Record<keyof IntrospectionConfig, unknown>> = {}) {
  return introspectionPlugin.create(await configOf(introspectionPlugin, {
    introspectionEndpoint: `${AS}${PATH}`, clientId: 'portcullis', clientSecret: 's3cret', ...extra,
  }), h.deps);
}

const serve = (status: number, body: unknown) =>
  nock(AS).post(PATH, { token: TOKEN, token_type_hint: 'access_token' }).matchHeader('authorization', BASIC).reply(status, body as nock.Body, JSON_HEADERS);

describe('introspection provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('rfc7662');
  });

  it('validates its configuration', async () => {
    expect(await issuesOf(introspectionPlugin, {})).to.include.members(['introspectionEndpoint', 'clientId', 'clientSecret']);
    expect(await issuesOf(introspectionPlugin, {
      introspectionEndpoint: `${AS}${PATH}`, clientId: 'p', clientSecret: 's', serviceAccounts: { ci: { groups: ['x'] } },
    })).to.deep.equal(['serviceAccounts.ci.username']);
    expect(introspectionPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps an active answer with the defaults', async () => {
    serve(200, ACTIVE);
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: 'Z5O3upPC88QrAjx00dis', username: 'jdoe', email: 'jdoe@example.com', groups: ['staff'],
      scopes: ['read', 'write', 'dolphin'], expiresAt: EXP * 1000, tokenId: 'tok-1', provider: 'rfc7662',
      claims: { iss: ACTIVE.iss, aud: ACTIVE.aud, client_id: ACTIVE.client_id, sub: ACTIVE.sub, username: 'jdoe' },
    });
  });

  it('follows custom paths and authenticates in the body when asked', async () => {
    nock(AS).post(PATH, { token: TOKEN, token_type_hint: 'access_token', client_id: 'portcullis', client_secret: 's3cret' })
      .reply(200, { ...ACTIVE, ext: { login: 'john', roles: ['admin'] } }, JSON_HEADERS);
    const provider = await make(h, { clientAuth: 'body', usernameClaim: 'ext.login', groupsClaim: 'ext.roles' });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ username: 'john' });
    expect(identity.groups).to.deep.equal(['admin']);
  });

  it('checks audience, issuer and required scopes', async () => {
    serve(200, { ...ACTIVE, aud: ['https://protected.example.net/resource', 'other'] });
    identityOf(await (await make(h, { audience: 'https://protected.example.net/resource', requiredScopes: ['read'], issuer: ACTIVE.iss })).authenticate(bearer(TOKEN)));
    serve(200, ACTIVE);
    expectFailure(await (await make(h, { audience: ['api://other'] })).authenticate(bearer(TOKEN)), 'invalid_token', 'audience not accepted');
    serve(200, ACTIVE);
    expectFailure(await (await make(h, { requiredScopes: ['admin'] })).authenticate(bearer(TOKEN)), 'invalid_token', 'required scope missing');
    serve(200, ACTIVE);
    expectFailure(await (await make(h, { issuer: 'https://evil.example.com/' })).authenticate(bearer(TOKEN)), 'invalid_token', 'issuer not accepted');
  });

  it('refuses an inactive token', async () => {
    serve(200, { active: false });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not active');
  });

  it('refuses an answer whose exp has passed even when it says active', async () => {
    serve(200, { ...ACTIVE, exp: T0 / 1000 - 1 });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token expired');
  });

  describe('client-credentials tokens', () => {
    const cc = { active: true, client_id: 'ci-runner', scope: 'deploy', exp: EXP, token_type: 'Bearer' };
    const accounts = { 'ci-runner': { username: 'svc-ci', groups: ['deployers'] } };

    it('act as the mapped service account', async () => {
      serve(200, cc);
      const identity = identityOf(await (await make(h, { serviceAccounts: accounts })).authenticate(bearer(TOKEN)));
      expect(identity).to.include({ subject: 'ci-runner', username: 'svc-ci' });
      expect(identity.groups).to.deep.equal(['deployers']);
      expect(identity.scopes).to.deep.equal(['deploy']);
    });

    it('also when the subject is the client id itself', async () => {
      serve(200, { ...cc, sub: 'ci-runner' });
      expect(identityOf(await (await make(h, { serviceAccounts: accounts })).authenticate(bearer(TOKEN))).username).to.equal('svc-ci');
    });

    it('are refused for an unmapped client', async () => {
      serve(200, { ...cc, client_id: 'stranger' });
      expectFailure(await (await make(h, { serviceAccounts: accounts })).authenticate(bearer(TOKEN)), 'invalid_token', 'client not mapped to a service account');
    });

    it('are refused when the answer names neither a user nor a client', async () => {
      serve(200, { active: true, scope: 'x' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token names no user');
    });

    it('offer a client-credentials oauthClient when a token endpoint is set', async () => {
      expect(await (await make(h)).oauthClient!()).to.equal(undefined);
      expect(await (await make(h, { tokenEndpoint: `${AS}/oauth2/token`, scope: 'deploy' })).oauthClient!()).to.deep.equal({
        tokenEndpoint: `${AS}/oauth2/token`, clientId: 'portcullis', clientSecret: 's3cret', clientAuth: 'basic', scope: 'deploy',
      });
    });
  });

  it('is not responsible for Basic credentials, but judges JWT-shaped tokens', async () => {
    const provider = await make(h);
    expect(await provider.authenticate(basic('u', TOKEN))).to.deep.equal({ outcome: 'not_responsible' });
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln';
    nock(AS).post(PATH, { token: jwt, token_type_hint: 'access_token' }).reply(200, { active: false }, JSON_HEADERS);
    expectFailure(await provider.authenticate(bearer(jwt)), 'invalid_token', 'token not active');
  });

  describe('provider trouble', () => {
    it('our client credentials refused (401) is provider_unavailable, not the caller\'s fault', async () => {
      serve(401, { error: 'invalid_client' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', 'the identity provider refused the gateway client');
    });
    it('5xx', async () => {
      serve(503, { error: 'temporarily_unavailable' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(AS).post(PATH).delay(300).reply(200, ACTIVE, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serve(200, '{"active":true,');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('oversized answer', async () => {
      serve(200, { ...ACTIVE, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
  });

  describe('cache', () => {
    it('a hit makes no call', async () => {
      serve(200, ACTIVE);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(h.cache.hits).to.equal(1);
    });
    it('a token revoked after caching stops working once the TTL passes', async () => {
      serve(200, { ...ACTIVE, exp: T0 / 1000 + 3600 });
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve(200, { active: false });
      h.clock.advance(30_000);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      h.clock.advance(30_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not active');
    });
    it('the TTL never outlives the token', async () => {
      serve(200, { ...ACTIVE, exp: T0 / 1000 + 5 });
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve(200, { active: false });
      h.clock.advance(5_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not active');
    });
    it('concurrent identical tokens make one call', async () => {
      nock(AS).post(PATH).delay(20).reply(200, ACTIVE, JSON_HEADERS);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3, 4].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns the raw answer, inactive included', async () => {
    serve(200, { active: false });
    expect(await (await make(h)).inspect!(TOKEN)).to.deep.equal({ active: false });
  });
});

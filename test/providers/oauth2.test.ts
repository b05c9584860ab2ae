// Tests for the `oauth2` provider: userinfo validation, attribute paths, failures, cache and the client details.
import { expect } from 'chai';
import nock from 'nock';
import oauth2Plugin, { type OAuth2Config } from '../../providers/oauth2/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, type Harness } from './opaque-kit.js';

const AS = 'https://auth.example.com';
const TOKEN = 'at-5f1c0a0e9d4b4c1aa2f3';
const USERINFO = {
  sub: '248289761001', preferred_username: 'janedoe', name: 'Jane Doe', email: 'janedoe@example.com',
  groups: ['dev', 'ops'], profile: { login: 'jdoe', teams: ['blue'] },
};
const unavailable = 'the identity provider cannot be reached';

async function make(h: Harness, extra: Partial<Record<keyof OAuth2Config, unknown>> = {}) {
  return oauth2Plugin.create(await configOf(oauth2Plugin, { userinfoEndpoint: `${AS}/userinfo`, ...extra }), h.deps);
}

const serve = (status: number, body: unknown) =>
  nock(AS).get('/userinfo').matchHeader('authorization', `Bearer ${TOKEN}`).reply(status, body as nock.Body, JSON_HEADERS);

describe('oauth2 provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('custom');
  });

  it('validates its configuration', async () => {
    expect(await issuesOf(oauth2Plugin, {})).to.deep.equal(['userinfoEndpoint']);
    expect(await issuesOf(oauth2Plugin, { userinfoEndpoint: `${AS}/userinfo`, clientAuth: 'jwt', usernameClaim: 'a..b' })).to.deep.equal(['clientAuth', 'usernameClaim']);
    expect(oauth2Plugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps the userinfo answer with the defaults', async () => {
    serve(200, USERINFO);
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: '248289761001', username: 'janedoe', email: 'janedoe@example.com', groups: ['dev', 'ops'], scopes: [],
      provider: 'custom', claims: { sub: '248289761001' },
    });
  });

  it('follows custom paths (subject, nested username and groups) and POST userinfo', async () => {
    nock(AS).post('/me').matchHeader('authorization', `Bearer ${TOKEN}`).reply(200, { id: 42, ...USERINFO }, JSON_HEADERS);
    const provider = await make(h, {
      userinfoEndpoint: `${AS}/me`, userinfoMethod: 'POST', subjectClaim: 'id', usernameClaim: 'profile.login', groupsClaim: ['groups', 'profile.teams'],
    });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ subject: '42', username: 'jdoe' });
    expect(identity.groups).to.deep.equal(['dev', 'ops', 'blue']);
  });

  it('refuses an expired or invalid token (401)', async () => {
    nock(AS).get('/userinfo').reply(401, { error: 'invalid_token', error_description: 'The access token expired' }, {
      ...JSON_HEADERS, 'www-authenticate': 'Bearer error="invalid_token"',
    });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
  });

  it('is not responsible for Basic credentials', async () => {
    expect(await (await make(h)).authenticate(basic('jane', 'pw'))).to.deep.equal({ outcome: 'not_responsible' });
  });

  describe('provider trouble', () => {
    it('5xx', async () => {
      serve(500, { error: 'server_error' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('a redirect is not followed', async () => {
      nock(AS).get('/userinfo').reply(302, '', { location: 'https://auth.example.com/login' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(AS).get('/userinfo').delay(300).reply(200, USERINFO, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serve(200, '{"sub":');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('a JSON answer that is not an object', async () => {
      serve(200, ['sub']);
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('oversized answer', async () => {
      serve(200, { ...USERINFO, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
  });

  describe('cache', () => {
    it('a hit makes no call', async () => {
      serve(200, USERINFO);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(h.cache.hits).to.equal(1);
    });
    it('a revoked token stops working once the TTL passes', async () => {
      serve(200, USERINFO);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve(401, { error: 'invalid_token' });
      h.clock.advance(60_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
    });
    it('a configuration change does not reuse cached answers', async () => {
      serve(200, USERINFO);
      identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
      serve(200, USERINFO);
      expect(identityOf(await (await make(h, { usernameClaim: 'name' })).authenticate(bearer(TOKEN))).username).to.equal('Jane Doe');
      expect(h.cache.misses).to.equal(2);
    });
    it('concurrent identical tokens make one call', async () => {
      nock(AS).get('/userinfo').delay(20).reply(200, USERINFO, JSON_HEADERS);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns the raw answer; oauthClient comes from the configuration', async () => {
    serve(200, USERINFO);
    expect(await (await make(h)).inspect!(TOKEN)).to.deep.equal(USERINFO);
    expect(await (await make(h)).oauthClient!()).to.equal(undefined);
    const client = await (await make(h, {
      authorizationEndpoint: `${AS}/authorize`, tokenEndpoint: `${AS}/token`, clientId: 'portcullis', clientSecret: 'pw', clientAuth: 'body', scope: 'openid profile',
    })).oauthClient!();
    expect(client).to.deep.equal({
      authorizationEndpoint: `${AS}/authorize`, tokenEndpoint: `${AS}/token`, clientId: 'portcullis', clientSecret: 'pw', clientAuth: 'body', scope: 'openid profile',
    });
  });
});

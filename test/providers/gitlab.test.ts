// Tests for the `gitlab` provider: userinfo and REST sources, application binding, failures and the cache.
import { expect } from 'chai';
import nock from 'nock';
import gitlabPlugin, { type GitlabConfig } from '../../providers/gitlab/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, T0, type Harness } from './opaque-kit.js';

const GITLAB = 'https://gitlab.com';
const TOKEN = 'a72c6b3b0f1b69e4c0de7d1c9b34c6a0f4f0b4c4d9c3a2e1f0b6a8d7c5e4f3a2';
const APP_ID = '1cb242f495280beb4291e64bee2a17f330902e499882fe8e1e2aa875519cab33';

const USERINFO = {
  sub: '1234',
  sub_legacy: '2bd7bd0de0e7a1ef0e87bd1b8ac9b2c97a42b5f5f0c5e7ad3b0d5c2a8e4b1f9a',
  name: 'Jane Doe',
  nickname: 'jane',
  preferred_username: 'jane',
  email: 'jane@example.com',
  email_verified: true,
  website: '',
  profile: 'https://gitlab.com/jane',
  picture: 'https://gitlab.com/uploads/-/system/user/avatar/1234/avatar.png',
  groups: ['acme', 'acme/platform'],
  'https://gitlab.org/claims/groups/owner': ['acme/platform'],
};

const API_USER = {
  id: 1234, username: 'jane', name: 'Jane Doe', state: 'active', locked: false,
  web_url: 'https://gitlab.com/jane', email: 'jane@example.com', public_email: 'jane.public@example.com',
};

const TOKEN_INFO = { resource_owner_id: 1234, scope: ['openid', 'profile', 'email'], expires_in_seconds: 7200, application: { uid: APP_ID }, created_at: T0 / 1000 - 60 };

async function make(h: Harness, extra: Partial<Record<keyof GitlabConfig, unknown>> = {}) {
  return gitlabPlugin.create(await configOf(gitlabPlugin, extra), h.deps);
}

const serve = (path: string, status: number, body: unknown, base = GITLAB) =>
  nock(base).get(path).matchHeader('authorization', `Bearer ${TOKEN}`).reply(status, body as nock.Body, JSON_HEADERS);

describe('gitlab provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('gl');
  });

  it('validates its configuration and marks the secret', async () => {
    expect(await issuesOf(gitlabPlugin, {})).to.deep.equal([]);
    expect(await issuesOf(gitlabPlugin, { baseUrl: 'ftp://gitlab.example.com', source: 'graphql' })).to.deep.equal(['baseUrl', 'source']);
    expect(gitlabPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps OpenID userinfo with the defaults (nickname, email, groups)', async () => {
    serve('/oauth/userinfo', 200, USERINFO);
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: '1234', username: 'jane', email: 'jane@example.com', groups: ['acme', 'acme/platform'],
      scopes: [], provider: 'gl', claims: { sub: '1234', nickname: 'jane' },
    });
  });

  it('maps /api/v4/user on a self-managed instance with the REST defaults', async () => {
    serve('/gitlab/api/v4/user', 200, API_USER, 'https://git.example.com');
    const provider = await make(h, { baseUrl: 'https://git.example.com/gitlab/', source: 'api' });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ subject: '1234', username: 'jane', email: 'jane@example.com' });
    expect(identity.groups).to.deep.equal([]);
  });

  it('follows custom attribute paths', async () => {
    serve('/oauth/userinfo', 200, USERINFO);
    const provider = await make(h, { usernameClaim: 'email', emailClaim: ['missing', 'profile'], groupsClaim: 'https://gitlab.org/claims/groups/owner' });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ username: 'jane@example.com', email: 'https://gitlab.com/jane' });
    expect(identity.groups).to.deep.equal(['acme/platform']);
  });

  it('binds the token to our application when clientId is set, with scopes and expiry', async () => {
    serve('/oauth/token/info', 200, TOKEN_INFO);
    serve('/oauth/userinfo', 200, USERINFO);
    const identity = identityOf(await (await make(h, { clientId: APP_ID })).authenticate(bearer(TOKEN)));
    expect(identity.scopes).to.deep.equal(['openid', 'profile', 'email']);
    expect(identity.expiresAt).to.equal(T0 + 7200_000);
  });

  it('refuses a token of another application', async () => {
    serve('/oauth/token/info', 200, { ...TOKEN_INFO, application: { uid: 'f'.repeat(64) } });
    const user = serve('/oauth/userinfo', 200, USERINFO);
    expectFailure(await (await make(h, { clientId: APP_ID })).authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
    expect(user.isDone()).to.equal(false);
  });

  it('refuses an invalid or expired token (401)', async () => {
    serve('/oauth/userinfo', 401, { error: 'invalid_token', error_description: 'The access token expired' });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
  });

  it('refuses a token without the openid scope (403 insufficient_scope)', async () => {
    serve('/oauth/userinfo', 403, { error: 'insufficient_scope' });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
  });

  it('refuses a blocked user on the REST source', async () => {
    serve('/api/v4/user', 200, { ...API_USER, state: 'blocked' });
    expectFailure(await (await make(h, { source: 'api' })).authenticate(bearer(TOKEN)), 'invalid_token', 'user is not active');
  });

  it('is not responsible for Basic credentials and JWTs', async () => {
    const provider = await make(h);
    expect(await provider.authenticate(basic('jane', TOKEN))).to.deep.equal({ outcome: 'not_responsible' });
    expect(await provider.authenticate(bearer('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln'))).to.deep.equal({ outcome: 'not_responsible' });
  });

  describe('provider trouble', () => {
    const unavailable = 'the identity provider cannot be reached';
    it('5xx', async () => {
      serve('/oauth/userinfo', 500, { message: '500 Internal Server Error' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(GITLAB).get('/oauth/userinfo').delay(300).reply(200, USERINFO, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serve('/oauth/userinfo', 200, '<html>sign in</html>');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('oversized answer', async () => {
      serve('/oauth/userinfo', 200, { ...USERINFO, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('an answer without a subject', async () => {
      serve('/oauth/userinfo', 200, { nickname: 'jane' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
  });

  describe('cache', () => {
    it('a hit makes no call', async () => {
      serve('/oauth/userinfo', 200, USERINFO);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(identityOf(await provider.authenticate(bearer(TOKEN))).username).to.equal('jane');
      expect(h.cache.hits).to.equal(1);
    });

    it('a token revoked after caching stops working once the TTL passes; failures are cached briefly', async () => {
      serve('/oauth/userinfo', 200, USERINFO);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve('/oauth/userinfo', 401, { error: 'invalid_token' });
      h.clock.advance(60_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
      h.clock.advance(1_000);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
      expect(h.cache.misses).to.equal(2);
    });

    it('the TTL never outlives the token (token info expiry)', async () => {
      serve('/oauth/token/info', 200, { ...TOKEN_INFO, expires_in_seconds: 10 });
      serve('/oauth/userinfo', 200, USERINFO);
      const provider = await make(h, { clientId: APP_ID });
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serve('/oauth/token/info', 401, { error: 'invalid_token' });
      h.clock.advance(10_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
    });

    it('concurrent identical tokens make one call', async () => {
      nock(GITLAB).get('/oauth/userinfo').delay(20).reply(200, USERINFO, JSON_HEADERS);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns the raw answer; oauthClient needs a clientId', async () => {
    serve('/oauth/userinfo', 200, USERINFO);
    expect(await (await make(h)).inspect!(TOKEN)).to.deep.equal(USERINFO);
    expect(await (await make(h)).oauthClient!()).to.equal(undefined);
    expect(await (await make(h, { baseUrl: 'https://git.example.com', clientId: APP_ID, clientSecret: 'gloas-x' })).oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://git.example.com/oauth/authorize',
      tokenEndpoint: 'https://git.example.com/oauth/token',
      clientId: APP_ID,
      clientSecret: 'gloas-x',
      clientAuth: 'basic',
      scope: 'openid profile email',
    });
  });
});

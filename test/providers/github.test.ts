// Tests for the `github` provider: token-check binding, /user mapping, org/team groups, failures and the cache.
import { expect } from 'chai';
import nock from 'nock';
import githubPlugin, { type GithubConfig } from '../../providers/github/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, T0, type Harness } from './opaque-kit.js';

const API = 'https://api.github.com';
const CLIENT_ID = 'Iv1.8a61f9b3a7aba766';
const CLIENT_SECRET = 's3cr3t-value';
const TOKEN = 'gho_16C7e42F292c6912E7710c838347Ae178B4a';
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

const tokenCheck = (overrides: Record<string, unknown> = {}) => ({
  id: 1,
  url: 'https://api.github.com/authorizations/1',
  scopes: ['read:user', 'user:email', 'read:org'],
  token: TOKEN,
  token_last_eight: 'Ae178B4a',
  hashed_token: '25f94a2a5c7fbaf499c665bc73d67c1c87e496da8985131633ee0a95819db2e8',
  app: { url: 'https://portcullis.example.com', name: 'Portcullis', client_id: CLIENT_ID },
  note: null,
  note_url: null,
  updated_at: '2029-12-31T20:39:23Z',
  created_at: '2029-12-31T20:39:23Z',
  fingerprint: null,
  expires_at: null,
  user: { login: 'octocat', id: 583231, type: 'User', site_admin: false },
  ...overrides,
});

const USER = {
  login: 'octocat', id: 583231, node_id: 'MDQ6VXNlcjU4MzIzMQ==', type: 'User', site_admin: false,
  name: 'The Octocat', company: '@github', blog: 'https://github.blog', email: 'octocat@github.com',
};

async function make(h: Harness, extra: Partial<Record<keyof GithubConfig, unknown>> = {}) {
  const config = await configOf(githubPlugin, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...extra });
  return githubPlugin.create(config, h.deps);
}

function serveCheck(status = 200, body: unknown = tokenCheck(), base = API) {
  return nock(base)
    .post(`/applications/${CLIENT_ID}/token`, { access_token: TOKEN })
    .matchHeader('authorization', BASIC)
    .reply(status, body as nock.Body, JSON_HEADERS);
}

function serveUser(status = 200, body: unknown = USER, base = API) {
  return nock(base).get('/user').matchHeader('authorization', `Bearer ${TOKEN}`).reply(status, body as nock.Body, JSON_HEADERS);
}

describe('github provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('gh');
  });

  describe('configuration', () => {
    it('requires clientId and clientSecret and marks the secret', async () => {
      expect(await issuesOf(githubPlugin, {})).to.include.members(['clientId', 'clientSecret']);
      expect(githubPlugin.secretFields).to.deep.equal(['clientSecret']);
    });

    it('refuses plain-http API bases off loopback and unknown fields', async () => {
      const base = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
      expect(await issuesOf(githubPlugin, { ...base, apiBaseUrl: 'http://ghe.example.com/api/v3' })).to.deep.equal(['apiBaseUrl']);
      expect(await issuesOf(githubPlugin, { ...base, groups: true })).to.deep.equal(['groups']);
    });
  });

  describe('valid tokens', () => {
    it('binds the token to our app, then maps GET /user with the defaults', async () => {
      const check = serveCheck();
      const user = serveUser();
      const provider = await make(h);
      const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(identity).to.deep.equal({
        subject: '583231',
        username: 'octocat',
        email: 'octocat@github.com',
        groups: [],
        scopes: ['read:user', 'user:email', 'read:org'],
        provider: 'gh',
        claims: { login: 'octocat', id: 583231, type: 'User' },
      });
      expect(check.isDone() && user.isDone()).to.equal(true);
    });

    it('adds organisations and teams as groups when switched on', async () => {
      serveCheck();
      serveUser();
      nock(API).get('/user/orgs').query({ per_page: '100', page: '1' })
        .reply(200, [{ login: 'github', id: 1 }, { login: 'acme', id: 2 }], JSON_HEADERS);
      nock(API).get('/user/teams').query({ per_page: '100', page: '1' })
        .reply(200, [{ slug: 'justice-league', name: 'Justice League', organization: { login: 'github' } }], JSON_HEADERS);
      const provider = await make(h, { orgGroups: true, teamGroups: true });
      const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(identity.groups).to.deep.equal(['github', 'acme', 'github/justice-league']);
    });

    it('follows org pages of 100', async () => {
      serveCheck();
      serveUser();
      const page1 = Array.from({ length: 100 }, (_, i) => ({ login: `org${i}` }));
      nock(API).get('/user/orgs').query({ per_page: '100', page: '1' }).reply(200, page1, JSON_HEADERS);
      nock(API).get('/user/orgs').query({ per_page: '100', page: '2' }).reply(200, [{ login: 'last' }], JSON_HEADERS);
      const identity = identityOf(await (await make(h, { orgGroups: true })).authenticate(bearer(TOKEN)));
      expect(identity.groups).to.have.length(101);
      expect(identity.groups.at(-1)).to.equal('last');
    });

    it('follows custom attribute paths', async () => {
      serveCheck();
      serveUser();
      const provider = await make(h, { usernameClaim: 'name', emailClaim: 'blog', groupsClaim: ['company', 'type'] });
      const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(identity).to.include({ username: 'The Octocat', email: 'https://github.blog' });
      expect(identity.groups).to.deep.equal(['@github', 'User']);
    });

    it('falls back to the user id when the username attribute is missing, and keeps GitHub App expiry', async () => {
      serveCheck(200, tokenCheck({ expires_at: '2030-01-01T08:00:00Z' }));
      serveUser(200, { ...USER, email: null });
      const identity = identityOf(await (await make(h, { usernameClaim: 'nickname' })).authenticate(bearer(TOKEN)));
      expect(identity.username).to.equal('583231');
      expect(identity).to.not.have.property('email');
      expect(identity.expiresAt).to.equal(T0 + 8 * 3600_000);
    });

    it('talks to GitHub Enterprise under its API base and derives the web endpoints', async () => {
      const ghe = 'https://ghe.example.com/api/v3';
      nock('https://ghe.example.com').post(`/api/v3/applications/${CLIENT_ID}/token`).reply(200, tokenCheck(), JSON_HEADERS);
      nock('https://ghe.example.com').get('/api/v3/user').reply(200, USER, JSON_HEADERS);
      const provider = await make(h, { apiBaseUrl: ghe, teamGroups: true });
      nock('https://ghe.example.com').get('/api/v3/user/teams').query(true).reply(200, [], JSON_HEADERS);
      expect(identityOf(await provider.authenticate(bearer(TOKEN))).username).to.equal('octocat');
      expect(await provider.oauthClient!()).to.deep.equal({
        authorizationEndpoint: 'https://ghe.example.com/login/oauth/authorize',
        tokenEndpoint: 'https://ghe.example.com/login/oauth/access_token',
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        clientAuth: 'body',
        scope: 'read:user user:email read:org',
      });
    });
  });

  describe('refused tokens', () => {
    it('refuses a token of another app (token-check 404) without asking /user', async () => {
      serveCheck(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      const user = serveUser();
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
      expect(user.isDone()).to.equal(false);
    });

    it('refuses a token whose check names another client id', async () => {
      serveCheck(200, tokenCheck({ app: { client_id: 'Iv1.other', name: 'Other' } }));
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
    });

    it('refuses an expired GitHub App token', async () => {
      serveCheck(200, tokenCheck({ expires_at: '2029-12-31T23:59:59Z' }));
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token expired');
    });

    it('refuses a token /user no longer accepts (401)', async () => {
      serveCheck();
      serveUser(401, { message: 'Bad credentials' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
    });

    it('is not responsible for Basic credentials, PATs and tokens of other formats', async () => {
      const provider = await make(h);
      for (const credential of [
        basic('octocat', TOKEN),
        bearer('ghp_16C7e42F292c6912E7710c838347Ae178B4a'),
        bearer('github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'),
        bearer('xoxp-1234-5678'),
        bearer('0123456789abcdef0123456789abcdef01234567'),
      ]) {
        expect(await provider.authenticate(credential)).to.deep.equal({ outcome: 'not_responsible' });
      }
    });

    it('judges legacy 40-hex tokens when acceptLegacyTokens is on', async () => {
      const legacy = '0123456789abcdef0123456789abcdef01234567';
      nock(API).post(`/applications/${CLIENT_ID}/token`, { access_token: legacy }).reply(404, { message: 'Not Found' }, JSON_HEADERS);
      const provider = await make(h, { acceptLegacyTokens: true });
      expectFailure(await provider.authenticate(bearer(legacy)), 'invalid_token', 'token was not issued to this application');
    });
  });

  describe('provider trouble', () => {
    const unavailable = 'the identity provider cannot be reached';

    it('answers provider_unavailable when GitHub refuses our client credentials', async () => {
      serveCheck(401, { message: 'Bad credentials' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', 'the identity provider refused the gateway client');
    });

    it('answers provider_unavailable on a 5xx', async () => {
      serveCheck(502, { message: 'Server Error' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });

    it('answers provider_unavailable when GitHub is slower than timeoutMs', async () => {
      serveCheck();
      nock(API).get('/user').delay(300).reply(200, USER, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });

    it('answers provider_unavailable on malformed JSON', async () => {
      serveCheck();
      serveUser(200, '{"login": "octocat",');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });

    it('answers provider_unavailable on an oversized answer', async () => {
      serveCheck();
      serveUser(200, { ...USER, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });

    it('does not cache provider_unavailable', async () => {
      serveCheck(503, { message: 'unavailable' });
      const provider = await make(h);
      expect((await provider.authenticate(bearer(TOKEN))).outcome).to.equal('failure');
      serveCheck();
      serveUser();
      expect(identityOf(await provider.authenticate(bearer(TOKEN))).username).to.equal('octocat');
    });
  });

  describe('cache', () => {
    it('serves a repeated token from the cache without calling GitHub', async () => {
      serveCheck();
      serveUser();
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      h.clock.advance(30_000);
      expect(identityOf(await provider.authenticate(bearer(TOKEN))).username).to.equal('octocat');
      expect(h.cache.hits).to.equal(1);
    });

    it('stops accepting a token revoked at GitHub once the cache TTL passes', async () => {
      serveCheck();
      serveUser();
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serveCheck(404, { message: 'Not Found' });
      h.clock.advance(30_000);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      h.clock.advance(31_000);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
    });

    it('makes one call for concurrent identical tokens', async () => {
      const check = nock(API).post(`/applications/${CLIENT_ID}/token`).delay(20).reply(200, tokenCheck(), JSON_HEADERS);
      serveUser();
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3, 4].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.map((r) => identityOf(r).username)).to.deep.equal(['octocat', 'octocat', 'octocat', 'octocat']);
      expect(check.isDone()).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  describe('admin helpers', () => {
    it('inspect returns the raw /user answer, uncached', async () => {
      serveUser();
      serveUser();
      const provider = await make(h);
      expect(await provider.inspect!(TOKEN)).to.deep.equal(USER);
      expect(await provider.inspect!(TOKEN)).to.deep.equal(USER);
    });

    it('offers github.com OAuth endpoints', async () => {
      const client = await (await make(h)).oauthClient!();
      expect(client).to.include({
        authorizationEndpoint: 'https://github.com/login/oauth/authorize',
        tokenEndpoint: 'https://github.com/login/oauth/access_token',
        scope: 'read:user user:email',
      });
    });
  });
});

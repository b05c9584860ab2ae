// Tests for the `slack` provider: openid.connect.userInfo, ok:false refusals, workspace restriction, failures, cache.
import { expect } from 'chai';
import nock from 'nock';
import slackPlugin, { type SlackConfig } from '../../providers/slack/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, type Harness } from './opaque-kit.js';

const SLACK = 'https://slack.com';
const PATH = '/api/openid.connect.userInfo';
const TOKEN = 'xoxp-1234567890-1234567890123-1234567890123-0123456789abcdef0123456789abcdef';

const USERINFO = {
  ok: true,
  sub: 'U0R7JM',
  'https://slack.com/user_id': 'U0R7JM',
  'https://slack.com/team_id': 'T0R7GR',
  email: 'krane@slack-corp.com',
  email_verified: true,
  date_email_verified: 1622128723,
  name: 'krane',
  picture: 'https://secure.gravatar.com/avatar/bc.png',
  given_name: 'Bront',
  family_name: 'Labradoodle',
  locale: 'en-US',
  'https://slack.com/team_name': 'kraneflannel',
  'https://slack.com/team_domain': 'kraneflannel',
};

async function make(h: Harness, extra: Partial<Record<keyof SlackConfig, unknown>> = {}) {
  return slackPlugin.create(await configOf(slackPlugin, extra), h.deps);
}

const serve = (status: number, body: unknown) =>
  nock(SLACK).post(PATH).matchHeader('authorization', `Bearer ${TOKEN}`).reply(status, body as nock.Body, JSON_HEADERS);

describe('slack provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('slack');
  });

  it('validates its configuration', async () => {
    expect(await issuesOf(slackPlugin, {})).to.deep.equal([]);
    expect(await issuesOf(slackPlugin, { teamId: 'my workspace', timeoutMs: 0 })).to.deep.equal(['teamId', 'timeoutMs']);
    expect(slackPlugin.secretFields).to.deep.equal(['clientSecret']);
  });

  it('maps userInfo with the defaults (email as username)', async () => {
    serve(200, USERINFO);
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: 'U0R7JM', username: 'krane@slack-corp.com', email: 'krane@slack-corp.com', groups: [], scopes: [],
      provider: 'slack', claims: { sub: 'U0R7JM', 'https://slack.com/team_id': 'T0R7GR' },
    });
  });

  it('follows custom attribute paths, including URL-named claims', async () => {
    serve(200, USERINFO);
    const provider = await make(h, { usernameClaim: 'name', groupsClaim: ['https://slack.com/team_domain', 'locale'] });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity.username).to.equal('krane');
    expect(identity.groups).to.deep.equal(['kraneflannel', 'en-US']);
  });

  it('accepts a user of the configured workspace and refuses another workspace', async () => {
    serve(200, USERINFO);
    identityOf(await (await make(h, { teamId: 'T0R7GR' })).authenticate(bearer(TOKEN)));
    serve(200, { ...USERINFO, 'https://slack.com/team_id': 'T0OTHER' });
    expectFailure(await (await make(h, { teamId: 'T0R7GR', timeoutMs: 4000 })).authenticate(bearer(TOKEN)), 'invalid_token', 'token belongs to another Slack workspace');
  });

  it('maps ok:false invalid_auth (HTTP 200) to invalid_token', async () => {
    serve(200, { ok: false, error: 'invalid_auth' });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by Slack (invalid_auth)');
  });

  it('maps ok:false token_revoked and token_expired to invalid_token', async () => {
    serve(200, { ok: false, error: 'token_revoked' });
    expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by Slack (token_revoked)');
    serve(200, { ok: false, error: 'token_expired' });
    expectFailure(await (await make(h, { timeoutMs: 4000 })).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by Slack (token_expired)');
  });

  it('is responsible for user tokens only', async () => {
    const provider = await make(h);
    for (const credential of [basic('u', TOKEN), bearer('xoxb-123-456-abc'), bearer('gho_abc'), bearer('opaque')]) {
      expect(await provider.authenticate(credential)).to.deep.equal({ outcome: 'not_responsible' });
    }
    nock(SLACK).post(PATH).reply(200, USERINFO, JSON_HEADERS);
    identityOf(await provider.authenticate(bearer('xoxe.xoxp-1-abcdef')));
  });

  describe('provider trouble', () => {
    const unavailable = 'the identity provider cannot be reached';
    it('ok:false with a server-side error', async () => {
      serve(200, { ok: false, error: 'internal_error' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('rate limited (429)', async () => {
      serve(429, { ok: false, error: 'ratelimited' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('5xx', async () => {
      serve(503, { ok: false, error: 'service_unavailable' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(SLACK).post(PATH).delay(300).reply(200, USERINFO, JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serve(200, '{"ok":tru');
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
      serve(200, { ok: false, error: 'token_revoked' });
      h.clock.advance(59_000);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      h.clock.advance(2_000);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by Slack (token_revoked)');
    });
    it('concurrent identical tokens make one call', async () => {
      nock(SLACK).post(PATH).delay(20).reply(200, USERINFO, JSON_HEADERS);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns the raw answer and throws a 401 UpstreamHttpError for ok:false', async () => {
    serve(200, USERINFO);
    const provider = await make(h);
    expect(await provider.inspect!(TOKEN)).to.deep.equal(USERINFO);
    serve(200, { ok: false, error: 'invalid_auth' });
    try {
      await provider.inspect!(TOKEN);
      expect.fail('inspect should throw');
    } catch (err) {
      expect(err).to.include({ name: 'UpstreamHttpError', code: 'http_status', status: 401 });
    }
  });

  it('offers the Slack OpenID endpoints when a client id is configured', async () => {
    expect(await (await make(h)).oauthClient!()).to.equal(undefined);
    expect(await (await make(h, { clientId: '123.456', clientSecret: 'shh', teamId: 'T0R7GR' })).oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://slack.com/openid/connect/authorize',
      tokenEndpoint: 'https://slack.com/api/openid.connect.token',
      clientId: '123.456',
      clientSecret: 'shh',
      clientAuth: 'body',
      scope: 'openid profile email',
      extraAuthorizeParams: { team: 'T0R7GR' },
    });
  });
});

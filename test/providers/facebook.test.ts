// Tests for the `facebook` provider: debug_token binding to our app, /me mapping, failures and the cache.
import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import nock from 'nock';
import facebookPlugin, { type FacebookConfig } from '../../providers/facebook/index.js';
import { basic, bearer, configOf, expectFailure, harness, HUGE, identityOf, issuesOf, JSON_HEADERS, T0, type Harness } from './opaque-kit.js';

const GRAPH = 'https://graph.facebook.com';
const APP_ID = '138483919580948';
const APP_SECRET = 'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6';
const TOKEN = 'EAAB7ZCZBmZAZCo0BAKZAexampleuseraccesstokenZBZCZD';
const PROOF = createHmac('sha256', APP_SECRET).update(TOKEN).digest('hex');
const EXP = T0 / 1000 + 3600;

const debug = (data: Record<string, unknown> = {}) => ({
  data: {
    app_id: APP_ID, type: 'USER', application: 'Portcullis', data_access_expires_at: EXP + 86_400 * 90,
    expires_at: EXP, is_valid: true, issued_at: T0 / 1000 - 60, scopes: ['email', 'public_profile'], user_id: '10158762351', ...data,
  },
});

const ME = { id: '10158762351', name: 'Sam Example', email: 'sam@example.com' };

async function make(h: Harness, extra: Partial<Record<keyof FacebookConfig, unknown>> = {}) {
  return facebookPlugin.create(await configOf(facebookPlugin, { appId: APP_ID, appSecret: APP_SECRET, ...extra }), h.deps);
}

function serveDebug(status: number, body: unknown) {
  return nock(GRAPH)
    .get('/v23.0/debug_token')
    .query({ input_token: TOKEN, access_token: `${APP_ID}|${APP_SECRET}` })
    .reply(status, body as nock.Body, JSON_HEADERS);
}

function serveMe(status: number, body: unknown, fields = 'id,name,email') {
  return nock(GRAPH)
    .get('/v23.0/me')
    .query({ fields, appsecret_proof: PROOF })
    .matchHeader('authorization', `Bearer ${TOKEN}`)
    .reply(status, body as nock.Body, JSON_HEADERS);
}

describe('facebook provider', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness('fb');
  });

  it('validates its configuration and marks the app secret', async () => {
    expect(await issuesOf(facebookPlugin, { appId: 'my-app', appSecret: '', graphVersion: '23' })).to.deep.equal(['appId', 'appSecret', 'graphVersion']);
    expect(facebookPlugin.secretFields).to.deep.equal(['appSecret']);
  });

  it('proves the token is ours with debug_token, then maps /me with the defaults', async () => {
    serveDebug(200, debug());
    serveMe(200, ME);
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity).to.deep.equal({
      subject: '10158762351', username: 'sam@example.com', email: 'sam@example.com', groups: [],
      scopes: ['email', 'public_profile'], expiresAt: EXP * 1000, provider: 'fb', claims: { id: '10158762351' },
    });
  });

  it('asks the configured fields and follows custom attribute paths', async () => {
    serveDebug(200, debug({ expires_at: 0 }));
    serveMe(200, { ...ME, short_name: 'Sam', locale: 'en_GB' }, 'id,short_name,locale');
    const provider = await make(h, { fields: ['short_name', 'locale'], usernameClaim: 'short_name', groupsClaim: 'locale' });
    const identity = identityOf(await provider.authenticate(bearer(TOKEN)));
    expect(identity).to.include({ username: 'Sam' });
    expect(identity.groups).to.deep.equal(['en_GB']);
    expect(identity).to.not.have.property('expiresAt');
  });

  it('uses the id as username when the user granted no email', async () => {
    serveDebug(200, debug({ scopes: ['public_profile'] }));
    serveMe(200, { id: ME.id, name: ME.name });
    const identity = identityOf(await (await make(h)).authenticate(bearer(TOKEN)));
    expect(identity.username).to.equal(ME.id);
    expect(identity).to.not.have.property('email');
  });

  describe('refused tokens', () => {
    it('a token of another app', async () => {
      serveDebug(200, debug({ app_id: '999999999999' }));
      const me = serveMe(200, ME);
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
      expect(me.isDone()).to.equal(false);
    });

    it('is_valid false', async () => {
      serveDebug(200, { data: { error: { code: 190, message: 'Error validating access token: The session is invalid because the user logged out.' }, is_valid: false, scopes: [] } });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not valid');
    });

    it('an expired token', async () => {
      serveDebug(200, debug({ is_valid: false, expires_at: T0 / 1000 - 10 }));
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token expired');
    });

    it('an app or page token of our app', async () => {
      serveDebug(200, debug({ type: 'PAGE' }));
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'not a user access token');
    });

    it('a /me answer for another user than debug_token named', async () => {
      serveDebug(200, debug());
      serveMe(200, { ...ME, id: '1' });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token was not issued to this application');
    });

    it('Graph 400 OAuthException (code 190)', async () => {
      serveDebug(400, { error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190, fbtrace_id: 'A1' } });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'invalid_token', 'token not accepted by the identity provider');
    });

    it('is not responsible for Basic credentials or JWTs', async () => {
      const provider = await make(h);
      expect(await provider.authenticate(basic('sam', TOKEN))).to.deep.equal({ outcome: 'not_responsible' });
      expect(await provider.authenticate(bearer('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln'))).to.deep.equal({ outcome: 'not_responsible' });
    });
  });

  describe('provider trouble', () => {
    const unavailable = 'the identity provider cannot be reached';
    it('5xx', async () => {
      serveDebug(500, { error: { message: 'An unknown error has occurred.', type: 'OAuthException', code: 1 } });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('slower than timeoutMs', async () => {
      nock(GRAPH).get('/v23.0/debug_token').query(true).delay(300).reply(200, debug(), JSON_HEADERS);
      expectFailure(await (await make(h, { timeoutMs: 50 })).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('malformed JSON', async () => {
      serveDebug(200, '{"data": {');
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
    it('oversized answer', async () => {
      serveDebug(200, debug());
      serveMe(200, { ...ME, ...HUGE });
      expectFailure(await (await make(h)).authenticate(bearer(TOKEN)), 'provider_unavailable', unavailable);
    });
  });

  describe('cache', () => {
    it('a hit makes no call', async () => {
      serveDebug(200, debug());
      serveMe(200, ME);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      identityOf(await provider.authenticate(bearer(TOKEN)));
      expect(h.cache.hits).to.equal(1);
    });
    it('a token revoked after caching stops working once the TTL passes', async () => {
      serveDebug(200, debug());
      serveMe(200, ME);
      const provider = await make(h);
      identityOf(await provider.authenticate(bearer(TOKEN)));
      serveDebug(200, debug({ is_valid: false }));
      h.clock.advance(60_001);
      expectFailure(await provider.authenticate(bearer(TOKEN)), 'invalid_token', 'token not valid');
    });
    it('concurrent identical tokens make one call', async () => {
      nock(GRAPH).get('/v23.0/debug_token').query(true).delay(20).reply(200, debug(), JSON_HEADERS);
      serveMe(200, ME);
      const provider = await make(h);
      const results = await Promise.all([1, 2, 3].map(() => provider.authenticate(bearer(TOKEN))));
      expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
      expect(h.cache.misses).to.equal(1);
    });
  });

  it('inspect returns the raw /me answer; oauthClient names the versioned endpoints', async () => {
    serveMe(200, ME);
    const provider = await make(h);
    expect(await provider.inspect!(TOKEN)).to.deep.equal(ME);
    expect(await provider.oauthClient!()).to.deep.equal({
      authorizationEndpoint: 'https://www.facebook.com/v23.0/dialog/oauth',
      tokenEndpoint: 'https://graph.facebook.com/v23.0/oauth/access_token',
      clientId: APP_ID,
      clientSecret: APP_SECRET,
      clientAuth: 'body',
      scope: 'public_profile email',
    });
  });
});

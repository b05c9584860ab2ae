// Console sessions: the cookie's attributes, expiry and sealing, CSRF on changes, OIDC sign-in for an admin group, and the actor of a session's changes.
import { generateKeyPair, SignJWT } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import nock from 'nock';
import request from 'supertest';
import { z } from 'zod';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import type { ProviderPlugin } from '../../../core/provider.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { ADMIN_TOKEN, FIXED_TIME, listen, type Listening } from '../fixtures.js';

const IDP = 'https://idp.example.test';
const CLIENT_ID = 'portcullis-console';

/** An OpenID kind in miniature: its issuer, an OAuth client, and access tokens `at-<user>` naming users of fixed groups. */
const GROUPS: Readonly<Record<string, string[]>> = { ann: ['admins', 'dev'], bob: ['dev'] };
const oidcLike: ProviderPlugin<{ clientId: string }> = {
  kind: 'oidc-like',
  description: 'test kind: an issuer with an OAuth client',
  configSchema: z.object({ clientId: z.string() }).strict(),
  create: (config, deps) => ({
    id: deps.id,
    kind: 'oidc-like',
    issuers: [IDP],
    status: () => ({ ready: true }),
    async authenticate(credential) {
      const user = credential.secret.replace(/^at-/, '');
      const groups = GROUPS[user];
      if (!credential.secret.startsWith('at-') || !groups) return { outcome: 'not_responsible' };
      return { outcome: 'identity', identity: { subject: `sub-${user}`, username: user, groups, scopes: [], provider: deps.id } };
    },
    oauthClient: async () => ({
      authorizationEndpoint: `${IDP}/authorize`,
      tokenEndpoint: `${IDP}/token`,
      clientId: config.clientId,
      clientSecret: 'console-client-secret',
      clientAuth: 'basic' as const,
      scope: 'profile',
    }),
  }),
};

interface Cookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
}

function cookiesOf(res: request.Response): Cookie[] {
  const lines = ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []);
  return lines.map((line) => {
    const [pair = '', ...rest] = line.split(';').map((s) => s.trim());
    const at = pair.indexOf('=');
    const attributes: Record<string, string | true> = {};
    for (const a of rest) {
      const eq = a.indexOf('=');
      if (eq < 0) attributes[a.toLowerCase()] = true;
      else attributes[a.slice(0, eq).toLowerCase()] = a.slice(eq + 1);
    }
    return { name: pair.slice(0, at), value: pair.slice(at + 1), attributes };
  });
}

const cookieNamed = (res: request.Response, name: string): Cookie | undefined => cookiesOf(res).find((c) => c.name === name);

describe('server/admin console sessions', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let clock: ManualClock;
  let admin: Listening;
  const sessionKey = randomBytes(32);
  let signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

  before(async () => {
    ({ privateKey: signingKey } = await generateKeyPair('RS256'));
  });

  beforeEach(async () => {
    clock = new ManualClock(FIXED_TIME);
    store = new MemoryEventStore({ clock });
    runtime = await Runtime.start({
      store,
      plugins: { get: (k) => (k === 'oidc-like' ? (oidcLike as ProviderPlugin) : undefined), kinds: () => ['oidc-like'] },
      fetch: globalThis.fetch,
      clock,
      logger: silentLogger,
      adminToken: ADMIN_TOKEN,
    });
    admin = await listen(createAdminApp({ runtime, logger: silentLogger, sessionKey }).callback());
  });

  afterEach(async () => {
    await admin.close();
    await runtime.close();
  });

  const bearer = `Bearer ${ADMIN_TOKEN}`;

  /** Sign in with the admin token: the cookie, and the CSRF token from the answer. */
  async function signInWithToken(): Promise<{ cookie: string; csrf: string; res: request.Response }> {
    const res = await request(admin.url).post('/api/v1/session').set('authorization', bearer).expect(201);
    const c = cookieNamed(res, 'portcullis_session');
    expect(c, 'a session cookie').to.not.equal(undefined);
    return { cookie: `portcullis_session=${c!.value}`, csrf: res.body.csrfToken as string, res };
  }

  describe('sign-in with the admin token', () => {
    it('sets an HttpOnly, SameSite=Strict cookie on /api/v1 with Max-Age, and never echoes the token', async () => {
      const { res } = await signInWithToken();
      const c = cookieNamed(res, 'portcullis_session')!;
      expect(c.attributes).to.deep.equal({ path: '/api/v1', 'max-age': '28800', httponly: true, samesite: 'Strict' });
      expect(c.value).to.match(/^[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+$/); // a compact JWE (dir): no encrypted key part
      expect(res.text + JSON.stringify(res.headers)).to.not.include(ADMIN_TOKEN);
      expect(res.body).to.include({ actor: 'admin', method: 'admin_token', expiresAt: new Date(FIXED_TIME - (FIXED_TIME % 1000) + 28_800_000).toISOString() });
      expect(res.body.csrfToken).to.be.a('string').with.length.greaterThan(20);
    });

    it('the cookie alone reads the API; GET /session gives the same CSRF token', async () => {
      const { cookie, csrf } = await signInWithToken();
      await request(admin.url).get('/api/v1/settings').set('cookie', cookie).expect(200);
      const me = await request(admin.url).get('/api/v1/session').set('cookie', cookie).expect(200);
      expect(me.body).to.include({ actor: 'admin', method: 'admin_token', csrfToken: csrf });
      const bearerOnly = await request(admin.url).get('/api/v1/session').set('authorization', bearer).expect(200);
      expect(bearerOnly.body).to.deep.equal({ actor: 'admin', method: 'admin_token' });
    });

    it('is Secure over https from a trusted proxy, and not when the proxy is not trusted', async () => {
      const viaProxy = await request(admin.url).post('/api/v1/session').set('authorization', bearer).set('x-forwarded-proto', 'https').expect(201);
      expect(cookieNamed(viaProxy, 'portcullis_session')!.attributes.secure).to.equal(true);
      await runtime.commands.changeSettings({ ip: { trustedProxies: [] } }, undefined, { actor: 'test' });
      await runtime.whenCompiled();
      const untrusted = await request(admin.url).post('/api/v1/session').set('authorization', bearer).set('x-forwarded-proto', 'https').expect(201);
      expect(cookieNamed(untrusted, 'portcullis_session')!.attributes).to.not.have.property('secure');
    });

    it('refuses a session cookie as the credential to sign in with the admin token', async () => {
      const { cookie, csrf } = await signInWithToken();
      const res = await request(admin.url).post('/api/v1/session').set('cookie', cookie).set('x-csrf-token', csrf).expect(400);
      expect(res.body.error).to.equal('invalid_request');
    });
  });

  describe('expiry and sealing', () => {
    it('expires after console.sessionMinutes: 401 invalid_session, and the cookie is removed', async () => {
      const { cookie } = await signInWithToken();
      clock.advance(28_800_000 - 1000);
      await request(admin.url).get('/api/v1/settings').set('cookie', cookie).expect(200);
      clock.advance(1000);
      const res = await request(admin.url).get('/api/v1/settings').set('cookie', cookie).expect(401);
      expect(res.body.error).to.equal('invalid_session');
      expect(cookieNamed(res, 'portcullis_session')?.attributes['max-age']).to.equal('0');
    });

    it('follows the configured lifetime', async () => {
      await runtime.commands.changeSettings({ console: { sessionMinutes: 5 } }, undefined, { actor: 'test' });
      const { res, cookie } = await signInWithToken();
      expect(cookieNamed(res, 'portcullis_session')!.attributes['max-age']).to.equal('300');
      clock.advance(300_000);
      expect((await request(admin.url).get('/api/v1/settings').set('cookie', cookie).expect(401)).body.error).to.equal('invalid_session');
    });

    it('refuses an altered cookie and one sealed under another key; another node with the same key accepts it', async () => {
      const { cookie } = await signInWithToken();
      const value = cookie.slice('portcullis_session='.length);
      const parts = value.split('.');
      const flipped = (s: string) => (s[5] === 'A' ? `${s.slice(0, 5)}B${s.slice(6)}` : `${s.slice(0, 5)}A${s.slice(6)}`);
      for (const altered of [1, 2, 3, 4].filter((i) => parts[i]).map((i) => parts.map((p, j) => (j === i ? flipped(p) : p)).join('.'))) {
        const res = await request(admin.url).get('/api/v1/settings').set('cookie', `portcullis_session=${altered}`).expect(401);
        expect(res.body.error).to.equal('invalid_session');
      }
      const otherKey = await listen(createAdminApp({ runtime, logger: silentLogger, sessionKey: randomBytes(32) }).callback());
      const sameKey = await listen(createAdminApp({ runtime, logger: silentLogger, sessionKey: Buffer.from(sessionKey) }).callback());
      try {
        expect((await request(otherKey.url).get('/api/v1/settings').set('cookie', cookie).expect(401)).body.error).to.equal('invalid_session');
        await request(sameKey.url).get('/api/v1/settings').set('cookie', cookie).expect(200);
      } finally {
        await otherKey.close();
        await sameKey.close();
      }
    });

    it('sign-out removes the cookie', async () => {
      const { cookie, csrf } = await signInWithToken();
      const res = await request(admin.url).delete('/api/v1/session').set('cookie', cookie).set('x-csrf-token', csrf).expect(204);
      expect(cookieNamed(res, 'portcullis_session')).to.deep.include({ value: '' });
      expect(cookieNamed(res, 'portcullis_session')!.attributes).to.include({ 'max-age': '0', path: '/api/v1' });
    });
  });

  describe('CSRF', () => {
    it('refuses a change made with the cookie without its CSRF token, or with a wrong one: 403 csrf_token_invalid', async () => {
      const { cookie, csrf } = await signInWithToken();
      const other = await signInWithToken();
      expect(other.csrf).to.not.equal(csrf);
      for (const token of [undefined, '', 'x', other.csrf, csrf.toUpperCase()]) {
        let call = request(admin.url).patch('/api/v1/settings').set('cookie', cookie).send({ enabled: false });
        if (token !== undefined) call = call.set('x-csrf-token', token);
        const res = await call.expect(403);
        expect(res.body.error, String(token)).to.equal('csrf_token_invalid');
      }
      for (const [method, path] of [['delete', '/api/v1/tokens/nope'], ['post', '/api/v1/tokens'], ['put', '/api/v1/providers/p'], ['delete', '/api/v1/session']] as const) {
        expect((await request(admin.url)[method](path).set('cookie', cookie).send({}).expect(403)).body.error, `${method} ${path}`).to.equal('csrf_token_invalid');
      }
      expect(await store.readAll()).to.have.length(0);
      await request(admin.url).patch('/api/v1/settings').set('cookie', cookie).set('x-csrf-token', csrf).send({ enabled: false }).expect(200);
      const [event] = await store.readAll();
      expect(event!.metadata).to.include({ actor: 'admin' });
    });

    it('does not concern Bearer calls, even with a session cookie beside them', async () => {
      const { cookie } = await signInWithToken();
      await request(admin.url).patch('/api/v1/settings').set('authorization', bearer).send({ enabled: false }).expect(200);
      await request(admin.url).patch('/api/v1/settings').set('authorization', bearer).set('cookie', cookie).send({ enabled: true }).expect(200);
    });
  });

  describe('sign-in with OpenID Connect for an admin group', () => {
    const configure = async (consoleSettings: Record<string, unknown> = { signInProvider: 'corp', adminGroups: ['admins'] }) => {
      await runtime.commands.configureProvider('corp', { kind: 'oidc-like', config: { clientId: CLIENT_ID } }, undefined, { actor: 'test' });
      await runtime.commands.changeSettings({ console: consoleSettings }, undefined, { actor: 'test' });
      await runtime.whenCompiled();
    };

    /** Step 1: the redirect to the provider and the sealed flow cookie. */
    async function start() {
      const res = await request(admin.url).get('/api/v1/session/oidc').expect(302);
      const url = new URL(res.headers.location as string);
      const flow = cookieNamed(res, 'portcullis_sign_in')!;
      return { res, url, flow, params: Object.fromEntries(url.searchParams), cookie: `portcullis_sign_in=${flow.value}` };
    }

    const idToken = (claims: Record<string, unknown>) =>
      new SignJWT({ sub: 'sub-x', ...claims })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(IDP)
        .setAudience(CLIENT_ID)
        .setIssuedAt(Math.floor(FIXED_TIME / 1000))
        .setExpirationTime(Math.floor(FIXED_TIME / 1000) + 300)
        .sign(signingKey);

    /** The provider's token endpoint answers once for `code`, checking the PKCE verifier against `challenge`. */
    function tokenEndpoint(code: string, challenge: string, answer: Record<string, unknown>) {
      let verified = false;
      nock(IDP)
        .post('/token', (form: Record<string, string>) => {
          verified = createHash('sha256').update(form.code_verifier ?? '').digest('base64url') === challenge;
          return form.grant_type === 'authorization_code' && form.code === code && form.redirect_uri === `${admin.url}/api/v1/session/oidc/callback`;
        })
        .basicAuth({ user: CLIENT_ID, pass: 'console-client-secret' })
        .reply(200, { token_type: 'Bearer', ...answer });
      return () => verified;
    }

    it('offers the provider, and says when none is configured', async () => {
      expect((await request(admin.url).get('/api/v1/session/options').expect(200)).body).to.deep.equal({ adminToken: true, oidc: null });
      expect((await request(admin.url).get('/api/v1/session/oidc').expect(409)).body.error).to.equal('sign_in_not_configured');
      await configure();
      expect((await request(admin.url).get('/api/v1/session/options').expect(200)).body).to.deep.equal({
        adminToken: true,
        oidc: { provider: 'corp', signInUrl: '/api/v1/session/oidc' },
      });
    });

    it('refuses a sign-in provider without admin groups (settings validation)', async () => {
      const res = await request(admin.url).patch('/api/v1/settings').set('authorization', bearer).send({ console: { signInProvider: 'corp' } }).expect(400);
      expect(res.body.fields.map((f: { path: string }) => f.path)).to.include('console.adminGroups');
    });

    it('signs a member of an admin group in: code with PKCE, state and nonce; the session acts as oidc:<provider>:<user>', async () => {
      await configure();
      const { params, flow, cookie } = await start();
      expect(params).to.include({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: `${admin.url}/api/v1/session/oidc/callback`, code_challenge_method: 'S256', scope: 'profile openid' });
      expect(params.state).to.match(/^[\w-]{32}$/);
      expect(params.nonce).to.match(/^[\w-]{24}$/);
      // Lax: the provider sends the browser back from another site.
      expect(flow.attributes).to.deep.equal({ path: '/api/v1/session/oidc/callback', 'max-age': '600', httponly: true, samesite: 'Lax' });

      const verified = tokenEndpoint('the-code', params.code_challenge!, { access_token: 'at-ann', id_token: await idToken({ nonce: params.nonce }) });
      const cb = await request(admin.url).get(`/api/v1/session/oidc/callback?code=the-code&state=${params.state}`).set('cookie', cookie).expect(303);
      expect(verified(), 'the PKCE verifier matches the challenge').to.equal(true);
      expect(cb.headers.location).to.equal('/console/');
      expect(cookieNamed(cb, 'portcullis_sign_in')!.attributes['max-age']).to.equal('0');
      const session = cookieNamed(cb, 'portcullis_session')!;
      expect(session.attributes).to.include({ path: '/api/v1', httponly: true, samesite: 'Strict', 'max-age': '28800' });

      const sessionCookie = `portcullis_session=${session.value}`;
      const me = await request(admin.url).get('/api/v1/session').set('cookie', sessionCookie).expect(200);
      expect(me.body).to.include({ actor: 'oidc:corp:ann', method: 'oidc', username: 'ann', provider: 'corp' });
      await request(admin.url).patch('/api/v1/settings').set('cookie', sessionCookie).set('x-csrf-token', me.body.csrfToken).send({ enabled: false }).expect(200);
      const events = await store.readAll();
      expect(events.at(-1)!.type).to.equal('SettingsChanged');
      expect(events.at(-1)!.metadata).to.include({ actor: 'oidc:corp:ann', sourceIp: '127.0.0.1' });

      // Taken out of the admin groups: the session ends at its next call.
      await runtime.commands.changeSettings({ console: { adminGroups: ['ops'] } }, undefined, { actor: 'test' });
      expect((await request(admin.url).get('/api/v1/settings').set('cookie', sessionCookie).expect(401)).body.error).to.equal('invalid_session');
    });

    it('refuses a user in none of the admin groups: 403 not_an_admin, no session', async () => {
      await configure();
      const { params, cookie } = await start();
      tokenEndpoint('c', params.code_challenge!, { access_token: 'at-bob', id_token: await idToken({ nonce: params.nonce }) });
      const res = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c&state=${params.state}`).set('cookie', cookie).expect(403);
      expect(res.body.error).to.equal('not_an_admin');
      expect(cookieNamed(res, 'portcullis_session')).to.equal(undefined);

      // A browser sees the same refusal as a page, with the code and a way back.
      const again = await start();
      tokenEndpoint('c2', again.params.code_challenge!, { access_token: 'at-bob', id_token: await idToken({ nonce: again.params.nonce }) });
      const page = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c2&state=${again.params.state}`).set('cookie', again.cookie).set('accept', 'text/html').expect(403);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(page.headers['content-security-policy']).to.equal("default-src 'none'");
      expect(page.text).to.include('<code id="error">not_an_admin</code>').and.include('href="/console/"');
      expect(cookieNamed(page, 'portcullis_session')).to.equal(undefined);
    });

    it('refuses a wrong nonce, a missing ID token, a foreign state, a missing or expired flow cookie', async () => {
      await configure();
      const first = await start();
      tokenEndpoint('c1', first.params.code_challenge!, { access_token: 'at-ann', id_token: await idToken({ nonce: 'another-nonce' }) });
      const wrongNonce = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c1&state=${first.params.state}`).set('cookie', first.cookie).expect(400);
      expect(wrongNonce.body.error).to.equal('invalid_id_token');

      const second = await start();
      tokenEndpoint('c2', second.params.code_challenge!, { access_token: 'at-ann' });
      const noIdToken = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c2&state=${second.params.state}`).set('cookie', second.cookie).expect(400);
      expect(noIdToken.body.error).to.equal('invalid_id_token');

      const third = await start();
      const other = await start();
      const foreign = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c3&state=${other.params.state}`).set('cookie', third.cookie).expect(400);
      expect(foreign.body.error).to.equal('invalid_state');
      const noCookie = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c3&state=${third.params.state}`).expect(400);
      expect(noCookie.body.error).to.equal('invalid_state');
      clock.advance(600_001);
      const expired = await request(admin.url).get(`/api/v1/session/oidc/callback?code=c3&state=${third.params.state}`).set('cookie', third.cookie).expect(400);
      expect(expired.body.error).to.equal('invalid_state');
      expect(nock.pendingMocks()).to.deep.equal([]);
    });
  });
});

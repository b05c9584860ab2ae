// Tests for the `oidc` provider: config, verification, claim mapping and the signing-key cache.
import { expect } from 'chai';
import {
  exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT,
  type CryptoKey, type JWK, type JWSHeaderParameters, type JWTPayload,
} from 'jose';
import nock from 'nock';
import type { Credential } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { IdentityCache } from '../../core/identity-cache.js';
import { silentLogger } from '../../core/logger.js';
import type { AuthResult } from '../../core/provider.js';
import { validateWith } from '../../core/validate.js';
import oidcPlugin, { createOidcProvider, oidcConfigSchema, type OidcConfig, type OidcProvider, type Scheduler } from '../../providers/oidc/index.js';
import { eventually } from '../support/eventually.js';

const ISSUER = 'https://idp.example.test';
const AUDIENCE = 'api://portcullis';
const JWKS_URI = `${ISSUER}/keys`;
const T0 = Date.UTC(2030, 0, 1);

interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

async function makeKey(kid: string, alg = 'RS256', withKid = true): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), alg, use: 'sig', ...(withKid ? { kid } : {}) };
  return { kid, alg, privateKey, publicKey, jwk };
}

const jwks = (...keys: TestKey[]) => ({ keys: keys.map((k) => k.jwk) });

/** A scheduler whose timers fire only when the test says so. */
class FakeScheduler implements Scheduler {
  readonly pending = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
  }
}

/** Serve the JWKS endpoint from a mutable answer and count calls. */
function serveJwks(answer: () => [number, unknown], path = '/keys') {
  const served = { calls: 0 };
  nock(ISSUER)
    .persist()
    .get(path)
    .reply(() => {
      served.calls += 1;
      return answer();
    });
  return served;
}

const bearer = (secret: string): Credential => ({ scheme: 'bearer', secret });

function expectFailure(result: AuthResult, code: string, description: string): void {
  expect(result).to.deep.equal({ outcome: 'failure', code, description });
}

function identityOf(result: AuthResult) {
  if (result.outcome !== 'identity') throw new Error(`expected identity, got ${JSON.stringify(result)}`);
  return result.identity;
}

describe('providers/oidc', function () {
  this.timeout(20_000);
  let keyA: TestKey;
  let keyB: TestKey;
  let keyEc: TestKey;
  let impostor: TestKey;
  let clock: ManualClock;
  let scheduler: FakeScheduler;
  const open: OidcProvider[] = [];

  before(async () => {
    [keyA, keyB, keyEc, impostor] = await Promise.all([makeKey('a'), makeKey('b'), makeKey('ec', 'ES256'), makeKey('a')]);
  });

  beforeEach(() => {
    clock = new ManualClock(T0);
    scheduler = new FakeScheduler();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });

  const nowSec = () => Math.floor(clock.now() / 1000);

  /** Sign a token with default claims; a claim set to undefined is left out. */
  async function sign(key: TestKey, claims: JWTPayload = {}, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
    const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: nowSec(), exp: nowSec() + 300, ...claims };
    for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
    const crit = header.crit ? Object.fromEntries(header.crit.map((c) => [c, true])) : undefined;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
      .sign(key.privateKey, crit ? { crit } : undefined);
  }

  function config(overrides: Record<string, unknown> = {}): OidcConfig {
    return oidcConfigSchema.parse({ issuer: ISSUER, audience: AUDIENCE, jwksUri: JWKS_URI, ...overrides });
  }

  async function started(overrides: Record<string, unknown> = {}, options: { timeoutMs?: number; maxBytes?: number } = {}) {
    const provider = createOidcProvider(
      config(overrides),
      { id: 'corp', fetch: globalThis.fetch, clock, logger: silentLogger, cache: new IdentityCache({ clock }) },
      { scheduler, ...options },
    );
    open.push(provider);
    await provider.start();
    return provider;
  }

  describe('configuration', () => {
    it('applies the documented defaults', () => {
      const cfg = oidcConfigSchema.parse({ issuer: ISSUER, audience: AUDIENCE });
      expect(cfg).to.deep.equal({
        issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256', 'ES256'], clockSkewSeconds: 60,
        usernameClaim: 'preferred_username', emailClaim: 'email', groupsClaim: 'groups',
        jwksCacheSeconds: 600, jwksCooldownSeconds: 30,
      });
    });

    it('refuses none and HS* algorithms with a field message', async () => {
      const result = await validateWith(oidcConfigSchema, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['RS256', 'none', 'HS256'] });
      expect(result.ok).to.equal(false);
      if (result.ok) return;
      expect(result.issues.map((i) => i.path)).to.deep.equal(['algorithms[1]', 'algorithms[2]']);
      expect(result.issues[0]?.message).to.match(/^'none' \(unsigned tokens\) is never accepted; use one of RS256/);
      expect(result.issues[1]?.message).to.match(/^'HS256' is symmetric/);
    });

    it('accepts https issuers and http only on loopback', async () => {
      for (const issuer of ['https://login.example.com/tenant/v2.0', 'http://127.0.0.1:9000', 'http://localhost:3000/realms/x', 'http://[::1]:8080']) {
        expect((await validateWith(oidcConfigSchema, { issuer, audience: AUDIENCE })).ok, issuer).to.equal(true);
      }
      for (const issuer of ['http://idp.example.com', 'ftp://idp.example.com', 'not a url', 'https://u:p@idp.example.com', 'https://idp.example.com/?a=1']) {
        const result = await validateWith(oidcConfigSchema, { issuer, audience: AUDIENCE });
        expect(result.ok, issuer).to.equal(false);
        if (!result.ok) expect(result.issues[0]?.path).to.equal('issuer');
      }
    });

    it('reports unknown fields, missing audience and out-of-range numbers as field errors', async () => {
      const result = await validateWith(oidcConfigSchema, {
        issuer: ISSUER, audience: [], clockSkewSeconds: 601, groupsClaim: 'a..b', surprise: 1,
      });
      expect(result.ok).to.equal(false);
      if (result.ok) return;
      expect(result.issues.map((i) => i.path)).to.have.members(['surprise', 'audience', 'clockSkewSeconds', 'groupsClaim']);
      const missing = await validateWith(oidcConfigSchema, { issuer: ISSUER });
      expect(missing.ok === false && missing.issues.map((i) => i.path)).to.deep.equal(['audience']);
    });

    it('is the default export, kind oidc, routed by its issuer', () => {
      expect(oidcPlugin.kind).to.equal('oidc');
      const provider = oidcPlugin.create(config(), { id: 'p1', fetch: globalThis.fetch, clock, logger: silentLogger, cache: new IdentityCache({ clock }) });
      expect(provider.issuers).to.deep.equal([ISSUER]);
      expect(provider.id).to.equal('p1');
      expect(provider.status()).to.deep.equal({ ready: false, detail: 'no signing keys: not fetched yet' });
    });
  });

  describe('verification with cached keys', () => {
    beforeEach(() => {
      serveJwks(() => [200, jwks(keyA, keyEc)]);
    });

    it('maps a valid token to an identity with the default claims', async () => {
      const provider = await started();
      expect(provider.status()).to.deep.equal({ ready: true });
      const token = await sign(keyA, {
        preferred_username: 'alice', email: 'alice@example.com', groups: ['dev', 'ops', 'dev'], jti: 'tok-1',
        scope: 'read write', azp: 'cli', name: 'Alice Secret', aud: [AUDIENCE, 'other'],
      });
      const identity = identityOf(await provider.authenticate(bearer(token)));
      expect(identity).to.deep.equal({
        subject: 'user-1', username: 'alice', email: 'alice@example.com', groups: ['dev', 'ops'], provider: 'corp',
        tokenId: 'tok-1', scopes: ['read', 'write'], expiresAt: (nowSec() + 300) * 1000,
        claims: { iss: ISSUER, aud: [AUDIENCE, 'other'], azp: 'cli', sub: 'user-1' },
      });
    });

    it('falls back to sub for the username and leaves email and groups empty when absent', async () => {
      const provider = await started();
      const identity = identityOf(await provider.authenticate(bearer(await sign(keyEc))));
      expect(identity.username).to.equal('user-1');
      expect(identity.email).to.equal(undefined);
      expect(identity.groups).to.deep.equal([]);
      expect(identity.tokenId).to.equal(undefined);
    });

    it('follows configured dot paths, colon keys and single-string groups', async () => {
      const provider = await started({ usernameClaim: 'profile.login', emailClaim: 'contact.mail', groupsClaim: 'realm_access.roles' });
      const token = await sign(keyA, { profile: { login: 'bob' }, contact: { mail: 'bob@example.com' }, realm_access: { roles: 'admin' } });
      const identity = identityOf(await provider.authenticate(bearer(token)));
      expect([identity.username, identity.email, identity.groups]).to.deep.equal(['bob', 'bob@example.com', ['admin']]);

      const cognito = await started({ groupsClaim: 'cognito:groups', usernameClaim: 'cognito:username' });
      const ctoken = await sign(keyA, { 'cognito:groups': ['g1', 'g2'], 'cognito:username': 'carol' });
      const cid = identityOf(await cognito.authenticate(bearer(ctoken)));
      expect([cid.username, cid.groups]).to.deep.equal(['carol', ['g1', 'g2']]);
    });

    it('refuses expired tokens and tokens not yet valid beyond the skew, accepts within it', async () => {
      const provider = await started({ clockSkewSeconds: 60 });
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { exp: nowSec() - 61 }))), 'invalid_token', 'token expired');
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { nbf: nowSec() + 61 }))), 'invalid_token', 'token not yet valid');
      identityOf(await provider.authenticate(bearer(await sign(keyA, { exp: nowSec() - 30 }))));
      identityOf(await provider.authenticate(bearer(await sign(keyA, { nbf: nowSec() + 30 }))));
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { exp: undefined }))), 'invalid_token', 'token has no exp claim');
    });

    it('refuses a token minted for another audience and accepts any configured audience', async () => {
      const provider = await started();
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { aud: 'api://other' }))), 'invalid_token', 'audience not accepted');
      const multi = await started({ audience: ['api://one', 'api://two'] });
      identityOf(await multi.authenticate(bearer(await sign(keyA, { aud: 'api://two' }))));
    });

    it('is not responsible for tokens of other issuers, but refuses our issuer signed by another key', async () => {
      const provider = await started();
      const foreign = await sign(keyA, { iss: 'https://other-idp.example.test' });
      expect(await provider.authenticate(bearer(foreign))).to.deep.equal({ outcome: 'not_responsible' });
      expectFailure(await provider.authenticate(bearer(await sign(impostor))), 'invalid_token', 'signature invalid');
    });

    it('refuses alg none, HS256 keyed with the public key, and algorithms not configured', async () => {
      const provider = await started({ algorithms: ['RS256'] });
      const unsigned = new UnsecuredJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: nowSec() + 300 }).encode();
      expectFailure(await provider.authenticate(bearer(unsigned)), 'invalid_token', 'unsigned token (alg none) not allowed');
      const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: nowSec() + 300 };
      for (const secret of [await exportSPKI(keyA.publicKey), JSON.stringify(keyA.jwk)]) {
        const forged = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'a' }).sign(new TextEncoder().encode(secret));
        expectFailure(await provider.authenticate(bearer(forged)), 'invalid_token', 'symmetric algorithm not allowed');
      }
      expectFailure(await provider.authenticate(bearer(await sign(keyEc))), 'invalid_token', 'algorithm not allowed');
    });

    it('refuses unknown critical headers and unaccepted token types', async () => {
      const provider = await started();
      const crit = await sign(keyA, {}, { crit: ['urn:example:must-understand'], 'urn:example:must-understand': 1 });
      expectFailure(await provider.authenticate(bearer(crit)), 'invalid_token', 'unsupported critical header');
      const wrongTyp = await sign(keyA, {}, { typ: 'secevent+jwt' });
      expectFailure(await provider.authenticate(bearer(wrongTyp)), 'invalid_token', 'token type not accepted');
      for (const typ of ['at+jwt', 'application/at+JWT', 'jwt', 'application/jwt']) {
        identityOf(await provider.authenticate(bearer(await sign(keyA, {}, { typ }))));
      }
      identityOf(await provider.authenticate(bearer(await sign(keyA, {}, { typ: undefined }))));
    });

    it('never fetches keys named by jku or x5u headers', async () => {
      const attacker = nock('https://attacker.example.test').get(/.*/).reply(200, jwks(impostor));
      const provider = await started();
      const viaJku = await sign(impostor, {}, { kid: 'evil', jku: 'https://attacker.example.test/jwks', x5u: 'https://attacker.example.test/cert' });
      expectFailure(await provider.authenticate(bearer(viaJku)), 'invalid_token', 'signing key not found');
      const ours = await sign(keyA, {}, { jku: 'https://attacker.example.test/jwks' });
      identityOf(await provider.authenticate(bearer(ours)));
      expect(attacker.isDone()).to.equal(false);
    });

    it('leaves non-JWT bearers, JWEs and basic credentials to other providers', async () => {
      const provider = await started();
      const cases: Credential[] = [
        bearer('opaque-token-123'),
        bearer('a.b'),
        bearer('eyJhbGciOiJSU0EtT0FFUCJ9.x.y.z.w'),
        bearer('not.a.jwt'),
        { scheme: 'basic', username: 'alice', secret: await sign(keyA) },
      ];
      for (const credential of cases) {
        expect(await provider.authenticate(credential), credential.secret).to.deep.equal({ outcome: 'not_responsible' });
      }
    });

    it('refuses malformed tokens of our issuer and tokens without sub', async () => {
      const provider = await started();
      const token = await sign(keyA);
      const [, payload, signature] = token.split('.');
      const badHeader = `${Buffer.from('{"alg":').toString('base64url')}.${payload}.${signature}`;
      expectFailure(await provider.authenticate(bearer(badHeader)), 'invalid_token', 'malformed token');
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { sub: undefined }))), 'invalid_token', 'token has no sub claim');
    });

    it('enforces required scopes from scope or scp', async () => {
      const provider = await started({ requiredScopes: ['read', 'admin'] });
      identityOf(await provider.authenticate(bearer(await sign(keyA, { scope: 'admin read' }))));
      identityOf(await provider.authenticate(bearer(await sign(keyA, { scp: ['read', 'admin'] }))));
      expectFailure(await provider.authenticate(bearer(await sign(keyA, { scope: 'read' }))), 'invalid_token', 'required scope missing');
    });
  });

  describe('discovery', () => {
    it('finds the JWKS through the discovery document', async () => {
      const discovery = nock(ISSUER).get('/.well-known/openid-configuration').times(1).reply(200, { issuer: ISSUER, jwks_uri: `${ISSUER}/oauth/jwks` });
      const served = serveJwks(() => [200, jwks(keyA)], '/oauth/jwks');
      const provider = await started({ jwksUri: undefined });
      expect(provider.status().ready).to.equal(true);
      identityOf(await provider.authenticate(bearer(await sign(keyA))));
      discovery.done();
      expect(served.calls).to.equal(1);
    });

    it('refuses a discovery document that names another issuer', async () => {
      nock(ISSUER).get('/.well-known/openid-configuration').reply(200, { issuer: 'https://evil.example.test', jwks_uri: `${ISSUER}/keys` });
      const served = serveJwks(() => [200, jwks(keyA)]);
      const provider = await started({ jwksUri: undefined });
      expect(provider.status()).to.deep.equal({ ready: false, detail: 'no signing keys: discovery document names a different issuer' });
      expectFailure(await provider.authenticate(bearer(await sign(keyA))), 'provider_unavailable', 'signing keys unavailable');
      expect(served.calls).to.equal(0);
    });
  });

  describe('key rotation', () => {
    it('refetches once for an unknown kid after the cooldown', async () => {
      nock(ISSUER).get('/keys').times(1).reply(200, jwks(keyA));
      const provider = await started();
      const rotated = nock(ISSUER).get('/keys').times(1).reply(200, jwks(keyA, keyB));
      clock.advance(31_000);
      identityOf(await provider.authenticate(bearer(await sign(keyB))));
      rotated.done();
      identityOf(await provider.authenticate(bearer(await sign(keyB))));
      identityOf(await provider.authenticate(bearer(await sign(keyA))));
    });

    it('shares one fetch among 20 concurrent unknown-kid tokens', async () => {
      let keys = jwks(keyA);
      const served = serveJwks(() => [200, keys]);
      const provider = await started();
      keys = jwks(keyA, keyB);
      clock.advance(31_000);
      const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => sign(keyB, { jti: `t${i}` })));
      const results = await Promise.all(tokens.map((t) => provider.authenticate(bearer(t))));
      expect(results.map((r) => r.outcome)).to.deep.equal(Array(20).fill('identity'));
      expect(served.calls).to.equal(2);
    });

    it('makes no call for a second unknown kid inside the cooldown', async () => {
      const served = serveJwks(() => [200, jwks(keyA)]);
      const provider = await started();
      clock.advance(31_000);
      expectFailure(await provider.authenticate(bearer(await sign(keyB))), 'invalid_token', 'signing key not found');
      expect(served.calls).to.equal(2);
      clock.advance(10_000);
      const forged = await Promise.all(['x1', 'x2', 'x3'].map((kid) => sign(keyB, {}, { kid })));
      for (const t of forged) expectFailure(await provider.authenticate(bearer(t)), 'invalid_token', 'signing key not found');
      expect(served.calls).to.equal(2);
    });

    it('keeps the stale keys when a refetch fails', async () => {
      let answer: [number, unknown] = [200, jwks(keyA)];
      const served = serveJwks(() => answer);
      const provider = await started();
      answer = [500, { error: 'down' }];
      clock.advance(31_000);
      expectFailure(await provider.authenticate(bearer(await sign(keyB))), 'provider_unavailable', 'signing keys unavailable');
      expect(served.calls).to.equal(2);
      identityOf(await provider.authenticate(bearer(await sign(keyA))));
      expect(provider.status()).to.deep.equal({
        ready: true,
        detail: `serving cached signing keys; last refresh failed: http_status: GET ${JWKS_URI}: answered HTTP 500`,
      });
      expect(scheduler.pending.size).to.equal(0);
    });

    it('refreshes aged keys in the background without blocking requests', async () => {
      let keys = jwks(keyA);
      const served = { calls: 0 };
      let held: Promise<void> = Promise.resolve();
      nock(ISSUER).persist().get('/keys').reply(async () => {
        served.calls += 1;
        await held;
        return [200, keys];
      });
      const provider = await started({ jwksCacheSeconds: 60 });
      keys = jwks(keyA, keyB);
      let release!: () => void;
      held = new Promise((resolve) => (release = resolve));
      clock.advance(61_000);
      // The refresh this request starts cannot finish before release(): its answer shows it did not wait for it
      // (a request that waited would never be answered, and the test would time out).
      identityOf(await provider.authenticate(bearer(await sign(keyA))));
      await eventually(() => served.calls === 2, { within: 5_000, what: 'the background refresh reaching the JWKS' });
      release();
      expect(await provider.refresh(), 'the background refresh, joined').to.equal(true);
      expect(served.calls).to.equal(2);
      identityOf(await provider.authenticate(bearer(await sign(keyB))));
    });
  });

  describe('verified-token reuse', () => {
    it('reuses a verified identity, but never past the token expiry', async () => {
      serveJwks(() => [200, jwks(keyA)]);
      const provider = await started();
      const token = await sign(keyA, { exp: nowSec() + 30 });
      identityOf(await provider.authenticate(bearer(token)));
      identityOf(await provider.authenticate(bearer(token)));
      clock.advance(31_000);
      // Past exp but within the 60 s clock skew jose allows: still valid, yet no longer taken from the cache.
      identityOf(await provider.authenticate(bearer(token)));
      clock.advance(60_000);
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'token expired');
    });

    it('judges a token again once the provider takes in new keys (a withdrawn key stops working)', async () => {
      let keys = jwks(keyA, keyB);
      serveJwks(() => [200, keys]);
      const provider = await started();
      const token = await sign(keyB);
      identityOf(await provider.authenticate(bearer(token)));
      keys = jwks(keyA);
      expect(await provider.refresh()).to.equal(true);
      clock.advance(31_000); // past the cooldown, so the unknown kid may be looked up again
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'signing key not found');
    });
  });

  describe('when the key endpoint is down', () => {
    it('starts not ready, answers provider_unavailable, retries with backoff and recovers', async () => {
      let answer: [number, unknown] = [503, {}];
      const served = serveJwks(() => answer);
      const provider = await started();
      expect(provider.status()).to.deep.equal({ ready: false, detail: `no signing keys: http_status: GET ${JWKS_URI}: answered HTTP 503` });
      const token = await sign(keyA);
      expectFailure(await provider.authenticate(bearer(token)), 'provider_unavailable', 'signing keys unavailable');
      expect(served.calls).to.equal(1);
      expect(scheduler.delays()).to.deep.equal([1_000]);

      scheduler.fireAll();
      await provider.refresh();
      expect(served.calls).to.equal(2);
      expect(scheduler.delays()).to.deep.equal([2_000]);

      answer = [200, jwks(keyA)];
      scheduler.fireAll();
      expect(await provider.refresh()).to.equal(true);
      expect(served.calls).to.equal(3);
      expect(scheduler.pending.size).to.equal(0);
      expect(provider.status()).to.deep.equal({ ready: true });
      identityOf(await provider.authenticate(bearer(token)));
    });

    it('recovers on a request once the cooldown has passed', async () => {
      let answer: [number, unknown] = [500, {}];
      const served = serveJwks(() => answer);
      const provider = await started();
      answer = [200, jwks(keyA)];
      const token = await sign(keyA);
      clock.advance(5_000);
      expectFailure(await provider.authenticate(bearer(token)), 'provider_unavailable', 'signing keys unavailable');
      expect(served.calls).to.equal(1);
      clock.advance(30_000);
      identityOf(await provider.authenticate(bearer(token)));
      expect(served.calls).to.equal(2);
    });

    const broken: [string, () => void, { timeoutMs?: number; maxBytes?: number }, string][] = [
      ['an oversized body', () => nock(ISSUER).get('/keys').reply(200, { keys: [], pad: 'x'.repeat(4_096) }), { maxBytes: 1_024 }, 'too_large'],
      ['malformed JSON', () => nock(ISSUER).get('/keys').reply(200, '{"keys": [', { 'content-type': 'application/json' }), {}, 'malformed'],
      ['a 500', () => nock(ISSUER).get('/keys').reply(500, 'oops'), {}, 'http_status'],
      ['a timeout', () => nock(ISSUER).get('/keys').delay(500).reply(200, jwks(keyA)), { timeoutMs: 50 }, 'timeout'],
      ['a refused connection', () => nock(ISSUER).get('/keys').replyWithError({ code: 'ECONNREFUSED' }), {}, 'unreachable'],
    ];
    for (const [what, serve, options, code] of broken) {
      it(`treats ${what} as unavailable`, async () => {
        serve();
        const provider = await started({}, options);
        const status = provider.status();
        expect(status.ready).to.equal(false);
        expect(status.detail).to.match(new RegExp(`^no signing keys: ${code}: `));
        expectFailure(await provider.authenticate(bearer(await sign(keyA))), 'provider_unavailable', 'signing keys unavailable');
      });
    }

    it('treats a key set without usable keys as unavailable', async () => {
      nock(ISSUER).get('/keys').reply(200, { keys: [{ ...keyA.jwk, use: 'enc' }] });
      const provider = await started();
      expect(provider.status()).to.deep.equal({ ready: false, detail: 'no signing keys: key set holds no signing keys' });
    });

    it('stops retrying on close', async () => {
      nock(ISSUER).get('/keys').reply(500, {});
      const provider = await started();
      expect(scheduler.pending.size).to.equal(1);
      await provider.close();
      expect(scheduler.pending.size).to.equal(0);
      expect(await provider.refresh()).to.equal(false);
    });
  });

  it('tries each key when several match a token without kid', async () => {
    const [first, second] = await Promise.all([makeKey('n1', 'RS256', false), makeKey('n2', 'RS256', false)]);
    nock(ISSUER).get('/keys').reply(200, jwks(first, second));
    const provider = await started();
    identityOf(await provider.authenticate(bearer(await sign(second, {}, { kid: undefined }))));
    expectFailure(await provider.authenticate(bearer(await sign(keyA, {}, { kid: undefined }))), 'invalid_token', 'signature invalid');
  });
});

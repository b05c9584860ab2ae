// The provider SDK's JWT half as a provider author uses it: verifyJwt's refusals, OpenID discovery's checks, and the key set's cache.
import { expect } from 'chai';
import { CompactSign, createLocalJWKSet, SignJWT } from 'jose';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import type { HttpFetch } from '../../core/provider.js';
import {
  compileMapping, discover, JwksKeySet, JwksVerifier, jwtValidator, KeySetError, KeysUnavailableError, verifyJwt, type JwtPolicy,
} from '../../providers/sdk/index.js';
import { idleScheduler, jwks, makeDeps, makeKey, manualScheduler, recordingLogger, signWith, T0, type TestKey } from './jwt-kit.js';

const ISSUER = 'https://idp.example.test/realm';
const JWKS_URI = 'https://idp.example.test/realm/jwks';

/** A fetch answering from a table of URLs (JSON bodies, or a thrown error), counting every call. */
function tableFetch(table: Record<string, unknown>): HttpFetch & { calls: string[] } {
  const calls: string[] = [];
  const fetch = (async (input: string | URL) => {
    const url = String(input);
    calls.push(url);
    const body = table[url];
    if (body instanceof Error) throw body;
    if (body === undefined) return new Response('{}', { status: 404, headers: { 'content-type': 'application/json' } });
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as HttpFetch & { calls: string[] };
  fetch.calls = calls;
  return fetch;
}

describe('provider SDK: verifyJwt, discover, JwksKeySet', () => {
  let key: TestKey;
  let other: TestKey;
  let clock: ManualClock;
  before(async () => {
    key = await makeKey('k1');
    other = await makeKey('k2');
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });
  const now = () => Math.floor(clock.now() / 1000);
  const policy: JwtPolicy = { issuers: [ISSUER], audience: 'api', algorithms: ['RS256'], clockToleranceSeconds: 0 };

  describe('verifyJwt', () => {
    const verify = (token: string, p: JwtPolicy = policy) => verifyJwt(token, createLocalJWKSet(jwks(key, other)), p, clock.now());

    it('refuses a token of another issuer signed with a trusted key: issuer not accepted', async () => {
      const token = await signWith(key, clock, { iss: 'https://evil.example.test', aud: 'api', sub: 'u', exp: now() + 60 });
      expect(await verify(token)).to.deep.equal({ ok: false, code: 'invalid_token', description: 'issuer not accepted', signed: true });
      expect(await verify(token, { ...policy, issuers: [] }), 'no issuer configured: not checked').to.include({ ok: true });
    });

    it('accepts any of several issuers, and refuses an audience outside the list', async () => {
      const p = { ...policy, issuers: ['https://a.example.test', ISSUER], audience: ['x', 'api'] };
      expect(await verify(await signWith(key, clock, { iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 }), p)).to.include({ ok: true });
      const elsewhere = await signWith(key, clock, { iss: ISSUER, aud: 'other', sub: 'u', exp: now() + 60 });
      expect(await verify(elsewhere, p)).to.deep.equal({ ok: false, code: 'invalid_token', description: 'audience not accepted', signed: true });
    });

    it('names the algorithm attack tried: none, a symmetric algorithm, or another one', async () => {
      const claims = { iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 };
      const forged = (alg: unknown) => `${Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
      const refusal = async (alg: unknown, algorithms = ['RS256']) => ((await verify(forged(alg), { ...policy, algorithms })) as { description: string }).description;
      expect(await refusal('none')).to.equal('unsigned token (alg none) not allowed');
      expect(await refusal('HS256')).to.equal('symmetric algorithm not allowed');
      for (const alg of ['XHS256', 'HS256X', 'ES256', ['HS256'], 256]) expect(await refusal(alg), JSON.stringify(alg)).to.equal('algorithm not allowed');
      // Where a symmetric algorithm is accepted, another one is refused as any other algorithm.
      expect(await refusal('HS512', ['RS256', 'HS256'])).to.equal('algorithm not allowed');
      // A policy naming an algorithm jose does not implement: jose refuses it (ERR_JOSE_NOT_SUPPORTED).
      expect(await refusal('ES256K', ['RS256', 'ES256K'])).to.equal('algorithm not allowed');
    });

    it('refuses a token that is not a JWT, or whose signature is not base64url, as malformed and not signed', async () => {
      const [header, payload] = (await signWith(key, clock, { iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 })).split('.');
      for (const token of ['not-a-jwt', `${header}.${payload}.A`]) {
        expect(await verify(token), token).to.deep.equal({ ok: false, code: 'invalid_token', description: 'malformed token', signed: false });
      }
    });

    it('refuses a correctly signed token whose payload is not a JSON object as malformed, and says it was signed', async () => {
      for (const payload of ['[1]', '"text"', 'not json']) {
        const token = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
        expect(await verify(token), payload).to.deep.equal({ ok: false, code: 'invalid_token', description: 'malformed token', signed: true });
      }
    });

    it('tries every key when the token names none, and reports an expired token as expired, not as a bad signature', async () => {
      const noKid = (claims: Record<string, unknown>) =>
        new SignJWT({ iat: now(), ...claims }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(other.privateKey);
      const set = createLocalJWKSet({ keys: [key.jwk, other.jwk].map(({ kid: _kid, ...jwk }) => jwk) });
      const fresh = await noKid({ iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 });
      expect(await verifyJwt(fresh, set, policy, clock.now())).to.include({ ok: true });
      const stale = await noKid({ iss: ISSUER, aud: 'api', sub: 'u', exp: now() - 60 });
      expect(await verifyJwt(stale, set, policy, clock.now())).to.deep.equal({ ok: false, code: 'invalid_token', description: 'token expired', signed: true });
    });
  });

  describe('jwtValidator for a provider that cannot tell its tokens from others (unverified: not_responsible)', () => {
    const mapping = compileMapping({ usernameClaim: 'sub', emailClaim: 'email', groupsClaim: 'groups' });
    const validate = () =>
      jwtValidator({ providerId: 'key', clock, getKey: createLocalJWKSet(jwks(key)), policy: { ...policy, issuers: [] }, mapping, unverified: 'not_responsible' });
    const base = () => ({ aud: 'api', sub: 'u', exp: now() + 60 });

    it('leaves a token its key does not verify to other providers', async () => {
      expect(await validate()(await signWith({ ...other, kid: key.kid }, clock, base()))).to.deep.equal({ outcome: 'not_responsible' });
    });

    it('refuses a token its key verifies but whose claims fail, saying which', async () => {
      const failure = async (claims: Record<string, unknown>) => validate()(await signWith(key, clock, { ...base(), ...claims }));
      expect(await failure({ exp: now() - 60 })).to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'token expired' });
      expect(await failure({ sub: undefined })).to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'token has no sub claim' });
      expect(await failure({ nbf: now() + 600 })).to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'token not yet valid' });
      expect(await failure({ exp: 'soon' })).to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'malformed token' });
      const notAnObject = await new CompactSign(new TextEncoder().encode('[1]')).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
      expect(await validate()(notAnObject), 'signed, so its own').to.deep.equal({ outcome: 'failure', code: 'invalid_token', description: 'malformed token' });
    });
  });

  describe('discover', () => {
    const http = { timeoutMs: 1000, maxBytes: 65_536 };
    const good = { issuer: ISSUER, jwks_uri: JWKS_URI };

    it('reads the document under the issuer, one trailing slash or several dropped', async () => {
      for (const issuer of [ISSUER, `${ISSUER}/`, `${ISSUER}//`]) {
        const fetch = tableFetch({ [`${ISSUER}/.well-known/openid-configuration`]: { ...good, issuer } });
        expect((await discover(fetch, issuer, http)).jwksUri, issuer).to.equal(JWKS_URI);
      }
    });

    it('refuses a document that is not an object, names another issuer or has no usable jwks_uri', async () => {
      const refusal = async (doc: unknown) => {
        const fetch = tableFetch({ [`${ISSUER}/.well-known/openid-configuration`]: doc });
        return discover(fetch, ISSUER, http).then(
          () => 'accepted',
          (err: unknown) => (err instanceof KeySetError ? err.message : `other: ${String(err)}`),
        );
      };
      for (const doc of [null, [good], 'text', 42]) expect(await refusal(doc), JSON.stringify(doc)).to.equal('discovery document is not a JSON object');
      expect(await refusal({ ...good, issuer: 'https://evil.example.test' })).to.equal('discovery document names a different issuer');
      for (const jwksUri of [undefined, 42, 'http://idp.example.test/jwks', 'not a url', 'https://user:pw@idp.example.test/jwks']) {
        expect(await refusal({ ...good, jwks_uri: jwksUri }), String(jwksUri)).to.equal('discovery document has no usable jwks_uri');
      }
    });

    it('keeps the optional endpoints only when they are usable URLs', async () => {
      const fetch = tableFetch({
        [`${ISSUER}/.well-known/openid-configuration`]: {
          ...good,
          authorization_endpoint: `${ISSUER}/authorize`,
          token_endpoint: 'http://idp.example.test/token',
          userinfo_endpoint: 42,
          introspection_endpoint: `${ISSUER}/introspect`,
        },
      });
      expect(await discover(fetch, ISSUER, http)).to.deep.equal({
        issuer: ISSUER, jwksUri: JWKS_URI, authorizationEndpoint: `${ISSUER}/authorize`, introspectionEndpoint: `${ISSUER}/introspect`,
      });
    });
  });

  describe('JwksKeySet', () => {
    const keySet = (fetch: HttpFetch, over: { cacheMs?: number; cooldownMs?: number } = {}) =>
      new JwksKeySet({ issuer: ISSUER, jwksUri: JWKS_URI, cacheMs: 3_600_000, cooldownMs: 30_000, fetch, clock, logger: silentLogger, scheduler: idleScheduler, ...over });
    const verifyWith = (set: JwksKeySet, token: string) => verifyJwt(token, set.getKey, policy, clock.now());
    const signed = (k: TestKey) => signWith(k, clock, { iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 3600 });

    it('takes keys that do not say what they are for, and skips entries that are not keys', async () => {
      const { use: _use, ...plain } = key.jwk;
      const set = keySet(tableFetch({ [JWKS_URI]: { keys: [{ note: 'not a key' }, plain] } }));
      await set.start();
      expect(set.ready).to.equal(true);
      expect(await verifyWith(set, await signed(key))).to.include({ ok: true });
    });

    it('refuses a set without signing keys, with a reason the operator can read', async () => {
      for (const [body, reason] of [
        [{ keys: 'none' }, 'key set has no "keys" array'],
        [null, 'key set has no "keys" array'],
        [{ keys: [{ ...key.jwk, use: 'enc' }, { note: 'x' }] }, 'key set holds no signing keys'],
        // jose refuses a whole set that holds an entry other than an object, even beside a good key.
        [{ keys: [null, key.jwk] }, 'key set is malformed'],
      ] as const) {
        const set = keySet(tableFetch({ [JWKS_URI]: body }));
        await set.start();
        expect(set.ready, JSON.stringify(body)).to.equal(false);
        expect(set.detail, JSON.stringify(body)).to.equal(`no signing keys: ${reason}`);
      }
    });

    it('a fetch that fails: unavailable (503 for the caller), and the detail names the URL, not the error inside', async () => {
      const set = keySet(tableFetch({ [JWKS_URI]: new Error('internal detail at /srv/secret') }));
      await set.start();
      expect(set.detail).to.equal(`no signing keys: unreachable: GET ${JWKS_URI}: unreachable`);
      const refused = await verifyWith(set, await signed(key));
      expect(refused).to.deep.equal({ ok: false, code: 'provider_unavailable', description: 'signing keys unavailable', signed: false });
    });

    it('keeps fetched keys for cacheSeconds: a known kid asks the issuer nothing before then, and refreshes once after', async () => {
      const fetch = tableFetch({ [JWKS_URI]: jwks(key) });
      const verifier = new JwksVerifier({
        deps: { ...makeDeps(clock), fetch }, policy, mapping: compileMapping({ usernameClaim: 'sub', emailClaim: 'email', groupsClaim: 'groups' }),
        jwksUri: JWKS_URI, cacheSeconds: 3600, cooldownSeconds: 30, fetchOptions: { scheduler: idleScheduler },
      });
      await verifier.start();
      expect(fetch.calls).to.have.length(1);
      clock.advance(60_000); // past the cooldown, well inside the cache age
      expect(await verifier.verify(await signed(key))).to.include({ outcome: 'identity' });
      expect(fetch.calls, 'no refresh inside the cache age').to.have.length(1);
      clock.advance(3_600_000);
      expect(await verifier.verify(await signed(key))).to.include({ outcome: 'identity' });
      expect(fetch.calls, 'one refresh once the cache age has passed').to.have.length(2);
      verifier.close();
    });

    it('an unknown kid while the issuer cannot be asked again: 503 when the last fetch failed, 401 when it did not', async () => {
      const table: Record<string, unknown> = { [JWKS_URI]: jwks(key) };
      const set = keySet(tableFetch(table));
      await set.start();
      clock.advance(1000);
      expect(await verifyWith(set, await signed(other))).to.include({ ok: false, code: 'invalid_token', description: 'signing key not found' });
      clock.advance(60_000);
      table[JWKS_URI] = new Error('down');
      expect(await set.refresh()).to.equal(false);
      clock.advance(1000); // inside the cooldown again
      expect(await verifyWith(set, await signed(other))).to.deep.equal({ ok: false, code: 'provider_unavailable', description: 'signing keys unavailable', signed: false });
      expect(await verifyWith(set, await signed(key)), 'the cached keys still serve').to.include({ ok: true });
    });

    it('start gives up waiting when its signal aborts (the start-up deadline of the gateway), and does not wait at all on an aborted one', async () => {
      const hanging = (() => new Promise<Response>(() => {})) as HttpFetch;
      const set = keySet(hanging);
      const deadline = new AbortController();
      const started = set.start(deadline.signal);
      deadline.abort();
      await started;
      await keySet(hanging).start(AbortSignal.abort());
      expect(set.ready).to.equal(false);
      expect(set.detail).to.equal('no signing keys: not fetched yet');
    });

    it('starts a background refresh once the keys are exactly cacheSeconds old, not a millisecond before', async () => {
      const fetch = tableFetch({ [JWKS_URI]: jwks(key) });
      const set = keySet(fetch);
      await set.start();
      clock.advance(3_599_999);
      expect(await verifyWith(set, await signed(key))).to.include({ ok: true });
      expect(fetch.calls).to.have.length(1);
      clock.advance(1);
      expect(await verifyWith(set, await signed(key))).to.include({ ok: true });
      expect(fetch.calls).to.have.length(2);
    });

    it('a token without kid that several held keys match is verified without fetching the key set again', async () => {
      const fetch = tableFetch({ [JWKS_URI]: { keys: [key.jwk, other.jwk].map(({ kid: _kid, ...jwk }) => jwk) } });
      const set = keySet(fetch);
      await set.start();
      clock.advance(60_000); // past the cooldown: a refetch would be allowed
      const token = await new SignJWT({ iss: ISSUER, aud: 'api', sub: 'u', exp: now() + 60 }).setProtectedHeader({ alg: 'RS256' }).sign(other.privateKey);
      expect(await verifyWith(set, token)).to.include({ ok: true });
      expect(fetch.calls).to.have.length(1);
    });

    it('getKey, for a provider that verifies with jose itself: KeysUnavailableError with the last failure, or a fixed text when there is none', async () => {
      const rejection = (set: JwksKeySet, kid: string) =>
        set.getKey({ alg: 'RS256', kid }, { payload: '', signature: '' }).then(
          () => 'resolved',
          (err: unknown) => (err instanceof KeysUnavailableError ? { name: err.name, code: err.code, message: err.message } : `other: ${String(err)}`),
        );
      const failing = keySet(tableFetch({ [JWKS_URI]: new Error('down') }));
      await failing.start();
      clock.advance(60_000);
      expect(await rejection(failing, key.kid)).to.deep.equal({ name: 'KeysUnavailableError', code: 'keys_unavailable', message: `unreachable: GET ${JWKS_URI}: unreachable` });
      const closed = keySet(tableFetch({ [JWKS_URI]: jwks(key) }));
      closed.close();
      expect(await rejection(closed, key.kid), 'never fetched').to.deep.equal({ name: 'KeysUnavailableError', code: 'keys_unavailable', message: 'no signing keys' });
      const held = keySet(tableFetch({ [JWKS_URI]: jwks(key) }));
      await held.start();
      held.close();
      clock.advance(60_000);
      expect(await rejection(held, other.kid), 'an unknown kid, no refresh possible').to.deep.equal({
        name: 'KeysUnavailableError', code: 'keys_unavailable', message: 'signing keys could not be refreshed',
      });
    });

    it('logs what the operator needs: keys fetched (debug, the URL without its query), a failure with no keys (error), a failed refresh (warn), each with the issuer, reason and count', async () => {
      const uri = `${JWKS_URI}?tenant=t1`;
      const table: Record<string, unknown> = { [uri]: new Error('down') };
      const logger = recordingLogger();
      const set = new JwksKeySet({ issuer: ISSUER, jwksUri: uri, cacheMs: 3_600_000, cooldownMs: 30_000, fetch: tableFetch(table), clock, logger, scheduler: idleScheduler });
      await set.start();
      table[uri] = jwks(key);
      clock.advance(60_000);
      expect(await set.refresh()).to.equal(true);
      table[uri] = { keys: 'none' };
      clock.advance(60_000);
      expect(await set.refresh()).to.equal(false);
      expect(await set.refresh()).to.equal(false);
      expect(logger.records).to.deep.equal([
        { level: 'error', fields: { issuer: ISSUER, error: `unreachable: GET ${JWKS_URI}: unreachable`, failures: 1 }, msg: 'signing keys could not be fetched; provider unavailable' },
        { level: 'debug', fields: { jwksUri: JWKS_URI }, msg: 'signing keys fetched' },
        { level: 'warn', fields: { issuer: ISSUER, error: 'key set has no "keys" array', failures: 1 }, msg: 'signing keys could not be refreshed; keeping cached keys' },
        { level: 'warn', fields: { issuer: ISSUER, error: 'key set has no "keys" array', failures: 2 }, msg: 'signing keys could not be refreshed; keeping cached keys' },
      ]);
    });

    it('an error that is neither an HTTP nor a key-set failure: "unexpected error" in the status, the error itself only in the log', async () => {
      const logger = recordingLogger();
      // timeoutMs 0 is a caller's mistake the HTTP helper throws a TypeError for.
      const set = new JwksKeySet({ issuer: ISSUER, jwksUri: JWKS_URI, cacheMs: 60_000, cooldownMs: 30_000, fetch: tableFetch({}), clock, logger, scheduler: idleScheduler, timeoutMs: 0 });
      await set.start();
      expect(set.detail).to.equal('no signing keys: unexpected error');
      expect(logger.records.map((r) => [r.level, r.msg])).to.deep.equal([
        ['error', 'signing keys could not be fetched; provider unavailable'],
        ['error', 'unexpected key fetch error'],
      ]);
      expect(logger.records[0]!.fields).to.deep.equal({ issuer: ISSUER, error: 'unexpected error', failures: 1 });
      expect(logger.records[1]!.fields.err).to.be.instanceOf(TypeError).with.property('message', 'fetchJson: timeoutMs and maxBytes must be positive');
    });

    it('a fetch that close() aborts is no failure: nothing logged, no retry, refresh answers false', async () => {
      const calls: string[] = [];
      const abortable = ((url: string, init?: RequestInit) => {
        calls.push(url);
        return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
      }) as HttpFetch;
      const logger = recordingLogger();
      const scheduler = manualScheduler();
      const set = new JwksKeySet({ issuer: ISSUER, jwksUri: JWKS_URI, cacheMs: 60_000, cooldownMs: 30_000, fetch: abortable, clock, logger, scheduler });
      const pending = set.refresh();
      expect(calls).to.deep.equal([JWKS_URI]);
      set.close();
      expect(await pending).to.equal(false);
      expect(logger.records).to.deep.equal([]);
      expect(scheduler.delays).to.deep.equal([]);
      expect(set.detail).to.equal('no signing keys: not fetched yet');
    });

    it('keeps one start-up retry pending however many fetches fail before it fires, backing off on each', async () => {
      const fetch = tableFetch({ [JWKS_URI]: new Error('down') });
      const scheduler = manualScheduler();
      const set = new JwksKeySet({ issuer: ISSUER, jwksUri: JWKS_URI, cacheMs: 60_000, cooldownMs: 30_000, fetch, clock, logger: silentLogger, scheduler });
      await set.start();
      expect(scheduler.pending.size).to.equal(1);
      clock.advance(30_000);
      expect(await verifyWith(set, await signed(key))).to.include({ ok: false, code: 'provider_unavailable' });
      expect(fetch.calls, 'a token asked the issuer again').to.have.length(2);
      expect(scheduler.pending.size, 'still one retry').to.equal(1);
      scheduler.fire();
      expect(await set.refresh(), 'the retry, shared').to.equal(false);
      expect(fetch.calls).to.have.length(3);
      expect(scheduler.pending.size).to.equal(1);
      expect(scheduler.delays).to.deep.equal([1_000, 4_000]);
    });

    it('fetches nothing once closed', async () => {
      const fetch = tableFetch({ [JWKS_URI]: jwks(key) });
      const set = keySet(fetch);
      set.close();
      expect(await set.refresh()).to.equal(false);
      expect(fetch.calls).to.deep.equal([]);
    });

    it('refetches for an unknown kid once the cooldown has passed to the millisecond', async () => {
      const table: Record<string, unknown> = { [JWKS_URI]: jwks(key) };
      const fetch = tableFetch(table);
      const set = keySet(fetch);
      await set.start();
      table[JWKS_URI] = jwks(key, other);
      clock.advance(29_999);
      expect(await verifyWith(set, await signed(other))).to.include({ ok: false, description: 'signing key not found' });
      expect(fetch.calls).to.have.length(1);
      clock.advance(1);
      expect(await verifyWith(set, await signed(other))).to.include({ ok: true });
      expect(fetch.calls).to.have.length(2);
    });
  });

  describe('JwksVerifier', () => {
    it('needs an issuer to fetch keys for', () => {
      expect(
        () => new JwksVerifier({ deps: makeDeps(clock), policy: { ...policy, issuers: [] }, mapping: compileMapping({ usernameClaim: 'sub', emailClaim: 'email', groupsClaim: 'groups' }), cacheSeconds: 60, cooldownSeconds: 30 }),
      ).to.throw(TypeError, 'JwksVerifier: at least one issuer is required');
    });
  });
});

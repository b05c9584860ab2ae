// Tests for the `jwt-key` provider: configured public keys and shared secrets, algorithm confusion, routing, claim mapping.
import { expect } from 'chai';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import type { ProviderPlugin } from '../../core/provider.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { SecretBox } from '../../core/secrets.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import { validateWith } from '../../core/validate.js';
import jwtKeyPlugin, { createJwtKeyProvider, jwtKeyConfigSchema } from '../../providers/jwt-key/index.js';
import { verifyJwt, type JwtVerify } from '../../providers/sdk/index.js';
import { request } from '../fixtures/requests.js';
import { bearer, expectFailure, expectNotResponsible, identityOf, issuePaths, makeDeps, makeKey, signWith, T0, type TestKey } from './jwt-kit.js';

const ISSUER = 'https://sso.corp.example';
const SECRET = 'a-very-long-shared-secret-of-32+bytes!';

describe('providers/jwt-key', () => {
  let rsa: TestKey;
  let ec: TestKey;
  let other: TestKey;
  let pem: string;
  let clock: ManualClock;

  before(async () => {
    [rsa, ec, other] = await Promise.all([makeKey('k1'), makeKey('e1', 'ES256'), makeKey('k1')]);
    pem = await exportSPKI(rsa.publicKey);
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
  });

  const now = () => Math.floor(clock.now() / 1000);
  const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: ISSUER, aud: 'api', sub: 'u-1', exp: now() + 300, ...extra });
  const create = (config: Record<string, unknown>) => jwtKeyPlugin.create(jwtKeyConfigSchema.parse(config), makeDeps(clock));
  const hs = (payload: JWTPayload, alg = 'HS256', secret = SECRET) =>
    new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));

  describe('configuration', () => {
    it('derives the algorithm from the key and applies the defaults', () => {
      const cfg = jwtKeyConfigSchema.parse({ publicKey: pem });
      expect(cfg).to.deep.equal({
        publicKey: pem, secretEncoding: 'utf8', clockSkewSeconds: 60,
        usernameClaim: 'preferred_username', emailClaim: 'email', groupsClaim: 'groups',
      });
      expect(jwtKeyPlugin.secretFields).to.deep.equal(['secret']);
    });

    it('needs exactly one of publicKey and secret', async () => {
      expect(issuePaths(await validateWith(jwtKeyConfigSchema, {}))).to.deep.equal(['publicKey']);
      expect(issuePaths(await validateWith(jwtKeyConfigSchema, { publicKey: pem, secret: SECRET }))).to.deep.equal(['secret']);
    });

    it('refuses none, HS* with a public key, RS* with a secret, and algorithms of another key type', async () => {
      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ publicKey: pem, algorithms: ['none'] }, 'algorithms[0]', /'none' \(unsigned tokens\) is never accepted/],
        [{ publicKey: pem, algorithms: ['HS256'] }, 'algorithms', /'HS256' does not fit this rsa key/],
        [{ publicKey: pem, algorithms: ['ES256'] }, 'algorithms', /'ES256' does not fit this rsa key/],
        [{ secret: SECRET, algorithms: ['RS256'] }, 'algorithms', /'RS256' cannot be used with a secret/],
        [{ secret: 'short' }, 'secret', /at least 32 bytes for HS256/],
        [{ secret: SECRET, algorithms: ['HS512'] }, 'secret', /at least 64 bytes for HS512/],
        [{ publicKey: 'not a key' }, 'publicKey', /must be a PEM public key/],
        [{ publicKey: await exportPKCS8(rsa.privateKey) }, 'publicKey', /must be a PEM public key/],
        [{ publicKey: { ...(await exportJWK(rsa.privateKey)) } }, 'publicKey', /must not contain 'd'/],
        [{ publicKey: { ...ec.jwk, alg: 'ES256' }, algorithms: ['ES384'] }, 'algorithms', /'ES384' does not fit this ec key; use ES256/],
      ];
      for (const [config, path, message] of cases) {
        const result = await validateWith(jwtKeyConfigSchema, config);
        expect(result.ok, JSON.stringify(config).slice(0, 60)).to.equal(false);
        if (result.ok) continue;
        expect(result.issues[0]?.path).to.equal(path);
        expect(result.issues[0]?.message).to.match(message);
      }
    });

    it('accepts EC and Ed25519 keys as JWK and PEM, and base64 secrets', async () => {
      const ed = await generateKeyPair('EdDSA', { extractable: true });
      for (const config of [{ publicKey: ec.jwk }, { publicKey: await exportSPKI(ed.publicKey) }, { publicKey: pem, algorithms: ['PS256', 'RS512'] },
        { secret: Buffer.alloc(48, 7).toString('base64'), secretEncoding: 'base64', algorithms: ['HS384'] }]) {
        expect((await validateWith(jwtKeyConfigSchema, config)).ok, JSON.stringify(config).slice(0, 40)).to.equal(true);
      }
    });
  });

  describe('with a public key and an issuer', () => {
    it('maps a valid token, strips the username prefix, merges group paths', async () => {
      const provider = create({ publicKey: pem, issuer: ISSUER, audience: 'api', usernamePrefix: 'CORP\\', groupsClaim: ['groups', 'roles'] });
      expect(provider.issuers).to.deep.equal([ISSUER]);
      expect(provider.status()).to.deep.equal({ ready: true });
      const token = await signWith(rsa, clock, claims({ preferred_username: 'CORP\\alice', email: 'a@corp.example', groups: ['dev'], roles: ['ops', 'dev'], jti: 'j1' }));
      expect(identityOf(await provider.authenticate(bearer(token)))).to.deep.equal({
        subject: 'u-1', username: 'alice', email: 'a@corp.example', groups: ['dev', 'ops'], provider: 'corp', tokenId: 'j1',
        scopes: [], expiresAt: (now() + 300) * 1000, claims: { iss: ISSUER, aud: 'api', sub: 'u-1' },
      });
    });

    it('refuses expired tokens, other audiences, other keys and missing exp', async () => {
      const provider = create({ publicKey: pem, issuer: ISSUER, audience: 'api' });
      expectFailure(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ exp: now() - 120 })))), 'invalid_token', 'token expired');
      expectFailure(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ aud: 'other-api' })))), 'invalid_token', 'audience not accepted');
      expectFailure(await provider.authenticate(bearer(await signWith(other, clock, claims()))), 'invalid_token', 'signature invalid');
      expectFailure(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ exp: undefined })))), 'invalid_token', 'token has no exp claim');
    });

    it('refuses alg none and HS256 signed with the public key (algorithm confusion)', async () => {
      const provider = create({ publicKey: pem, issuer: ISSUER });
      expectFailure(await provider.authenticate(bearer(new UnsecuredJWT(claims()).encode())), 'invalid_token', 'unsigned token (alg none) not allowed');
      expectFailure(await provider.authenticate(bearer(await hs(claims(), 'HS256', pem))), 'invalid_token', 'symmetric algorithm not allowed');
    });

    it('leaves other issuers, opaque tokens and Basic credentials to other providers', async () => {
      const provider = create({ publicKey: pem, issuer: ISSUER });
      expectNotResponsible(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ iss: 'https://elsewhere.example' })))));
      expectNotResponsible(await provider.authenticate(bearer('opaque-token')));
      expectNotResponsible(await provider.authenticate({ scheme: 'basic', username: 'u', secret: await signWith(rsa, clock, claims()) }));
    });

    it('refuses a token whose kid names another key when the JWK has a kid', async () => {
      const provider = create({ publicKey: ec.jwk, issuer: ISSUER });
      identityOf(await provider.authenticate(bearer(await signWith(ec, clock, claims()))));
      expectFailure(await provider.authenticate(bearer(await signWith(ec, clock, claims(), { kid: 'rotated' }))), 'invalid_token', 'signing key not found');
    });
  });

  describe('without an issuer', () => {
    it('is offered every JWT and is not responsible for those its key does not verify', async () => {
      const provider = create({ publicKey: pem, audience: 'api' });
      expect(provider.issuers).to.equal(undefined);
      identityOf(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ iss: 'anything' })))));
      expectNotResponsible(await provider.authenticate(bearer(await signWith(other, clock, claims()))));
      expectNotResponsible(await provider.authenticate(bearer(await signWith(ec, clock, claims()))));
      expectNotResponsible(await provider.authenticate(bearer(await hs(claims()))));
      expectFailure(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ aud: 'nope' })))), 'invalid_token', 'audience not accepted');
    });
  });

  describe('with a shared secret', () => {
    it('verifies HS256 and refuses other HMAC algorithms and other secrets', async () => {
      const provider = create({ secret: SECRET, issuer: ISSUER, audience: 'api' });
      expect(identityOf(await provider.authenticate(bearer(await hs(claims({ preferred_username: 'svc' }))))).username).to.equal('svc');
      expectFailure(await provider.authenticate(bearer(await hs(claims(), 'HS512', SECRET.repeat(2)))), 'invalid_token', 'algorithm not allowed');
      expectFailure(await provider.authenticate(bearer(await hs(claims(), 'HS256', `${SECRET}x`))), 'invalid_token', 'signature invalid');
      expectFailure(await provider.authenticate(bearer(await signWith(rsa, clock, claims()))), 'invalid_token', 'algorithm not allowed');
    });

    it('decodes base64 secrets', async () => {
      const raw = Buffer.alloc(32, 9);
      const provider = create({ secret: raw.toString('base64'), secretEncoding: 'base64', issuer: ISSUER });
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(raw));
      identityOf(await provider.authenticate(bearer(token)));
    });
  });

  describe('verified-identity reuse (shared by every JWT kind)', () => {
    /** A provider whose signature checks are counted: the shared verifyJwt behind a counter. */
    const counted = (config: Record<string, unknown>) => {
      const calls = { count: 0 };
      const verify: JwtVerify = (...args) => {
        calls.count += 1;
        return verifyJwt(...args);
      };
      return { calls, provider: createJwtKeyProvider(jwtKeyConfigSchema.parse(config), makeDeps(clock), { verify }) };
    };

    it('verifies a token once and reuses its identity for the same token, not for another', async () => {
      const { calls, provider } = counted({ publicKey: pem, issuer: ISSUER, audience: 'api' });
      const token = await signWith(rsa, clock, claims({ preferred_username: 'alice' }));
      const first = identityOf(await provider.authenticate(bearer(token)));
      clock.advance(59_000);
      expect(identityOf(await provider.authenticate(bearer(token)))).to.deep.equal(first);
      expect(calls.count).to.equal(1);
      identityOf(await provider.authenticate(bearer(await signWith(rsa, clock, claims({ preferred_username: 'bob' })))));
      expect(calls.count).to.equal(2);
      clock.advance(1_000); // 60 s after the first verification: verified again
      identityOf(await provider.authenticate(bearer(token)));
      expect(calls.count).to.equal(3);
    });

    it('refuses an expired token whose identity is held, and grants the skew past exp only by verifying again', async () => {
      const { calls, provider } = counted({ secret: SECRET, issuer: ISSUER, audience: 'api' });
      const token = await hs(claims({ exp: now() + 30 }));
      identityOf(await provider.authenticate(bearer(token)));
      identityOf(await provider.authenticate(bearer(token)));
      expect(calls.count).to.equal(1);
      clock.advance(31_000); // past exp, within the 60 s skew: still valid, but not taken from what is held
      identityOf(await provider.authenticate(bearer(token)));
      expect(calls.count).to.equal(2);
      clock.advance(60_000);
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'token expired');
      expect(calls.count).to.equal(3);
    });

    it('judges nbf again when the clock is set back before the verification', async () => {
      const { calls, provider } = counted({ publicKey: pem, issuer: ISSUER });
      const token = await signWith(rsa, clock, claims({ nbf: now() + 30 })); // within the 60 s skew
      identityOf(await provider.authenticate(bearer(token)));
      clock.advance(-40_000); // nbf is now 70 s ahead, beyond the skew
      expectFailure(await provider.authenticate(bearer(token)), 'invalid_token', 'token not yet valid');
      clock.advance(40_000);
      identityOf(await provider.authenticate(bearer(token)));
      expect(calls.count).to.equal(3);
    });

    it('reuses nothing once a configuration change replaces the key (rotated or revoked)', async () => {
      const otherPem = await exportSPKI(other.publicKey);
      const runtime = await Runtime.start({
        store: new MemoryEventStore({ clock }),
        plugins: { get: (kind) => (kind === 'jwt-key' ? (jwtKeyPlugin as ProviderPlugin) : undefined), kinds: () => ['jwt-key'] },
        fetch: globalThis.fetch,
        clock,
        logger: silentLogger,
        adminToken: 'x'.repeat(32),
        secrets: SecretBox.fromEncodedKey(SecretBox.generateEncodedKey()),
      });
      const configure = async (publicKey: string) => {
        await runtime.commands.configureProvider('corp', { kind: 'jwt-key', config: { publicKey, issuer: ISSUER, audience: 'api' } }, undefined, { actor: 'test' });
        await runtime.whenCompiled();
      };
      try {
        const token = await signWith(rsa, clock, claims());
        let asked = 0;
        const ask = () => runtime.decide(request({ id: `req-${(asked += 1)}`, credential: bearer(token), time: clock.now() }));
        await configure(pem);
        expect((await ask()).allow).to.equal(true);
        expect((await ask()).allow).to.equal(true);
        await configure(otherPem);
        expect(await ask()).to.include({ allow: false, status: 401, reason: 'invalid_token' });
      } finally {
        await runtime.close();
      }
    });
  });
});

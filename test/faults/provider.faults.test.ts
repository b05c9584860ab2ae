// Fault suite, identity providers: JWKS failing, slow or malformed and userinfo slower than its timeout, against the built gateway.
import { expect } from 'chai';

import { call, configureProvider, oidcProvider } from '../e2e/fixtures/http.js';
import type { Gateway } from '../e2e/fixtures/processes.js';
import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import { bearer, expectError, expectHealthy, removeDataDirs, requireBuiltCli, startFaultGateway } from './fixtures/gateway.js';
import { AUDIENCE, newIdpKey, signToken, startFaultIdp, type FaultIdp, type FaultMode, type IdpKey } from './fixtures/idp.js';
import { startFaultUpstream, type FaultUpstream } from './fixtures/upstream.js';

/** The oidc provider's JWKS fetch gives up after this long (providers/oidc: not configurable). */
const JWKS_TIMEOUT_MS = 5_000;

describe('faults: identity providers (built gateway, misbehaving IdP on loopback)', function () {
  this.timeout(30_000);

  const idps: FaultIdp[] = [];
  let upstream: FaultUpstream;
  let gateway: Gateway;
  let good: { idp: FaultIdp; key: IdpKey };

  const newIdp = async (mode: FaultMode, kid = 'k1'): Promise<{ idp: FaultIdp; key: IdpKey }> => {
    const key = await newIdpKey(kid);
    const idp = await startFaultIdp([key]);
    idp.jwks = mode;
    idps.push(idp);
    return { idp, key };
  };
  /** An oidc provider for `idp` with its JWKS URI given and a 1 s refetch cooldown. */
  const addOidc = (id: string, idp: FaultIdp, waitForReady = true) =>
    configureProvider(gateway, id, oidcProvider(idp.issuer, AUDIENCE, { jwksUri: idp.jwksUri, jwksCooldownSeconds: 1 }), waitForReady);
  const get = (path: string, token?: string, timeoutMs = 15_000) =>
    call(`${gateway.url}${path}`, { headers: token ? bearer(token) : {}, timeoutMs });
  /** The gateway still runs, and a caller of a healthy provider is served. */
  const expectServing = async (): Promise<void> => {
    await expectHealthy(gateway);
    const res = await get('/ok/next-request', await signToken(good.idp.issuer, good.key));
    expect(res.status, res.text).to.equal(200);
  };

  before(async function () {
    requireBuiltCli();
    upstream = await startFaultUpstream();
    gateway = await startFaultGateway({ upstream: upstream.url });
    good = await newIdp({ kind: 'ok' }, 'good-k1');
    await addOidc('good', good.idp);
  });

  after(async () => {
    await stopAll();
    await Promise.all(idps.map((idp) => idp.close()));
    await upstream?.close();
    await removeDataDirs();
  });

  describe('JWKS answering 500 from the start', () => {
    let broken: { idp: FaultIdp; key: IdpKey };

    before(async () => {
      broken = await newIdp({ kind: 'status', status: 500 });
      await addOidc('jwks-500', broken.idp);
    });

    it('answers 503 provider_unavailable (not 401), and nothing reaches the upstream', async () => {
      const before = upstream.hits.get('ok') ?? 0;
      const res = await get('/ok/jwks-500', await signToken(broken.idp.issuer, broken.key));
      expectError(res, 503, 'provider_unavailable');
      expect(upstream.hits.get('ok') ?? 0).to.equal(before);
      expect(broken.idp.hits.jwks).to.be.at.least(1);
    });

    it('stays healthy and serves the next request of another provider', expectServing);

    it('accepts the tokens once the JWKS answers again, without a restart', async () => {
      broken.idp.jwks = { kind: 'ok' };
      const token = await signToken(broken.idp.issuer, broken.key);
      // Once the 1 s refetch cooldown since the failed fetch has passed.
      await eventually(async () => {
        const res = await get('/ok/jwks-recovered', token);
        expect(res.status, res.text).to.equal(200);
      }, { within: 10_000, every: 200 });
    });
  });

  describe('JWKS malformed', () => {
    const variants: Record<string, FaultMode> = {
      'an HTML page': { kind: 'body', contentType: 'text/html', body: '<html><body>Service temporarily unavailable</body></html>' },
      'invalid JSON': { kind: 'body', contentType: 'application/json', body: '{"keys": [{"kty": "RSA",' },
      'JSON without a keys array': { kind: 'body', contentType: 'application/json', body: '{"keys": "none today"}' },
      'an empty key set': { kind: 'body', contentType: 'application/json', body: '{"keys": []}' },
      'a reset connection': { kind: 'reset' },
    };
    let n = 0;
    for (const [name, mode] of Object.entries(variants)) {
      it(`answers 503 provider_unavailable for ${name}, and stays healthy`, async () => {
        const { idp, key } = await newIdp(mode);
        n += 1;
        await addOidc(`jwks-malformed-${n}`, idp);
        const res = await get(`/ok/malformed-${n}`, await signToken(idp.issuer, key));
        expectError(res, 503, 'provider_unavailable');
        await expectServing();
      });
    }

    it('answers 503 provider_unavailable when the published key for the token\'s kid is broken', async () => {
      const { idp, key } = await newIdp({ kind: 'ok' });
      // The right kid and shape, but a modulus that is no RSA key: the key set parses, the key does not import.
      idp.published = [{ ...key, publicJwk: { kty: 'RSA', kid: key.kid, alg: 'RS256', use: 'sig', n: 'AQAB', e: 'AQAB' } }];
      await addOidc('jwks-broken-key', idp);
      const res = await get('/ok/broken-key', await signToken(idp.issuer, key));
      expectError(res, 503, 'provider_unavailable');
      await expectServing();
    });
  });

  describe('JWKS slow', () => {
    it('waits for a JWKS that is slow but within the timeout, then accepts', async () => {
      const { idp, key } = await newIdp({ kind: 'ok', delayMs: 1_500 });
      await addOidc('jwks-slowish', idp, false);
      const res = await get('/ok/slowish', await signToken(idp.issuer, key));
      expect(res.status, res.text).to.equal(200);
    });

    it(`answers 503 provider_unavailable when the JWKS takes longer than ${JWKS_TIMEOUT_MS} ms, serving others meanwhile`, async () => {
      const { idp, key } = await newIdp({ kind: 'slow', delayMs: 20_000 });
      await addOidc('jwks-slow', idp, false);
      const token = await signToken(idp.issuer, key);
      let answered = false;
      const pending = get('/ok/slow', token, 20_000).finally(() => {
        answered = true;
      });
      // While the key fetch hangs, the event loop is free: health and other callers are answered.
      await eventually(() => idp.hits.jwks > 0, { within: 10_000, what: 'the gateway asking the hanging JWKS' });
      await expectServing();
      expect(answered, 'the other callers were answered while the fetch still hung').to.equal(false);
      // The JWKS would answer after 20 s: a 503 is the gateway giving up at its fetch timeout first.
      expectError(await pending, 503, 'provider_unavailable');
      await expectServing();
    });
  });

  describe('cached keys while the JWKS fails', () => {
    let cached: { idp: FaultIdp; key: IdpKey };
    let token: string;

    before(async () => {
      cached = await newIdp({ kind: 'ok' }, 'cached-k1');
      await addOidc('jwks-cached', cached.idp);
      token = await signToken(cached.idp.issuer, cached.key);
      const warm = await get('/ok/cached-warm', token);
      expect(warm.status, warm.text).to.equal(200);
    });

    const outages: Record<string, FaultMode> = {
      'answers 500': { kind: 'status', status: 500 },
      'is malformed': { kind: 'body', contentType: 'application/json', body: 'not json' },
      'hangs': { kind: 'slow', delayMs: 20_000 },
      'resets': { kind: 'reset' },
    };
    for (const [name, mode] of Object.entries(outages)) {
      it(`keeps accepting tokens signed with a cached key while the JWKS ${name}`, async () => {
        cached.idp.jwks = mode;
        const fetchesBefore = cached.idp.hits.jwks;
        const res = await get(`/ok/cached-${mode.kind}`, token);
        expect(res.status, res.text).to.equal(200);
        expect(cached.idp.hits.jwks, 'no call to the failing provider').to.equal(fetchesBefore);
        cached.idp.jwks = { kind: 'ok' };
      });
    }

    it('keeps the cached keys after a refetch (caused by an unknown kid) fails', async () => {
      cached.idp.jwks = { kind: 'status', status: 500 };
      const strangerToken = await signToken(cached.idp.issuer, await newIdpKey('cached-k2-unpublished'));
      const fetchesBefore = cached.idp.hits.jwks;
      // The unknown kid causes a refetch once the 1 s cooldown since the last fetch has passed.
      await eventually(
        async () => {
          await get('/ok/cached-unknown-kid', strangerToken);
          expect(cached.idp.hits.jwks, 'the unknown kid caused a refetch').to.be.above(fetchesBefore);
        },
        { within: 10_000, every: 200 },
      );
      const res = await get('/ok/cached-after-failed-refetch', token);
      expect(res.status, res.text).to.equal(200);
      cached.idp.jwks = { kind: 'ok' };
    });

    it('answers 503 provider_unavailable (not 401) for a token with a new kid while the JWKS cannot be fetched', async () => {
      // The provider rotated to a key the gateway has not seen, and its JWKS is down: the gateway
      // cannot tell whether the token is good, so the caller must learn it is not their fault.
      cached.idp.jwks = { kind: 'status', status: 500 };
      const rotated = await newIdpKey('cached-k3-rotated');
      cached.idp.published = [...cached.idp.published, rotated];
      const rotatedToken = await signToken(cached.idp.issuer, rotated);
      const fetchesBefore = cached.idp.hits.jwks;
      // Asked once the 1 s refetch cooldown since the last fetch has passed (the answer before that is the same 503).
      const res = await eventually(
        async () => {
          const answer = await get('/ok/cached-rotated-while-down', rotatedToken);
          expect(cached.idp.hits.jwks, 'a refetch for the new kid was tried').to.be.above(fetchesBefore);
          return answer;
        },
        { within: 10_000, every: 200 },
      );
      cached.idp.jwks = { kind: 'ok' };
      expectError(res, 503, 'provider_unavailable');
    });
  });

  describe('userinfo slower than the timeout (oauth2 provider, opaque tokens)', () => {
    let ui: FaultIdp;
    const TIMEOUT_MS = 500;

    before(async () => {
      ui = (await newIdp({ kind: 'ok' })).idp;
      ui.userinfoTokens.set('opaque-fault-token-1', { sub: 'u-1', preferred_username: 'ursula', groups: ['faults'] });
      ui.userinfoTokens.set('opaque-fault-token-2', { sub: 'u-2', preferred_username: 'ulrich', groups: ['faults'] });
      await configureProvider(gateway, 'userinfo', {
        kind: 'oauth2',
        config: { userinfoEndpoint: ui.userinfoEndpoint, timeoutMs: TIMEOUT_MS },
        enabled: true,
        order: 10,
      });
    });

    // The IdP would answer (200, a valid identity) after 5 s: a 503 is the gateway giving up at its timeout first.
    it('answers 503 provider_unavailable at the timeout, not when the IdP finally answers', async () => {
      ui.userinfo = { kind: 'slow', delayMs: 5_000 };
      expectError(await get('/ok/userinfo-slow', 'opaque-fault-token-1'), 503, 'provider_unavailable');
    });

    it('stays healthy and serves the next request', expectServing);

    it('does not remember the failure: the same token is accepted as soon as userinfo answers in time', async () => {
      ui.userinfo = { kind: 'ok' };
      const res = await get('/ok/userinfo-back', 'opaque-fault-token-1');
      expect(res.status, res.text).to.equal(200);
      expect((res.json as { user?: unknown }).user).to.equal('ursula');
    });

    it('keeps accepting a token whose identity is cached while userinfo hangs', async () => {
      ui.userinfo = { kind: 'slow', delayMs: 5_000 };
      const callsBefore = ui.hits.userinfo;
      const res = await get('/ok/userinfo-cached', 'opaque-fault-token-1');
      expect(res.status, res.text).to.equal(200);
      expect(ui.hits.userinfo, 'answered from the cache, without asking the hanging IdP').to.equal(callsBefore);
      ui.userinfo = { kind: 'ok' };
    });

    for (const [name, mode] of Object.entries({
      'answers 500': { kind: 'status', status: 500 },
      'answers HTML': { kind: 'body', contentType: 'text/html', body: '<html>maintenance</html>' },
      'resets the connection': { kind: 'reset' },
    } satisfies Record<string, FaultMode>)) {
      it(`answers 503 provider_unavailable when userinfo ${name}`, async () => {
        ui.userinfo = mode;
        const res = await get(`/ok/userinfo-${mode.kind}`, 'opaque-fault-token-2');
        ui.userinfo = { kind: 'ok' };
        expectError(res, 503, 'provider_unavailable');
        await expectServing();
      });
    }
  });
});

// End-to-end tests of the Foundation: the built gateway, a real OpenID provider and an echo upstream, over loopback.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';

import { admin, asEcho, call, configureProvider, oidcProvider, waitReady, type HttpResult } from './fixtures/http.js';
import type { OpConfig } from './fixtures/op.js';
import { eventually } from '../support/eventually.js';
import { CLOSED_PORT } from '../support/ports.js';
import { stopAll } from '../support/processes.js';
import { CLI, rotateOpKeys, runCli, startGateway, startOp, storeFor, type Gateway, type Op } from './fixtures/processes.js';
import {
  E2E_CLIENT,
  E2E_CLIENT_CLAIMS,
  RESOURCE,
  clientCredentialsToken,
  forgeJwt,
  generateSigningKey,
  nowSeconds,
  publicKeyAsHmacSecret,
  tamperSignature,
  unsecuredJwt,
  type SigningKey,
} from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

const opConfig = (keys: SigningKey[]): OpConfig => ({
  jwks: { keys: keys.map((k) => k.privateJwk) },
  clients: [E2E_CLIENT],
  tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS },
});

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

interface ErrorBody {
  error?: unknown;
  error_description?: unknown;
  request_id?: unknown;
}

/** Asserts the contract's error shape and returns it. */
function expectError(res: HttpResult, status: number, code?: string): ErrorBody {
  expect(res.status, `status of ${res.text.slice(0, 300)}`).to.equal(status);
  const body = res.json as ErrorBody | undefined;
  expect(body, 'JSON error body').to.be.an('object');
  if (code !== undefined) expect(body?.error).to.equal(code);
  else expect(body?.error).to.be.a('string').and.not.equal('');
  expect(body?.error_description).to.be.a('string').and.not.equal('');
  expect(body?.request_id).to.be.a('string').and.not.equal('');
  return body ?? {};
}

/** Items of a list answer that is either a bare array or `{<key>: [...]}`. */
function listOf(json: unknown, key: string): Record<string, unknown>[] {
  if (Array.isArray(json)) return json as Record<string, unknown>[];
  const inner = (json as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(inner) ? (inner as Record<string, unknown>[]) : [];
}

describe('Foundation end to end (gateway + real OP + echo upstream)', function () {
  this.timeout(20_000);

  const dataDirs: string[] = [];
  const newDataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-'));
    dataDirs.push(dir);
    return dir;
  };
  let upstream: Upstream;
  let key: SigningKey;
  let op: Op;

  /** A gateway on a fresh data dir with the shared OP configured as provider `op`, ready. */
  const freshGateway = async (env: Record<string, string> = { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` }): Promise<Gateway> => {
    const gateway = await startGateway({ dataDir: await newDataDir(), upstream: upstream.url, env });
    await configureProvider(gateway, 'op', oidcProvider(op.issuer, RESOURCE));
    return gateway;
  };

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    upstream = await startUpstream();
    key = await generateSigningKey('op-k1');
    op = await startOp(opConfig([key]));
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  describe('a gateway with one OIDC provider', () => {
    let gateway: Gateway;

    before(async () => {
      // No admin token in env: the gateway must generate one and print it once.
      gateway = await startGateway({ dataDir: await newDataDir(), upstream: upstream.url });
      if (!gateway.adminToken) throw new Error(`no admin token printed; stderr:\n${gateway.process.stderr.join('\n')}`);
      await configureProvider(gateway, 'op', oidcProvider(op.issuer, RESOURCE));
    });

    it('printed a generated admin token on first start, which the admin API accepts', async () => {
      expect(gateway.printedAdminToken).to.match(/^pca_[A-Za-z0-9_-]+$/);
      expect((await admin(gateway, 'GET', '/settings')).status).to.equal(200);
      const refused = await call(`${gateway.adminUrl}/api/v1/settings`, { headers: bearer('pca_not-the-admin-token') });
      expect(refused.status).to.equal(401);
    });

    it('proxies a request with a valid OP token and sends the identity upstream', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${gateway.url}/rest/api/2/issue/ABC-1?expand=names`, { headers: bearer(token) });
      expect(res.status, res.text).to.equal(200);
      const echo = asEcho(res);
      expect(echo.method).to.equal('GET');
      expect(echo.url).to.equal('/rest/api/2/issue/ABC-1?expand=names');
      expect(echo.headers['x-portcullis-user']).to.equal('alice');
      expect(echo.headers['x-portcullis-provider']).to.equal('op');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('developers');
    });

    it('removes client-sent identity headers before the upstream sees them', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const res = await call(`${gateway.url}/spoof-check`, {
        headers: {
          ...bearer(token),
          'X-Portcullis-User': 'admin',
          'X-Portcullis-Groups': 'administrators',
          'X-Portcullis-Provider': 'forged',
          'X-Portcullis-Token-Id': 'forged-token-id',
        },
      });
      expect(res.status, res.text).to.equal(200);
      const echo = asEcho(res);
      expect(echo.headers['x-portcullis-user']).to.equal('alice');
      expect(echo.headers['x-portcullis-provider']).to.equal('op');
      expect(String(echo.headers['x-portcullis-groups'])).not.to.include('administrators');
      expect(echo.headers['x-portcullis-token-id']).not.to.equal('forged-token-id');
    });

    it('answers 401 with a bare Bearer challenge when no credential is sent', async () => {
      const before = upstream.requests.length;
      const res = await call(`${gateway.url}/rest/api/2/myself`, { headers: { 'X-Portcullis-User': 'admin' } });
      const body = expectError(res, 401);
      expect(body.error).not.to.equal('invalid_token');
      expect(res.headers['www-authenticate']).to.match(/^Bearer\b/);
      expect(res.headers['www-authenticate']).not.to.match(/error=/);
      expect(upstream.requests.length, 'nothing reached the upstream').to.equal(before);
    });

    describe('forged and unusable bearer tokens', () => {
      const results = new Map<string, { token: string; res: HttpResult }>();
      let control: HttpResult;
      let upstreamBefore: number;
      const distinctCases = ['bad_signature', 'expired', 'not_yet_valid', 'wrong_audience', 'wrong_issuer', 'alg_none', 'hs256_public_key'];

      before(async () => {
        const now = nowSeconds();
        const claims = (extra: Record<string, unknown> = {}) => ({
          iss: op.issuer,
          aud: RESOURCE,
          sub: 'e2e-forger',
          client_id: E2E_CLIENT.client_id,
          scope: 'api:read',
          preferred_username: 'mallory',
          iat: now,
          exp: now + 300,
          jti: randomUUID(),
          ...extra,
        });
        const sign = (extra: Record<string, unknown> = {}) => forgeJwt(claims(extra), { key: key.privateKey, kid: key.kid });
        const stranger = await generateSigningKey(key.kid);

        control = await call(`${gateway.url}/forged/control`, { headers: bearer(await sign()) });
        upstreamBefore = upstream.requests.length;
        const tokens: Record<string, string> = {
          bad_signature: tamperSignature(await sign()),
          expired: await sign({ iat: now - 7200, exp: now - 3600 }),
          not_yet_valid: await sign({ nbf: now + 600 }),
          wrong_audience: await sign({ aud: 'https://other-api.example.test' }),
          wrong_issuer: await sign({ iss: 'https://issuer.not-configured.example.test' }),
          alg_none: unsecuredJwt(claims(), key.kid),
          hs256_public_key: await forgeJwt(claims(), { key: await publicKeyAsHmacSecret(key.publicKey), alg: 'HS256', kid: key.kid }),
          other_key_same_kid: await forgeJwt(claims(), { key: stranger.privateKey, kid: key.kid }),
        };
        for (const [name, token] of Object.entries(tokens)) {
          results.set(name, { token, res: await call(`${gateway.url}/forged/${name}`, { headers: bearer(token) }) });
        }
      });

      it('accepts a token the test signs correctly with the OP key (control for the cases below)', () => {
        expect(control.status, control.text).to.equal(200);
        expect(asEcho(control).headers['x-portcullis-user']).to.equal('mallory');
      });

      for (const name of [...distinctCases, 'other_key_same_kid']) {
        it(`refuses ${name.replace(/_/g, ' ')} with 401 invalid_token and an RFC 6750 challenge`, () => {
          const result = results.get(name);
          if (!result) throw new Error(`no result for ${name}`);
          const { res, token } = result;
          expectError(res, 401, 'invalid_token');
          expect(res.headers['www-authenticate']).to.match(/^Bearer\b/);
          expect(res.headers['www-authenticate']).to.include('error="invalid_token"');
          expect(res.text, 'the token is not echoed').not.to.include(token.split('.')[2] || token);
        });
      }

      it('gives each of those failures its own error_description', () => {
        const descriptions = distinctCases.map((name) => (results.get(name)?.res.json as ErrorBody | undefined)?.error_description);
        expect(new Set(descriptions).size, JSON.stringify(descriptions, null, 1)).to.equal(distinctCases.length);
      });

      it('lets none of them reach the upstream', () => {
        const forged = upstream.requests.slice(upstreamBefore).filter((r) => r.url.startsWith('/forged/'));
        expect(forged.map((r) => r.url)).to.deep.equal([]);
      });
    });

    describe('forward auth at /_portcullis/decide', () => {
      before(async () => {
        // Loopback is a trusted proxy by default; make sure of it rather than depend on the default.
        const current = await admin(gateway, 'GET', '/settings');
        const settings = (current.json as { revision: unknown; settings: { ip?: { trustedProxies?: string[] } } }) ?? {};
        const trusted = settings.settings?.ip?.trustedProxies ?? [];
        if (!trusted.some((cidr) => cidr.startsWith('127.'))) {
          const patched = await admin(gateway, 'PATCH', '/settings', { ip: { trustedProxies: [...trusted, '127.0.0.1/32', '::1/128'] } }, {
            'if-match': `"${String(settings.revision)}"`,
            'content-type': 'application/merge-patch+json',
          });
          if (patched.status !== 200) throw new Error(`could not trust loopback: ${patched.status} ${patched.text}`);
        }
      });

      const forwarded = {
        'X-Forwarded-Method': 'GET',
        'X-Forwarded-Uri': '/rest/api/2/issue',
        'X-Forwarded-Host': 'jira.example.test',
        'X-Forwarded-Proto': 'https',
      };

      it('answers 200 with the identity headers for a valid bearer, without proxying', async () => {
        const before = upstream.requests.length;
        const token = await clientCredentialsToken(op.issuer);
        const res = await call(`${gateway.url}/_portcullis/decide`, { headers: { ...forwarded, ...bearer(token) } });
        expect(res.status, res.text).to.equal(200);
        expect(res.headers['x-portcullis-user']).to.equal('alice');
        expect(res.headers['x-portcullis-provider']).to.equal('op');
        expect(upstream.requests.length, 'decide does not proxy').to.equal(before);
      });

      it('answers 401 with a Bearer challenge without a credential', async () => {
        const res = await call(`${gateway.url}/_portcullis/decide`, { headers: forwarded });
        expectError(res, 401);
        expect(res.headers['www-authenticate']).to.match(/^Bearer\b/);
        expect(res.headers['x-portcullis-user']).to.equal(undefined);
      });
    });

    it('versions settings: ETag, If-Match merge patch, 412 when stale, 400 when invalid', async () => {
      const first = await admin(gateway, 'GET', '/settings');
      expect(first.status).to.equal(200);
      const { revision, settings } = first.json as { revision: unknown; settings: { enabled?: unknown } };
      expect(revision).to.not.equal(undefined);
      expect(settings).to.be.an('object');
      expect(first.headers.etag).to.equal(`"${String(revision)}"`);

      const patch = (body: unknown, rev: unknown) =>
        admin(gateway, 'PATCH', '/settings', body, { 'if-match': `"${String(rev)}"`, 'content-type': 'application/merge-patch+json' });

      const disabled = await patch({ enabled: false }, revision);
      expect(disabled.status, disabled.text).to.equal(200);
      const second = disabled.json as { revision: unknown; settings: { enabled?: unknown } };
      expect(second.revision).to.not.equal(revision);
      expect(second.settings.enabled).to.equal(false);
      try {
        const stale = await patch({ enabled: true }, revision);
        expectError(stale, 412, 'precondition_failed');

        const invalid = await patch({ enabled: 'sometimes' }, second.revision);
        expectError(invalid, 400);
      } finally {
        const restored = await patch({ enabled: true }, second.revision);
        expect(restored.status, restored.text).to.equal(200);
        expect((restored.json as { settings: { enabled?: unknown } }).settings.enabled).to.equal(true);
      }
      const last = await admin(gateway, 'GET', '/settings');
      expect(last.headers.etag).to.not.equal(first.headers.etag);
    });
  });

  describe('a provider that rotates its key or goes away', () => {
    let rotOp: Op;
    let rotKey: SigningKey;
    let gateway: Gateway;

    before(async () => {
      rotKey = await generateSigningKey('rot-k1');
      rotOp = await startOp(opConfig([rotKey]));
      gateway = await startGateway({ dataDir: await newDataDir(), upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
      // The provider refetches its JWKS on an unknown kid at most once per cooldown (default 30 s) after the
      // last fetch. That fetch happened moments ago here, at configuration; in service it is long past. A 1 s
      // cooldown models that without a 30 s wait.
      await configureProvider(gateway, 'rot', oidcProvider(rotOp.issuer, RESOURCE, { jwksCooldownSeconds: 1 }));
    });

    it('accepts a token signed with a new key after rotation, without restarting the gateway', async () => {
      const before = await call(`${gateway.url}/rotation/before`, { headers: bearer(await clientCredentialsToken(rotOp.issuer)) });
      expect(before.status, before.text).to.equal(200);

      rotKey = await generateSigningKey(`rot-k-${randomUUID().slice(0, 8)}`);
      await rotateOpKeys(rotOp, [rotKey.privateJwk]);
      const token = await clientCredentialsToken(rotOp.issuer);
      expect(decodeProtectedHeader(token).kid).to.equal(rotKey.kid);

      // Accepted once the 1 s cooldown since the last fetch has passed.
      const res = await eventually(
        async () => {
          const r = await call(`${gateway.url}/rotation/after`, { headers: bearer(token) });
          expect(r.status, r.text).to.equal(200);
          return r;
        },
        { within: 10_000, every: 250 },
      );
      expect(asEcho(res).headers['x-portcullis-provider']).to.equal('rot');
    });

    it('keeps accepting valid tokens with cached keys while the provider is down', async () => {
      const token = await clientCredentialsToken(rotOp.issuer);
      const warm = await call(`${gateway.url}/outage/warm`, { headers: bearer(token) });
      expect(warm.status, warm.text).to.equal(200);

      const exit = await rotOp.stop('SIGTERM');
      expect(exit.code).to.equal(0);
      const down = await call(`${gateway.url}/outage/down`, { headers: bearer(token) });
      expect(down.status, down.text).to.equal(200);
      expect(asEcho(down).headers['x-portcullis-user']).to.equal('alice');
    });
  });

  describe('a provider that is down from the start', () => {
    it('answers 503 provider_unavailable for a bearer JWT naming its issuer', async () => {
      const deadIssuer = `http://127.0.0.1:${CLOSED_PORT}`;
      const gateway = await startGateway({ dataDir: await newDataDir(), upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
      await configureProvider(gateway, 'down', oidcProvider(deadIssuer, RESOURCE), false);
      const stranger = await generateSigningKey('down-k1');
      const now = nowSeconds();
      const token = await forgeJwt(
        { iss: deadIssuer, aud: RESOURCE, sub: 'someone', preferred_username: 'someone', iat: now, exp: now + 300 },
        { key: stranger.privateKey, kid: stranger.kid },
      );
      const before = upstream.requests.length;
      const res = await call(`${gateway.url}/provider-down`, { headers: bearer(token) });
      expectError(res, 503, 'provider_unavailable');
      expect(upstream.requests.length, 'nothing reached the upstream').to.equal(before);
    });
  });

  describe('durability', () => {
    it('keeps providers and settings across a SIGTERM restart, and prints the admin token only once', async () => {
      const gateway = await freshGateway({});
      expect(gateway.printedAdminToken, 'token printed on first start').to.match(/^pca_/);
      const first = await admin(gateway, 'GET', '/settings');
      // A harmless change that must persist: one more (unused) trusted proxy range besides loopback.
      const trustedProxies = ['127.0.0.0/8', '::1/128', '10.99.0.0/16'];
      const patched = await admin(gateway, 'PATCH', '/settings', { ip: { trustedProxies } }, {
        'if-match': `"${String((first.json as { revision: unknown }).revision)}"`,
        'content-type': 'application/merge-patch+json',
      });
      expect(patched.status, patched.text).to.equal(200);
      const revision = (patched.json as { revision: unknown }).revision;
      const token = await clientCredentialsToken(op.issuer);
      expect((await call(`${gateway.url}/restart/before`, { headers: bearer(token) })).status).to.equal(200);

      const exit = await gateway.process.stop('SIGTERM');
      expect(exit, 'graceful exit on SIGTERM').to.deep.equal({ code: 0, signal: null });

      const again = await startGateway({ dataDir: gateway.dataDir, upstream: upstream.url, adminToken: gateway.adminToken });
      expect(again.printedAdminToken, 'no token printed on the second start').to.equal(undefined);
      expect(again.process.stderr.join('\n')).not.to.include(gateway.adminToken ?? '<none>');
      expect(await waitReady(again)).to.equal(200);

      const settings = await admin(again, 'GET', '/settings');
      expect(settings.status).to.equal(200);
      const body = settings.json as { revision: unknown; settings: { ip?: { trustedProxies?: unknown } } };
      expect(body.revision).to.deep.equal(revision);
      expect(settings.headers.etag).to.equal(`"${String(revision)}"`);
      expect(body.settings.ip?.trustedProxies).to.deep.equal(trustedProxies);

      const providers = await admin(again, 'GET', '/providers');
      expect(providers.status).to.equal(200);
      const opProvider = listOf(providers.json, 'providers').find((p) => p.id === 'op');
      expect(opProvider, providers.text).to.be.an('object');
      expect(opProvider?.kind).to.equal('oidc');
      expect(JSON.stringify(opProvider)).to.include(op.issuer);

      const res = await call(`${again.url}/restart/after`, { headers: bearer(token) });
      expect(res.status, res.text).to.equal(200);
      expect(asEcho(res).headers['x-portcullis-user']).to.equal('alice');
    });

    it('flushes the decision log on SIGTERM: every answered request has its decision, and the stop log gives the flush interval', async () => {
      const gateway = await freshGateway();
      const nonce = randomUUID();
      const token = await clientCredentialsToken(op.issuer);
      const count = 25;
      const answers = await Promise.all(
        Array.from({ length: count }, (_, i) => call(`${gateway.url}/flush/${nonce}/${i}`, { headers: bearer(token) })),
      );
      expect(answers.map((a) => a.status)).to.deep.equal(Array(count).fill(200));
      const exit = await gateway.process.stop('SIGTERM');
      expect(exit, 'graceful exit on SIGTERM').to.deep.equal({ code: 0, signal: null });
      const stopped = gateway.process.stdout
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => l.msg === 'stopped');
      expect(stopped, 'the stop log line').to.deep.include({ auditFlushIntervalMs: 50, auditDropped: 0 });
      expect(stopped?.auditWritten).to.be.at.least(count);

      const again = await startGateway({ dataDir: gateway.dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: gateway.adminToken ?? '' } });
      const events = await admin(again, 'GET', '/events?expand=decisions&limit=1000');
      expect(events.status, events.text).to.equal(200);
      const mine = listOf(events.json, 'events').filter((e) => e.type === 'AccessDecided' && JSON.stringify(e.data).includes(nonce));
      expect(mine.map((e) => (e.data as { path: string }).path).sort()).to.deep.equal(Array.from({ length: count }, (_, i) => `/flush/${nonce}/${i}`).sort());
      expect(new Set(mine.map((e) => (e.data as { requestId: string }).requestId))).to.deep.equal(new Set(answers.map((a) => a.headers['x-request-id'])));
    });

    it('survives kill -9 during a burst: restarts, and verify finds the hash chain intact', async function () {
      this.timeout(40_000);
      const gateway = await freshGateway();
      const token = await clientCredentialsToken(op.issuer);
      const total = 200;
      const killAfter = 60;
      let answered = 0;
      let answeredAtKill = -1;
      let killing: Promise<unknown> | undefined;
      const burst = Array.from({ length: total }, (_, i) =>
        call(`${gateway.url}/burst/${i}`, { headers: bearer(token), timeoutMs: 5_000 }).then(
          (res) => {
            answered += 1;
            if (answered === killAfter && !killing) {
              answeredAtKill = answered;
              killing = gateway.process.kill9();
            }
            return res.status;
          },
          () => 0,
        ),
      );
      const statuses = await Promise.all(burst);
      const exit = await (killing ?? gateway.process.kill9());
      expect(exit).to.deep.include({ signal: 'SIGKILL' });
      expect(answeredAtKill, 'killed mid-burst').to.equal(killAfter);
      expect(statuses.filter((s) => s === 200).length, 'requests answered 200 before the kill').to.be.at.least(killAfter);
      expect(statuses.filter((s) => s !== 200 && s !== 0), 'no error answers before the kill').to.deep.equal([]);

      const rawVerify = await runCli(['verify'], { PORTCULLIS_STORE: gateway.store }, gateway.dataDir);
      expect(rawVerify.code, `verify right after kill -9:\n${rawVerify.stdout}\n${rawVerify.stderr}`).to.equal(0);
      expect(rawVerify.stdout).to.match(/intact/i);

      const again = await startGateway({ dataDir: gateway.dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: gateway.adminToken ?? '' } });
      expect(await waitReady(again)).to.equal(200);
      const res = await call(`${again.url}/burst/after-restart`, { headers: bearer(token) });
      expect(res.status, res.text).to.equal(200);
      expect(await again.process.stop('SIGTERM')).to.deep.equal({ code: 0, signal: null });

      const verify = await runCli(['verify'], { PORTCULLIS_STORE: storeFor(gateway.dataDir) }, gateway.dataDir);
      expect(verify.code, `verify after restart:\n${verify.stdout}\n${verify.stderr}`).to.equal(0);
      expect(verify.stdout).to.match(/intact/i);
    });
  });
});

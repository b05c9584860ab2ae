// Gateway tokens in the pipeline: the check (checksum before lookup, revoked, expired, owner), the token scopes, and every credential toggle.
import { expect } from 'chai';

import type { AccessRequest, Credential } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { policyStages } from '../../server/runtime/compile.js';
import { silentLogger } from '../../core/logger.js';
import { composePipeline, type Pipeline } from '../../core/pipeline.js';
import type { Provider } from '../../core/provider.js';
import { LocalRateLimiter } from '../../core/rate-limit.js';
import { settingsSchema } from '../../core/settings/schema.js';
import { generateToken, hashToken } from '../../core/tokens/format.js';
import { TokenIndex, type TokenRecord } from '../../core/tokens/token-index.js';
import type { TokenLookup } from '../../policies/gateway-token.js';
import { underPrefix } from '../../policies/token-scopes.js';
import { request } from '../fixtures/requests.js';
import { tableProvider } from './kit.js';

const NOW = Date.UTC(2024, 0, 1);
const DAY = 24 * 60 * 60 * 1000;

interface Issued {
  readonly token: string;
  readonly record: TokenRecord;
}

function issued(id: string, over: Partial<TokenRecord> = {}): Issued {
  const token = generateToken();
  const record: TokenRecord = {
    id,
    hash: hashToken(token),
    owner: 'alice',
    name: id,
    kind: 'user',
    groups: ['devs'],
    readOnly: false,
    pathPrefixes: [],
    ipAllow: [],
    expiresAt: NOW + 30 * DAY,
    createdAt: NOW - DAY,
    createdBy: 'admin',
    revision: 0,
    ...over,
  };
  return { token, record };
}

const plain = issued('0000000000000001');
const readOnly = issued('0000000000000002', { readOnly: true });
const scoped = issued('0000000000000003', { pathPrefixes: ['/rest/api/2', '/wiki'] });
const fenced = issued('0000000000000004', { ipAllow: ['10.0.0.0/8', '2001:db8::/32'] });
const expired = issued('0000000000000005', { expiresAt: NOW - 1 });
const revoked = issued('0000000000000006', { revokedAt: NOW - DAY, revokedBy: 'admin' });
const forever = issued('0000000000000007', { expiresAt: null, kind: 'service', owner: 'ci-bot', groups: ['robots'] });
const all = [plain, readOnly, scoped, fenced, expired, revoked, forever];

/** The index, with a count of lookups: a malformed token must never reach it. */
function spiedIndex(): TokenLookup & { lookups: number } {
  const index = TokenIndex.restore(all.map((t) => t.record));
  const spy = {
    lookups: 0,
    findByHash(hash: string) {
      spy.lookups += 1;
      return index.findByHash(hash);
    },
  };
  return spy;
}

/** A provider that must not be asked (a PAT or a Basic password must never reach an identity provider). */
function watchedProvider(): Provider & { asked: number } {
  const inner = tableProvider('idp', { 'tok-bob': { username: 'bob', groups: ['devs'] } });
  const watched = {
    ...inner,
    asked: 0,
    authenticate(credential: Credential) {
      watched.asked += 1;
      return inner.authenticate(credential);
    },
  };
  return watched;
}

interface Setup {
  readonly pipeline: Pipeline;
  readonly tokens: TokenLookup & { lookups: number };
  readonly provider: Provider & { asked: number };
}

function setup(document: unknown = {}): Setup {
  const tokens = spiedIndex();
  const provider = watchedProvider();
  const clock = new ManualClock(NOW);
  const stages = policyStages(settingsSchema.parse(document), [provider], { logger: silentLogger, clock, rateLimiter: new LocalRateLimiter(clock), tokens });
  return { pipeline: composePipeline(stages), tokens, provider };
}

const at = (over: Partial<AccessRequest>): AccessRequest => request({ time: NOW, ...over });
const bearer = (secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'bearer', secret } });
const basic = (username: string, secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'basic', username, secret } });
const apiKey = (secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'api_key', secret, header: 'x-api-key' } });

describe('policies/gateway tokens', () => {
  it('authenticates a Bearer gateway token: owner, groups, provider gateway, token id; the credential is consumed', async () => {
    const { pipeline } = setup();
    const d = await pipeline.decide(at(bearer(plain.token)));
    expect(d).to.include({ allow: true, status: 200, reason: 'authenticated', credentialConsumed: true });
    expect(d.identity).to.deep.include({ username: 'alice', subject: 'alice', groups: ['devs'], provider: 'gateway', tokenId: plain.record.id });
    expect(d.trace.find((t) => t.stage === 'authenticate')).to.deep.equal({ stage: 'authenticate', outcome: 'pass', detail: 'provider=gateway' });
  });

  it('rejects a wrong checksum without a lookup; an unknown well-formed token after one', async () => {
    const { pipeline, tokens, provider } = setup();
    const typo = plain.token.slice(0, 20) + (plain.token[20] === 'x' ? 'y' : 'x') + plain.token.slice(21);
    const d = await pipeline.decide(at(bearer(typo)));
    expect(d).to.include({ status: 401, reason: 'invalid_token', stage: 'authenticate', challenge: true });
    expect(d.description).to.match(/checksum/);
    expect(tokens.lookups, 'no lookup for a malformed token').to.equal(0);
    expect(provider.asked, 'never offered to a provider').to.equal(0);

    const unknown = await pipeline.decide(at(bearer(generateToken())));
    expect(unknown).to.include({ status: 401, reason: 'invalid_token', description: 'unknown gateway token' });
    expect(tokens.lookups).to.equal(1);
  });

  it('refuses an expired token with token_expired and a revoked one with token_revoked', async () => {
    const { pipeline } = setup();
    expect(await pipeline.decide(at(bearer(expired.token)))).to.include({ status: 401, reason: 'token_expired', stage: 'authenticate' });
    expect(await pipeline.decide(at(bearer(revoked.token)))).to.include({ status: 401, reason: 'token_revoked', stage: 'authenticate' });
    expect(await pipeline.decide(at({ ...bearer(forever.token), time: NOW + 5000 * DAY }))).to.include({ allow: true });
  });

  it('a token expires at its expiresAt instant, not a millisecond later; the refusals say why', async () => {
    const { pipeline } = setup();
    const ends = plain.record.expiresAt!;
    expect(await pipeline.decide(at({ ...bearer(plain.token), time: ends - 1 }))).to.include({ allow: true });
    expect(await pipeline.decide(at({ ...bearer(plain.token), time: ends }))).to.include({ status: 401, reason: 'token_expired', description: 'the gateway token has expired' });
    expect(await pipeline.decide(at(bearer(revoked.token)))).to.include({ reason: 'token_revoked', description: 'the gateway token was revoked' });
    expect(await pipeline.decide(at(basic('mallory', plain.token)))).to.include({
      reason: 'token_owner_mismatch',
      description: 'the Basic user name is not the owner of this gateway token',
    });
  });

  it('the identity of a token carries no scopes, and its expiry only when it has one', async () => {
    const { pipeline } = setup();
    const timed = await pipeline.decide(at(bearer(plain.token)));
    expect(timed.identity).to.deep.equal({
      subject: 'alice', username: 'alice', groups: ['devs'], provider: 'gateway', tokenId: plain.record.id, scopes: [], expiresAt: plain.record.expiresAt,
    });
    const again = await pipeline.decide(at(bearer(plain.token)));
    expect(again.identity).to.deep.equal(timed.identity);
    const lasting = await pipeline.decide(at(bearer(forever.token)));
    expect(lasting.identity).to.deep.equal({ subject: 'ci-bot', username: 'ci-bot', groups: ['robots'], provider: 'gateway', tokenId: forever.record.id, scopes: [] });
  });

  it('accepts Basic with the owner as user name, and refuses any other user name', async () => {
    const { pipeline } = setup();
    const ok = await pipeline.decide(at(basic('alice', plain.token)));
    expect(ok).to.include({ allow: true, credentialConsumed: true });
    expect(ok.identity?.tokenId).to.equal(plain.record.id);
    const mismatch = await pipeline.decide(at(basic('mallory', plain.token)));
    expect(mismatch).to.include({ allow: false, status: 401, reason: 'token_owner_mismatch', stage: 'authenticate' });
  });

  it('accepts the API-key header for gateway tokens only', async () => {
    const { pipeline } = setup({ credentials: { apiKeyHeader: 'X-Api-Key' } });
    expect(await pipeline.decide(at(apiKey(plain.token)))).to.include({ allow: true, reason: 'authenticated', credentialConsumed: true });
    // Anything else in the header is judged as a gateway token, never as a Basic password or by a provider.
    expect(await pipeline.decide(at(apiKey('some-other-key')))).to.include({ status: 401, reason: 'invalid_token', description: 'not a valid gateway token (wrong length or checksum)' });
  });
});

describe('policies/token_scopes', () => {
  it('read-only token: GET, HEAD and OPTIONS pass; POST → 403 token_read_only', async () => {
    const { pipeline } = setup();
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(await pipeline.decide(at({ method, ...bearer(readOnly.token) })), method).to.include({ allow: true });
    }
    const d = await pipeline.decide(at({ method: 'POST', ...bearer(readOnly.token) }));
    expect(d).to.include({ allow: false, status: 403, reason: 'token_read_only', stage: 'token_scopes' });
    expect(d.trace.at(-1)).to.deep.equal({ stage: 'token_scopes', outcome: 'deny', reason: 'token_read_only' });
    expect(d.description).to.equal('this gateway token may only read (GET, HEAD, OPTIONS)');
    const passed = await pipeline.decide(at({ method: 'GET', ...bearer(readOnly.token) }));
    expect(passed.trace.find((t) => t.stage === 'token_scopes')).to.deep.equal({ stage: 'token_scopes', outcome: 'pass', detail: `token=${readOnly.record.id}` });
    expect(await pipeline.decide(at({ method: 'POST', ...bearer(plain.token) })), 'read-write token').to.include({ allow: true });
  });

  it('path-scoped token: inside its prefixes passes, outside (normalised path) → 403 token_path_not_allowed', async () => {
    const { pipeline } = setup();
    for (const path of ['/rest/api/2', '/rest/api/2/issue/1', '/wiki/spaces']) {
      expect(await pipeline.decide(at({ path, ...bearer(scoped.token) })), path).to.include({ allow: true });
    }
    for (const path of ['/rest/api/20', '/rest/admin', '/', '/wikipedia']) {
      expect(await pipeline.decide(at({ path, ...bearer(scoped.token) })), path).to.include({
        status: 403, reason: 'token_path_not_allowed', stage: 'token_scopes', description: 'this gateway token may not call this path',
      });
    }
  });

  it('matches prefixes on segment boundaries', () => {
    expect(underPrefix('/rest', '/rest')).to.equal(true);
    expect(underPrefix('/rest/x', '/rest')).to.equal(true);
    expect(underPrefix('/restore', '/rest')).to.equal(false);
    expect(underPrefix('/anything', '/')).to.equal(true);
  });

  it('IP-scoped token: from an allowed address passes, from another → 403 token_ip_not_allowed', async () => {
    const { pipeline } = setup();
    for (const clientIp of ['10.1.2.3', '2001:db8::7']) {
      expect(await pipeline.decide(at({ clientIp, ...bearer(fenced.token) })), clientIp).to.include({ allow: true });
    }
    for (const clientIp of ['192.0.2.1', '2001:db9::1']) {
      expect(await pipeline.decide(at({ clientIp, ...bearer(fenced.token) })), clientIp).to.include({
        status: 403, reason: 'token_ip_not_allowed', stage: 'token_scopes', description: 'this gateway token may not be used from this address',
      });
    }
  });

  it('leaves provider identities alone', async () => {
    const { pipeline } = setup();
    const d = await pipeline.decide(at({ method: 'POST', path: '/anything', ...bearer('tok-bob') }));
    expect(d).to.include({ allow: true, reason: 'authenticated' });
    expect(d.trace.find((t) => t.stage === 'token_scopes')).to.deep.equal({ stage: 'token_scopes', outcome: 'pass' });
  });
});

describe('policies/credential toggles', () => {
  describe('basic', () => {
    it('allow: Basic passes through untouched to the upstream (no identity, not consumed, no provider asked); with a gateway token it authenticates', async () => {
      const { pipeline, provider, tokens } = setup({ credentials: { basic: 'allow' } });
      const d = await pipeline.decide(at(basic('jira-user', 'their-password')));
      expect(d).to.include({ allow: true, status: 200, reason: 'pass_through', credentialConsumed: false });
      expect(d.identity).to.equal(undefined);
      expect(d.trace.find((t) => t.stage === 'authenticate')).to.deep.equal({ stage: 'authenticate', outcome: 'pass', detail: 'basic pass-through' });
      expect(provider.asked).to.equal(0);
      expect(tokens.lookups).to.equal(0);
      expect(await pipeline.decide(at(basic('alice', plain.token)))).to.include({ allow: true, reason: 'authenticated', credentialConsumed: true });
      expect(await pipeline.decide(at(basic('alice', revoked.token))), 'a token is judged, not passed through').to.include({ reason: 'token_revoked' });
    });

    it('tokens-only (the default): Basic only with a gateway token; any other password → 401 invalid_token', async () => {
      for (const document of [{}, { credentials: { basic: 'tokens-only' } }]) {
        const { pipeline, provider } = setup(document);
        expect(await pipeline.decide(at(basic('alice', plain.token)))).to.include({ allow: true, reason: 'authenticated' });
        const d = await pipeline.decide(at(basic('jira-user', 'their-password')));
        expect(d).to.include({ allow: false, status: 401, reason: 'invalid_token', stage: 'authenticate' });
        expect(d.description).to.match(/only with a gateway token/);
        expect(provider.asked).to.equal(0);
      }
    });

    it('deny: any Basic → 401 basic_auth_disabled, even with a gateway token', async () => {
      const { pipeline, tokens } = setup({ credentials: { basic: 'deny' } });
      for (const credential of [basic('jira-user', 'pw'), basic('alice', plain.token)]) {
        expect(await pipeline.decide(at(credential))).to.include({
          allow: false, status: 401, reason: 'basic_auth_disabled', stage: 'authenticate', description: 'Basic authentication is disabled on this gateway',
        });
      }
      expect(tokens.lookups).to.equal(0);
      expect(await pipeline.decide(at(bearer(plain.token))), 'Bearer tokens still work').to.include({ allow: true });
    });
  });

  describe('pat', () => {
    const pattern = 'ATL[A-Za-z0-9]{10}';

    it('allowed: a token matching the pattern is forwarded unvalidated; nothing else changes', async () => {
      const { pipeline, provider } = setup({ credentials: { pat: { allow: true, pattern } } });
      const d = await pipeline.decide(at(bearer('ATLabcdefghij')));
      expect(d).to.include({ allow: true, reason: 'pass_through', credentialConsumed: false });
      expect(provider.asked, 'a PAT is never sent to an identity provider').to.equal(0);
      expect(await pipeline.decide(at(bearer('ATLabcdefghijEXTRA'))), 'anchored: a longer token is not a PAT').to.include({ reason: 'invalid_token' });
      expect(await pipeline.decide(at(bearer('tok-bob')))).to.include({ reason: 'authenticated' });
    });

    it('not allowed: a token matching the pattern → 401 pat_not_allowed', async () => {
      const { pipeline, provider } = setup({ credentials: { pat: { allow: false, pattern } } });
      expect(await pipeline.decide(at(bearer('ATLabcdefghij')))).to.include({
        allow: false, status: 401, reason: 'pat_not_allowed', stage: 'authenticate', description: 'personal access tokens of the upstream are not accepted on this gateway',
      });
      expect(provider.asked).to.equal(0);
      expect(await pipeline.decide(at(bearer('tok-bob')))).to.include({ reason: 'authenticated' });
    });

    it('without a pattern nothing is a PAT: every bearer token goes to the providers, even one spelt `null`', async () => {
      const { pipeline, provider } = setup();
      expect(await pipeline.decide(at(bearer('null')))).to.include({ status: 401, reason: 'invalid_token', description: 'no provider accepts this credential' });
      expect(provider.asked).to.equal(1);
    });

    it('without a pattern nothing is a PAT, and allowing PATs needs one; the pattern must compile', () => {
      expect(settingsSchema.safeParse({ credentials: { pat: { allow: true } } }).success).to.equal(false);
      expect(settingsSchema.safeParse({ credentials: { pat: { pattern: '([a-z' } } }).success).to.equal(false);
      expect(settingsSchema.parse({}).credentials.pat).to.deep.equal({ allow: false, pattern: null });
    });
  });

  describe('gatewayTokens', () => {
    it('on (the default): gateway tokens authenticate', async () => {
      const { pipeline } = setup({ credentials: { gatewayTokens: true } });
      expect(await pipeline.decide(at(bearer(plain.token)))).to.include({ allow: true });
    });

    it('off: Bearer, Basic and API-key gateway tokens → 401 gateway_tokens_disabled, without a lookup', async () => {
      const { pipeline, tokens, provider } = setup({ credentials: { gatewayTokens: false, apiKeyHeader: 'x-api-key' } });
      for (const credential of [bearer(plain.token), basic('alice', plain.token), apiKey(plain.token)]) {
        expect(await pipeline.decide(at(credential))).to.include({
          allow: false, status: 401, reason: 'gateway_tokens_disabled', description: 'gateway tokens are switched off on this gateway',
        });
      }
      expect(tokens.lookups).to.equal(0);
      expect(provider.asked).to.equal(0);
      expect(await pipeline.decide(at(bearer('tok-bob'))), 'providers still work').to.include({ allow: true });
    });
  });

  describe('apiKeyHeader', () => {
    it('is a lower-cased header name, never Authorization or an identity header; unset by default', () => {
      expect(settingsSchema.parse({ credentials: { apiKeyHeader: 'X-API-Key' } }).credentials.apiKeyHeader).to.equal('x-api-key');
      expect(settingsSchema.parse({}).credentials.apiKeyHeader).to.equal(null);
      for (const bad of ['Authorization', 'x-portcullis-user', 'bad header']) {
        expect(settingsSchema.safeParse({ credentials: { apiKeyHeader: bad } }).success, bad).to.equal(false);
      }
    });
  });
});

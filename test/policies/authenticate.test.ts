// The authenticate stage: issuer routing, configured order, the three provider outcomes, and their statuses.
import { expect } from 'chai';
import { SignJWT } from 'jose';
import type { AccessRequest, Credential, Decision } from '../../core/access.js';
import { silentLogger } from '../../core/logger.js';
import { composePipeline } from '../../core/pipeline.js';
import type { AuthResult, Provider } from '../../core/provider.js';
import { authenticate } from '../../policies/authenticate.js';
import { masterSwitch } from '../../policies/master-switch.js';
import { request } from '../fixtures/requests.js';

const fake = (id: string, answer: (c: Credential) => AuthResult | Promise<AuthResult>, issuers?: string[], calls?: string[]): Provider => ({
  id,
  kind: 'fake',
  ...(issuers ? { issuers } : {}),
  status: () => ({ ready: true }),
  authenticate: async (c) => {
    calls?.push(id);
    return answer(c);
  },
});
const who = (username: string, provider: string): AuthResult => ({
  outcome: 'identity',
  identity: { subject: username, username, groups: ['g'], scopes: [], provider },
});
const bearer = (secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'bearer', secret } });
const jwtWithIss = (iss: string) =>
  new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).sign(new TextEncoder().encode('k'.repeat(32)));

const pipeline = (providers: Provider[]) => composePipeline([authenticate({ providers }, { logger: silentLogger })]);

describe('policies/authenticate', () => {
  it('answers 401 missing_credential with a bare challenge when nothing is presented', async () => {
    const d = await pipeline([]).decide(request());
    expect(d).to.include({ allow: false, status: 401, reason: 'missing_credential', stage: 'authenticate', challenge: true });
  });

  it('answers 400 invalid_request for an unusable Authorization header', async () => {
    const d = await pipeline([]).decide(request({ credentialError: 'malformed basic credentials' }));
    expect(d).to.include({ status: 400, reason: 'invalid_request', description: 'malformed basic credentials' });
  });

  it('routes a JWT to the provider of its issuer only', async () => {
    const calls: string[] = [];
    const a = fake('a', () => who('ann', 'a'), ['https://a.example'], calls);
    const b = fake('b', () => who('bob', 'b'), ['https://b.example'], calls);
    const d = await pipeline([a, b]).decide(request(bearer(await jwtWithIss('https://b.example'))));
    expect(d).to.include({ allow: true, reason: 'authenticated', credentialConsumed: true });
    expect(d.identity?.username).to.equal('bob');
    expect(calls).to.deep.equal(['b']);
    expect(d.trace).to.deep.equal([{ stage: 'authenticate', outcome: 'pass', detail: 'provider=b' }]);
  });

  it('refuses a JWT from an issuer nobody is configured for', async () => {
    const a = fake('a', () => who('ann', 'a'), ['https://a.example']);
    const d = await pipeline([a]).decide(request(bearer(await jwtWithIss('https://evil.example'))));
    expect(d).to.include({ status: 401, reason: 'invalid_token', description: 'token issuer not accepted' });
  });

  it('a JWT of an issuer no provider names goes once to each provider that judges any token, then is refused as issuer not accepted', async () => {
    const calls: string[] = [];
    const a = fake('a', () => who('ann', 'a'), ['https://a.example'], calls);
    const any = fake('any', () => ({ outcome: 'not_responsible' }), undefined, calls);
    // Whatever the text: an issuer is only ever one a provider names (the last is the text a mutation tool writes into lists).
    for (const iss of ['https://evil.example', 'a.example', 'Stryker was here']) {
      calls.length = 0;
      const d = await pipeline([a, any]).decide(request(bearer(await jwtWithIss(iss))));
      expect(d, iss).to.include({ status: 401, reason: 'invalid_token', description: 'token issuer not accepted' });
      expect(calls, iss).to.deep.equal(['any']);
    }
  });

  it('tries opaque tokens in configured order until one is responsible', async () => {
    const calls: string[] = [];
    const first = fake('first', () => ({ outcome: 'not_responsible' }), undefined, calls);
    const second = fake('second', () => who('sue', 'second'), undefined, calls);
    const third = fake('third', () => who('never', 'third'), undefined, calls);
    const d = await pipeline([first, second, third]).decide(request(bearer('opaque-token')));
    expect(d.identity?.username).to.equal('sue');
    expect(calls).to.deep.equal(['first', 'second']);
  });

  it('offers an opaque token to every provider in order, including those with issuers', async () => {
    const calls: string[] = [];
    const jwtOnly = fake('jwt-only', () => ({ outcome: 'not_responsible' }), ['https://a.example'], calls);
    const both = fake('google-like', () => who('gail', 'google-like'), ['https://accounts.example'], calls);
    const d = await pipeline([jwtOnly, both]).decide(request(bearer('ya29.opaque')));
    expect(d.identity?.username).to.equal('gail');
    expect(calls).to.deep.equal(['jwt-only', 'google-like']);
  });

  it('stops at the first failure: 401 invalid_token with the provider description, or 503', async () => {
    const calls: string[] = [];
    const refuses = fake('r', () => ({ outcome: 'failure', code: 'invalid_token', description: 'token expired' }), undefined, calls);
    const later = fake('l', () => who('x', 'l'), undefined, calls);
    const d = await pipeline([refuses, later]).decide(request(bearer('t')));
    expect(d).to.include({ status: 401, reason: 'invalid_token', description: 'token expired', challenge: true });
    expect(calls).to.deep.equal(['r']);
    const down = fake('d', () => ({ outcome: 'failure', code: 'provider_unavailable', description: 'no signing keys' }));
    const d2 = await pipeline([down]).decide(request(bearer('t')));
    expect(d2).to.include({ status: 503, reason: 'provider_unavailable' });
    expect(d2.challenge).to.equal(undefined);
  });

  it('treats a provider that throws as unavailable, not as the caller’s fault', async () => {
    const broken = fake('b', () => {
      throw new Error('bug');
    });
    const logged: unknown[][] = [];
    const logger = { ...silentLogger, error: (...args: unknown[]) => void logged.push(args) };
    const d = await composePipeline([authenticate({ providers: [broken] }, { logger })]).decide(request({ id: 'req-7', ...bearer('t') }));
    expect(d).to.include({ status: 503, reason: 'provider_unavailable', description: 'the identity provider failed' });
    // The operator learns which provider failed for which request; the caller only that it did.
    expect(logged).to.have.length(1);
    expect(logged[0]![0]).to.deep.include({ provider: 'b', requestId: 'req-7' });
    expect(logged[0]![1]).to.equal('provider failed unexpectedly');
  });

  it('decides at once, without a promise, when the providers answer at once; a provider that throws at once is unavailable too', async () => {
    const calls: string[] = [];
    const syncFake = (id: string, answer: () => AuthResult): Provider => ({
      id,
      kind: 'fake',
      status: () => ({ ready: true }),
      authenticate: () => {
        calls.push(id);
        return answer();
      },
    });
    const passes = syncFake('p', () => ({ outcome: 'not_responsible' }));
    const knows = syncFake('k', () => who('kim', 'k'));
    const judged = pipeline([passes, knows]).judge(request(bearer('t')));
    expect(judged).not.to.be.instanceOf(Promise);
    expect(judged).to.include({ allow: true, reason: 'authenticated' });
    expect((judged as Decision).identity?.username).to.equal('kim');
    expect(calls).to.deep.equal(['p', 'k']);

    const logged: unknown[][] = [];
    const logger = { ...silentLogger, error: (...args: unknown[]) => void logged.push(args) };
    const throwing = syncFake('t', () => {
      throw new Error('bug');
    });
    const refused = composePipeline([authenticate({ providers: [throwing, knows] }, { logger })]).judge(request({ id: 'req-8', ...bearer('t') }));
    expect(refused).not.to.be.instanceOf(Promise);
    expect(refused).to.include({ status: 503, reason: 'provider_unavailable', description: 'the identity provider failed' });
    expect(logged[0]![0]).to.deep.include({ provider: 't', requestId: 'req-8' });
  });

  it('waits only from the first provider that waits: an answer at once after a promise still decides', async () => {
    const later: Provider = { id: 'later', kind: 'fake', status: () => ({ ready: true }), authenticate: async () => ({ outcome: 'not_responsible' }) };
    const now: Provider = { id: 'now', kind: 'fake', status: () => ({ ready: true }), authenticate: () => who('nia', 'now') };
    const judged = pipeline([later, now]).judge(request(bearer('t')));
    expect(judged).to.be.instanceOf(Promise);
    expect(await judged).to.include({ allow: true, reason: 'authenticated' });
    expect((await judged).identity?.username).to.equal('nia');
  });

  it('a JWT its issuer’s provider declines goes on to the providers that judge any token', async () => {
    const calls: string[] = [];
    const issuer = fake('issuer', () => ({ outcome: 'not_responsible' }), ['https://a.example'], calls);
    const introspection = fake('introspection', () => who('ivy', 'introspection'), undefined, calls);
    const d = await pipeline([issuer, introspection]).decide(request(bearer(await jwtWithIss('https://a.example'))));
    expect(d).to.include({ allow: true, reason: 'authenticated' });
    expect(calls).to.deep.equal(['issuer', 'introspection']);
  });

  it('reads an issuer only from a Bearer token: a Basic password shaped like a JWT is offered to every provider', async () => {
    const calls: string[] = [];
    const a = fake('a', () => ({ outcome: 'not_responsible' }), ['https://a.example'], calls);
    const password = await jwtWithIss('https://unknown.example');
    const d = await pipeline([a]).decide(request({ credential: { scheme: 'basic', username: 'u', secret: password } }));
    expect(d).to.include({ status: 401, reason: 'invalid_token', description: 'no provider accepts this credential' });
    expect(calls).to.deep.equal(['a']);
  });

  it('answers 401 when no provider is responsible', async () => {
    const d = await pipeline([fake('n', () => ({ outcome: 'not_responsible' }))]).decide(
      request({ credential: { scheme: 'basic', username: 'u', secret: 'p' } }),
    );
    expect(d).to.include({ status: 401, reason: 'invalid_token', description: 'no provider accepts this credential' });
  });
});

describe('policies/master-switch', () => {
  it('passes everything untouched when disabled, with reason auth_disabled', async () => {
    const p = composePipeline([masterSwitch({ enabled: false }), authenticate({ providers: [] }, { logger: silentLogger })]);
    const d = await p.decide(request());
    expect(d).to.include({ allow: true, reason: 'auth_disabled', stage: 'master_switch', credentialConsumed: false, description: 'authentication is disabled by the master switch' });
    expect(d.trace).to.deep.equal([{ stage: 'master_switch', outcome: 'allow', reason: 'auth_disabled' }]);
  });

  it('passes on to authentication when enabled', async () => {
    const p = composePipeline([masterSwitch({ enabled: true }), authenticate({ providers: [] }, { logger: silentLogger })]);
    const d = await p.decide(request());
    expect(d).to.include({ reason: 'missing_credential', stage: 'authenticate' });
    expect(d.trace.map((t) => t.stage)).to.deep.equal(['master_switch', 'authenticate']);
  });
});

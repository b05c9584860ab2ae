// Simulation: recorded decisions (made by the real stages with a real-looking provider) re-run through candidate settings.
import { expect } from 'chai';
import type { AccessRequest, Decision } from '../../../core/access.js';
import { ManualClock } from '../../../core/clock.js';
import type { DecisionRecord } from '../../../core/decision-log/record.js';
import { silentLogger } from '../../../core/logger.js';
import { composePipeline } from '../../../core/pipeline.js';
import type { Provider } from '../../../core/provider.js';
import { LocalRateLimiter } from '../../../core/rate-limit.js';
import { settingsSchema, type Settings } from '../../../core/settings/schema.js';
import { simulate } from '../../../core/simulation/simulate.js';
import { policyStages } from '../../../server/runtime/compile.js';
import { compileCandidate } from '../../../server/runtime/simulate.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0, 0);

/** Knows bearer secrets `alice` and `bob`; refuses any other. */
const provider: Provider = {
  id: 'idp',
  kind: 'test',
  status: () => ({ ready: true }),
  authenticate: (credential) =>
    Promise.resolve(
      credential.secret === 'alice' || credential.secret === 'bob'
        ? { outcome: 'identity', identity: { subject: `s-${credential.secret}`, username: credential.secret, groups: ['staff'], provider: 'idp', scopes: [] } }
        : { outcome: 'failure', code: 'invalid_token', description: 'bad token' },
    ),
};

const toRecord = (request: AccessRequest, decision: Decision): DecisionRecord => ({
  time: request.time,
  requestId: request.id,
  method: request.method,
  host: request.host,
  path: request.path,
  clientIp: request.clientIp,
  peerIp: request.peerIp,
  ...(request.credential ? { credential: request.credential.scheme } : {}),
  allow: decision.allow,
  status: decision.status,
  reason: decision.reason,
  stage: decision.stage,
  ...(decision.identity
    ? { identity: { subject: decision.identity.subject, username: decision.identity.username, provider: decision.identity.provider, groups: decision.identity.groups } }
    : {}),
  trace: decision.trace.map((t) => ({ stage: t.stage, outcome: t.outcome })),
});

/** Decide `requests` with the live stages (the real authenticate stage and provider) and keep what the log keeps. */
async function record(settings: Settings, requests: readonly AccessRequest[]): Promise<DecisionRecord[]> {
  const clock = new ManualClock();
  const pipeline = composePipeline(policyStages(settings, [provider], { logger: silentLogger, clock, rateLimiter: new LocalRateLimiter(clock) }));
  const records: DecisionRecord[] = [];
  for (const request of requests) {
    clock.set(request.time);
    records.push(toRecord(request, await pipeline.decide(request)));
  }
  return records;
}

const req = (i: number, over: Partial<AccessRequest> = {}): AccessRequest => ({
  id: `r-${i}`,
  method: 'GET',
  rawPath: '/api/x',
  path: '/api/x',
  query: '',
  host: 'api.example',
  clientIp: '192.0.2.1',
  peerIp: '192.0.2.1',
  time: T0 + i * 1000,
  ...over,
});
const bearer = (secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'bearer', secret } });

/** A mixed day: two users from two addresses, an anonymous caller, a bad token, a public path. */
const traffic = (): AccessRequest[] => {
  const out: AccessRequest[] = [];
  for (let i = 0; i < 60; i++) {
    const kind = i % 6;
    if (kind === 0) out.push(req(i, bearer('alice')));
    else if (kind === 1) out.push(req(i, { ...bearer('bob'), clientIp: '198.51.100.7', peerIp: '198.51.100.7' }));
    else if (kind === 2) out.push(req(i));
    else if (kind === 3) out.push(req(i, bearer('mallory')));
    else if (kind === 4) out.push(req(i, { path: '/health', rawPath: '/health' }));
    else out.push(req(i, { ...bearer('alice'), clientIp: '198.51.100.7', peerIp: '198.51.100.7', method: 'POST' }));
  }
  return out;
};

const baseDoc = { paths: { public: ['/health'] } };

describe('simulation (core/simulation, server/runtime/simulate.ts)', () => {
  it('identical settings change nothing', async () => {
    const settings = settingsSchema.parse(baseDoc);
    const records = await record(settings, traffic());
    expect(new Set(records.map((r) => r.reason))).to.include.members(['authenticated', 'missing_credential', 'invalid_token', 'anonymous']);
    const result = await simulate(records, compileCandidate(settings));
    expect(result).to.deep.equal({ decisions: 60, changed: 0, transitions: [], samples: [] });
  });

  it('an IP deny list turns the allows from that address into denies, and nothing else', async () => {
    const records = await record(settingsSchema.parse(baseDoc), traffic());
    const candidate = settingsSchema.parse({ ...baseDoc, ip: { deny: ['198.51.100.7/32'] } });
    const result = await simulate(records, compileCandidate(candidate), { samples: 100 });
    const fromThatIp = records.filter((r) => r.clientIp === '198.51.100.7');
    expect(fromThatIp.every((r) => r.allow)).to.equal(true);
    expect(result.transitions).to.deep.equal([{ from: 'allow/authenticated', to: 'deny/ip_not_allowed', count: fromThatIp.length }]);
    expect(result.changed).to.equal(fromThatIp.length);
    expect(result.samples.map((s) => s.requestId)).to.deep.equal(fromThatIp.map((r) => r.requestId));
    const sample = result.samples[0]!;
    expect(sample.username).to.equal('bob');
    expect(sample.new).to.deep.equal({ allow: false, status: 403, reason: 'ip_not_allowed', stage: 'ip' });
    expect(sample.trace.at(-1)).to.include({ stage: 'ip', outcome: 'deny' });
    expect(sample.time).to.equal(new Date(fromThatIp[0]!.time).toISOString());
  });

  it('replays rate limits in record order, on record time', async () => {
    // Recorded without limits: alice 5 times in the same minute, then once in the next minute.
    const times = [0, 1, 2, 3, 4, 61].map((s) => T0 + s * 1000);
    const records = await record(settingsSchema.parse({}), times.map((time, i) => req(i, { ...bearer('alice'), time })));
    const candidate = settingsSchema.parse({ rateLimit: { enabled: true, limit: 3, windowSeconds: 60 } });
    const result = await simulate(records, compileCandidate(candidate), { samples: 10 });
    expect(result.transitions).to.deep.equal([{ from: 'allow/authenticated', to: 'deny/rate_limited', count: 2 }]);
    expect(result.samples.map((s) => s.requestId)).to.deep.equal(['r-3', 'r-4']);
  });

  it('is deterministic: two runs give the same answer', async () => {
    const records = await record(settingsSchema.parse(baseDoc), traffic());
    const candidate = compileCandidate(settingsSchema.parse({ rateLimit: { enabled: true, limit: 2, windowSeconds: 60 }, ip: { deny: ['192.0.2.1'] } }));
    const first = await simulate(records, candidate);
    const second = await simulate(records, candidate);
    expect(first.changed).to.be.greaterThan(0);
    expect(second).to.deep.equal(first);
  });

  it('stands in for authentication: missing credential when none was recorded, the recorded refusal for a refused one', async () => {
    const records = await record(settingsSchema.parse({ paths: { public: ['/api/**'] } }), traffic());
    // Making nothing public: the anonymous callers now lack a credential; refused tokens stay refused.
    const result = await simulate(records, compileCandidate(settingsSchema.parse({})), { samples: 100 });
    const anonymous = records.filter((r) => r.reason === 'anonymous').length;
    expect(anonymous).to.equal(10);
    expect(result.transitions).to.deep.equal([{ from: 'allow/anonymous', to: 'deny/missing_credential', count: anonymous }]);
  });

  it('reports progress while it runs', async () => {
    const records = await record(settingsSchema.parse({}), traffic());
    const seen: number[] = [];
    await simulate(records, compileCandidate(settingsSchema.parse({})), { progressEvery: 20, onProgress: (n) => seen.push(n) });
    expect(seen).to.deep.equal([20, 40, 60]);
  });
});

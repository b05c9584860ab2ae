// The pipeline: onion order, the trace, the deciding stage, and misuse caught early.
import { expect } from 'chai';
import { allow, deny } from '../../core/access.js';
import { composePipeline, type Stage } from '../../core/pipeline.js';
import { request } from '../fixtures/requests.js';

const passing = (name: string, log: string[]): Stage => ({
  name,
  async run(_r, _s, next) {
    log.push(`${name}:in`);
    const v = await next(`${name}-detail`);
    log.push(`${name}:out`);
    return v;
  },
});

describe('core/pipeline', () => {
  it('runs stages onion-style and allows anonymously when every stage passes', async () => {
    const log: string[] = [];
    const d = await composePipeline([passing('a', log), passing('b', log)]).decide(request());
    expect(log).to.deep.equal(['a:in', 'b:in', 'b:out', 'a:out']);
    expect(d).to.include({ allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', credentialConsumed: false });
    expect(d.trace).to.deep.equal([
      { stage: 'a', outcome: 'pass', detail: 'a-detail' },
      { stage: 'b', outcome: 'pass', detail: 'b-detail' },
    ]);
  });

  it('names the stage that decided and stops there', async () => {
    const log: string[] = [];
    const denier: Stage = { name: 'gate', run: async () => deny(403, 'nope', 'not you') };
    const d = await composePipeline([passing('a', log), denier, passing('c', log)]).decide(request());
    expect(d).to.include({ allow: false, status: 403, reason: 'nope', stage: 'gate', description: 'not you' });
    expect(d.trace.map((t) => `${t.stage}:${t.outcome}`)).to.deep.equal(['a:pass', 'gate:deny']);
    expect(log).to.not.include('c:in');
  });

  it('reports authenticated with the identity a stage set', async () => {
    const auth: Stage = {
      name: 'auth',
      run: (_r, state, next) => {
        state.identity = { subject: 's', username: 'u', groups: [], scopes: [], provider: 'p' };
        state.credentialConsumed = true;
        return next();
      },
    };
    const d = await composePipeline([auth]).decide(request());
    expect(d).to.include({ reason: 'authenticated', credentialConsumed: true });
    expect(d.identity?.username).to.equal('u');
  });

  it('keeps an allow verdict from an early stage (master switch)', async () => {
    const sw: Stage = { name: 'switch', run: async () => allow('auth_disabled') };
    const d = await composePipeline([sw, { name: 'never', run: () => Promise.reject(new Error('ran')) }]).decide(request());
    expect(d).to.include({ allow: true, reason: 'auth_disabled', stage: 'switch' });
  });

  it('refuses duplicate stage names and next() called twice', async () => {
    const s: Stage = { name: 'x', run: (_r, _s, n) => n() };
    expect(() => composePipeline([s, s])).to.throw(TypeError, /duplicate/);
    const twice: Stage = { name: 'twice', run: async (_r, _s, n) => (await n(), n()) };
    let error: unknown;
    await composePipeline([twice]).decide(request()).catch((e: unknown) => (error = e));
    expect(String(error)).to.match(/twice called next\(\) twice/);
  });

  it('keeps per-request state separate between concurrent requests', async () => {
    // Interleaved on purpose: a's stage finishes only after b's has set its identity.
    let bDone!: () => void;
    const bSet = new Promise<void>((resolve) => (bDone = resolve));
    const slow: Stage = {
      name: 'slow',
      run: async (r, state, next) => {
        if (r.id === 'a') await bSet;
        state.identity = { subject: r.id, username: r.id, groups: [], scopes: [], provider: 'p' };
        if (r.id === 'b') bDone();
        return next();
      },
    };
    const p = composePipeline([slow]);
    const [a, b] = await Promise.all([p.decide(request({ id: 'a' })), p.decide(request({ id: 'b' }))]);
    expect(a.identity?.username).to.equal('a');
    expect(b.identity?.username).to.equal('b');
  });

  it('decides without a promise when every stage answers at once, and with one as soon as a stage waits', async () => {
    const now = (name: string): Stage => ({ name, run: (_r, _s, next) => next(`${name}-detail`) });
    const waits: Stage = { name: 'waits', run: async (_r, _s, next) => next() };
    const direct = composePipeline([now('a'), now('b')]).judge(request());
    expect(direct).not.to.be.instanceOf(Promise);
    expect(direct).to.include({ allow: true, reason: 'anonymous' });
    const waited = composePipeline([now('a'), waits, now('b')]).judge(request());
    expect(waited).to.be.instanceOf(Promise);
    expect((await waited).trace.map((t) => t.stage)).to.deep.equal(['a', 'waits', 'b']);
  });

  it('keeps stage details only when asked: the decision log needs stage and outcome alone', async () => {
    const stages = [passing('a', []), passing('b', [])];
    const plain = await composePipeline(stages).judge(request(), { detailed: false });
    expect(plain.trace).to.deep.equal([
      { stage: 'a', outcome: 'pass' },
      { stage: 'b', outcome: 'pass' },
    ]);
    const detailed = await composePipeline(stages).judge(request(), { detailed: true });
    expect(detailed.trace.map((t) => t.detail)).to.deep.equal(['a-detail', 'b-detail']);
  });

  it('gives the answer headers a stage put on the state to allowed and denied decisions, over a later verdict’s of the same name', async () => {
    const counts: Stage = {
      name: 'counts',
      run: (_r, state, next) => {
        state.headers = { 'x-left': '9', 'x-shared': 'state' };
        return next();
      },
    };
    const allowed = await composePipeline([counts]).decide(request());
    expect(allowed.headers).to.deep.equal({ 'x-left': '9', 'x-shared': 'state' });
    const refuses: Stage = { name: 'refuses', run: () => deny(403, 'nope', 'not you', { headers: { 'x-shared': 'verdict' } }) };
    const denied = await composePipeline([counts, refuses]).decide(request());
    expect(denied).to.include({ allow: false, reason: 'nope' });
    expect(denied.headers).to.deep.equal({ 'x-shared': 'state', 'x-left': '9' });
  });
});

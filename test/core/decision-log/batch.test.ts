// One batch of fixed-size records: what goes in comes out, long values are cut, interning lives and dies with the batch.
import { expect } from 'chai';

import type { AccessRequest, Decision, TraceEntry } from '../../../core/access.js';
import { DecisionBatch, groupsText } from '../../../core/decision-log/batch.js';
import { batchCount, decodeBatch } from '../../../core/decision-log/decode.js';
import { HEADER_WORDS, MAX_CHARS, MAX_TRACE } from '../../../core/decision-log/layout.js';
import { request } from '../../fixtures/requests.js';

const denied: Decision = { allow: false, status: 403, reason: 'ip_not_allowed', stage: 'ip', trace: [{ stage: 'ip', outcome: 'deny', reason: 'ip_not_allowed' }], credentialConsumed: false };
const stringsIn = (wire: ArrayBuffer): number => new Uint32Array(wire, 0, HEADER_WORDS)[2]!;

function roundTrip(pairs: readonly [AccessRequest, Decision][], capacity = 16) {
  const batch = new DecisionBatch(capacity);
  for (const [r, d] of pairs) expect(batch.add(r, d)).to.equal(true);
  return decodeBatch(batch.seal());
}

describe('core/decision-log/batch', () => {
  it('decodes what it encoded: every field, each credential kind, with and without identity or token id', () => {
    const trace: TraceEntry[] = [
      { stage: 'master_switch', outcome: 'pass' },
      { stage: 'routes', outcome: 'allow', reason: 'bypass' },
    ];
    const [a, b, c, d] = roundTrip([
      [request({ id: 'one', method: 'DELETE', path: '/ünïcode/☃', host: 'hôst.example', clientIp: '2001:db8::1', peerIp: '::1', credential: { scheme: 'basic', secret: 's', username: 'u' } }), { ...denied, status: 401 }],
      [request({ id: 'two', credential: { scheme: 'api_key', secret: 's', header: 'x-api-key' }, time: 1_700_000_000_123.5 }), { allow: true, status: 200, reason: 'bypass', stage: 'routes', trace, credentialConsumed: false, identity: { subject: '𝔰', username: 'ann', groups: [], scopes: [], provider: 'gateway', tokenId: 't1' } }],
      [request({ id: 'three' }), { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', trace: [], credentialConsumed: false }],
      [request({ id: 'four', credential: { scheme: 'bearer', secret: 's' } }), { ...denied, identity: { subject: 's', username: 'bob', groups: ['a', 'b, "c"'], scopes: [], provider: 'idp' } }],
    ]);
    expect(a).to.deep.equal({
      time: 1_700_000_000_000, requestId: 'one', method: 'DELETE', host: 'hôst.example', path: '/ünïcode/☃', clientIp: '2001:db8::1', peerIp: '::1',
      credential: 'basic', allow: false, status: 401, reason: 'ip_not_allowed', stage: 'ip', trace: [{ stage: 'ip', outcome: 'deny' }],
    });
    expect(b).to.deep.include({ time: 1_700_000_000_123.5, credential: 'api_key', allow: true, reason: 'bypass', stage: 'routes' });
    expect(b?.identity).to.deep.equal({ subject: '𝔰', username: 'ann', provider: 'gateway', groups: [], tokenId: 't1' });
    expect(b?.trace).to.deep.equal([{ stage: 'master_switch', outcome: 'pass' }, { stage: 'routes', outcome: 'allow' }]);
    expect(c).to.not.have.property('credential');
    expect(c).to.not.have.property('identity');
    expect(c?.trace).to.deep.equal([]);
    expect(d?.identity).to.deep.equal({ subject: 's', username: 'bob', provider: 'idp', groups: ['a', 'b, "c"'] });
  });

  it('cuts what is longer than the log keeps, ending it with …', () => {
    const long = (n: number) => 'x'.repeat(n);
    const groups = Array.from({ length: 2000 }, (_, i) => `group-${i}-${'g'.repeat(10)}`);
    const [d] = roundTrip([
      [
        request({ id: long(500), host: long(4000), path: `/${long(9000)}`, clientIp: long(100), method: long(300) }),
        { ...denied, reason: long(200), trace: Array.from({ length: 20 }, (_, i) => ({ stage: `s${i}`, outcome: 'pass' as const })), identity: { subject: long(2000), username: 'u', groups, scopes: [], provider: 'p', tokenId: long(5000) } },
      ],
    ]);
    expect(d!.host).to.equal(`${long(MAX_CHARS.host - 1)}…`);
    expect(d!.requestId).to.have.length(MAX_CHARS.requestId);
    expect(d!.path).to.have.length(MAX_CHARS.path);
    expect(d!.clientIp).to.have.length(MAX_CHARS.ip);
    expect(d!.method.endsWith('…')).to.equal(true);
    expect(d!.reason).to.have.length(MAX_CHARS.word);
    expect(d!.identity!.subject).to.have.length(MAX_CHARS.identity);
    expect(d!.identity!.tokenId).to.have.length(MAX_CHARS.identity);
    expect(d!.trace).to.have.length(MAX_TRACE);
    const kept = d!.identity!.groups;
    expect(kept.at(-1)).to.equal('…');
    expect(kept.slice(0, -1)).to.deep.equal(groups.slice(0, kept.length - 1));
    expect(JSON.stringify(kept).length).to.be.at.most(MAX_CHARS.groups);
    expect(groupsText(['a'])).to.equal('["a"]');
  });

  it('interns per batch only: a flood of distinct hosts never carries over to the next batch', () => {
    const batch = new DecisionBatch(50);
    const sealed: ArrayBuffer[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = request({ id: `f${i}`, host: `host-${i}.example`, path: `/p/${i}` });
      if (!batch.add(r, denied)) {
        sealed.push(batch.seal());
        batch.add(r, denied);
      }
    }
    sealed.push(batch.seal());
    expect(sealed).to.have.length(200);
    // method, reason, stage, the stage of the trace (the same string) and 50 hosts: never the hosts of earlier batches.
    expect(new Set(sealed.map(stringsIn))).to.deep.equal(new Set([53]));
    const decoded = sealed.flatMap(decodeBatch);
    expect(decoded.map((d) => d.host)).to.deep.equal(Array.from({ length: 10_000 }, (_, i) => `host-${i}.example`));
  });

  it('refuses a record of another UTC day, and one past its capacity; an empty batch takes anything', () => {
    const batch = new DecisionBatch(2);
    const day = Date.UTC(2026, 0, 1);
    expect(batch.add(request({ time: day - 1 }), denied)).to.equal(true);
    expect(batch.add(request({ time: day }), denied), 'the next UTC day').to.equal(false);
    expect(batch.add(request({ time: day - 2 }), denied)).to.equal(true);
    expect(batch.add(request({ time: day - 3 }), denied), 'full').to.equal(false);
    const wire = batch.seal();
    expect(batchCount(wire)).to.equal(2);
    expect(batch.count).to.equal(0);
    expect(batch.add(request({ time: day }), denied)).to.equal(true);
  });

  it('seals when the byte section could not take a record of the longest strings', () => {
    const batch = new DecisionBatch(4096);
    const huge = request({ path: `/${'é'.repeat(8000)}`, host: 'ö'.repeat(1000) });
    let added = 0;
    while (batch.add({ ...huge, id: `h${added}` }, denied)) added += 1;
    expect(added).to.be.greaterThan(10).and.below(4096);
    const decoded = decodeBatch(batch.seal());
    expect(decoded).to.have.length(added);
    expect(decoded.at(-1)!.path).to.equal(huge.path);
  });

  it('refuses a capacity past what a block holds, and bytes that are not a batch', () => {
    expect(() => new DecisionBatch(4097)).to.throw(TypeError);
    expect(() => decodeBatch(new ArrayBuffer(8))).to.throw(TypeError);
    const wire = new DecisionBatch(1);
    wire.add(request(), denied);
    expect(() => decodeBatch(wire.seal().slice(0, 40))).to.throw(TypeError);
  });
});

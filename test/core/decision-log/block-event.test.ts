// A block's event and digest: one event per block in its day's stream, and a digest that any change to a decision breaks.
import { createHash } from 'node:crypto';

import { expect } from 'chai';

import { DecisionBatch } from '../../../core/decision-log/batch.js';
import { BatchView } from '../../../core/decision-log/batch-view.js';
import { blockEvent } from '../../../core/decision-log/block-event.js';
import { decodeBatch } from '../../../core/decision-log/decode.js';
import { RECORD_BYTES, regions } from '../../../core/decision-log/layout.js';
import { Packer, unpackIp, unpackIpHex, unpackRequestIdHex } from '../../../core/decision-log/compact.js';
import { batchDigest, blockDigest } from '../../../core/decision-log/digest.js';
import type { DecisionRecord } from '../../../core/decision-log/record.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

describe('core/decision-log/block-event and digest', () => {
  it('makes one AccessDecisionsRecorded event in the stream of the block’s UTC day, with count, times and digest', () => {
    const decisions = [sampleDecision({ time: Date.UTC(2026, 0, 5, 23, 59, 59, 999) }), sampleDecision()];
    const { stream, event } = blockEvent('b1', new BatchView(sealedBlock('b1', decisions).batch));
    expect(stream).to.equal('access-2026-01-05');
    expect(event).to.deep.equal({
      id: 'b1',
      type: 'AccessDecisionsRecorded',
      data: { count: 2, digest: blockDigest(decisions), first: '2026-01-05T09:00:00.000Z', last: '2026-01-05T23:59:59.999Z' },
      metadata: { actor: 'gateway' },
    });
  });

  it('refuses an empty batch, and one whose decisions span two UTC days (crafted: the writer never seals one)', () => {
    expect(() => blockEvent('e', new BatchView(new DecisionBatch(1).seal()))).to.throw(TypeError);
    const { batch } = sealedBlock('b', [sampleDecision(), sampleDecision()]);
    const { recordsAt } = regions(2, 0);
    new Float64Array(batch, recordsAt + RECORD_BYTES, 1)[0] = Date.UTC(2026, 0, 6);
    expect(() => blockEvent('b', new BatchView(batch))).to.throw(TypeError, /one UTC day/);
  });

  it('gives the same digest from a sealed batch’s bytes as from its decisions read back', () => {
    const decisions = [
      sampleDecision(),
      sampleDecision({ credential: undefined, identity: undefined, trace: [], allow: false, status: 401 }),
      sampleDecision({ credential: 'basic', path: '/ü/☃/𝔰', host: 'hôte', identity: { subject: 's', username: 'ü', provider: 'gateway', groups: [], tokenId: 't' } }),
      sampleDecision({ credential: 'api_key', requestId: 'lone \ud800 surrogate', identity: { subject: 'x'.repeat(3000), username: 'u', provider: 'p', groups: ['a', 'b,"c"', 'ä'] } }),
      sampleDecision({ trace: Array.from({ length: 20 }, (_, i) => ({ stage: `s${i}`, outcome: (['pass', 'allow', 'deny'] as const)[i % 3]! })) }),
    ];
    const { batch } = sealedBlock('b', decisions);
    expect(batchDigest(new BatchView(batch))).to.equal(blockDigest(decodeBatch(batch)));
  });

  it('has a digest that changes with any field of any decision, with their order, and with their number', () => {
    const base = [sampleDecision(), sampleDecision({ requestId: 'other' })];
    const digest = blockDigest(base);
    const changes: Partial<DecisionRecord>[] = [
      { time: base[0]!.time + 1 }, { requestId: 'x' }, { method: 'POST' }, { host: 'h' }, { path: '/y' }, { clientIp: '::1' }, { peerIp: '10.0.0.1' },
      { credential: 'basic' }, { credential: undefined }, { allow: false }, { status: 201 }, { reason: 'bypass' }, { stage: 'routes' },
      { identity: undefined }, { identity: { ...base[0]!.identity!, subject: 'x' } }, { identity: { ...base[0]!.identity!, username: 'x' } },
      { identity: { ...base[0]!.identity!, provider: 'x' } }, { identity: { ...base[0]!.identity!, groups: ['dev,ops'] } },
      { identity: { ...base[0]!.identity!, groups: ['dev', 'ops', ''] } }, { identity: { ...base[0]!.identity!, tokenId: undefined } },
      { trace: [] }, { trace: [{ stage: 'ip', outcome: 'deny' }, { stage: 'authenticate', outcome: 'pass' }] }, { trace: [{ stage: 'ipauthenticate', outcome: 'pass' }] },
    ];
    const seen = new Set([digest]);
    for (const change of changes) {
      const changed = blockDigest([{ ...base[0]!, ...change }, base[1]!]);
      expect(seen.has(changed), JSON.stringify(change)).to.equal(false);
      seen.add(changed);
    }
    expect(blockDigest([base[1]!, base[0]!])).to.not.equal(digest);
    expect(blockDigest([base[0]!])).to.not.equal(digest);
    expect(blockDigest([{ ...base[0]! }, { ...base[1]! }]), 'the same content, other objects').to.equal(digest);
  });

  it('is sha256 over the canonical form docs/audit.md describes, built here independently', () => {
    const str = (s: string) => {
      const bytes = Buffer.from(s, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return Buffer.concat([length, bytes]);
    };
    const canonical = (d: DecisionRecord): Buffer => {
      const head = Buffer.alloc(11);
      head.writeDoubleLE(d.time, 0);
      head.writeUInt16LE(d.status, 8);
      const credential = { bearer: 1, basic: 2, api_key: 3 }[d.credential ?? 'none' as never] ?? 0;
      head[10] = (d.allow ? 1 : 0) | (credential << 1) | (d.identity ? 8 : 0) | (d.identity?.tokenId !== undefined ? 16 : 0);
      const parts = [head, ...[d.requestId, d.method, d.host, d.path, d.clientIp, d.peerIp, d.reason, d.stage].map(str)];
      if (d.identity) {
        const count = Buffer.alloc(4);
        count.writeUInt32LE(d.identity.groups.length);
        parts.push(str(d.identity.subject), str(d.identity.username), str(d.identity.provider), count, ...d.identity.groups.map(str));
        if (d.identity.tokenId !== undefined) parts.push(str(d.identity.tokenId));
      }
      parts.push(Buffer.from([d.trace.length]));
      for (const step of d.trace) parts.push(str(step.stage), Buffer.from([{ pass: 1, allow: 2, deny: 3 }[step.outcome]]));
      return Buffer.concat(parts);
    };
    const block = [sampleDecision(), sampleDecision({ identity: { subject: 's', username: 'ü', provider: 'gateway', groups: [] }, credential: undefined, allow: false, status: 401, path: '/é', trace: [] })];
    expect(blockDigest(block)).to.equal(createHash('sha256').update(Buffer.concat(block.map(canonical))).digest('hex'));
  });
});

describe('core/decision-log/compact', () => {
  it('packs canonical addresses and lower-case UUIDs to bytes, keeps anything else as text, and gives back the same text', () => {
    const packer = new Packer();
    for (const [ip, size] of [['198.51.100.7', 4], ['0.0.0.0', 4], ['2001:db8::1', 16], ['::1', 16], ['::', 16]] as const) {
      const packed = packer.ip(ip);
      expect(Buffer.isBuffer(packed) && packed.length, ip).to.equal(size);
      expect(unpackIp(Buffer.from(packed as Buffer))).to.equal(ip);
      // As reads get it: SQLite's hex() of the bytes, upper case, inside a longer text.
      expect(unpackIpHex(`AB${(packed as Buffer).toString('hex').toUpperCase()}`, 2, 2 * size)).to.equal(ip);
    }
    for (const text of ['2001:DB8::1', '2001:db8:0::1', '::ffff:1.2.3.4', 'fe80::1%eth0', '01.2.3.4', '1.2.3', 'unknown', '']) {
      expect(packer.ip(text), text).to.equal(text);
    }
    const id = '0194f0a0-1234-7abc-8def-0123456789ab';
    const packed = packer.requestId(id);
    expect(Buffer.isBuffer(packed) && packed.length).to.equal(16);
    expect(unpackRequestIdHex(`0F${(packed as Buffer).toString('hex').toUpperCase()}`, 2)).to.equal(id);
    for (const text of [id.toUpperCase(), `${id}0`, id.replaceAll('-', '_'), 'req-1']) expect(packer.requestId(text)).to.equal(text);
  });
});

// The hash chain's building blocks: canonical JSON must not depend on key order, hashes on nothing else.
import { createHash } from 'node:crypto';

import { expect } from 'chai';

import { canonicalJson, hashCanonicalEvent, hashEvent } from '../../../core/store/hash.js';

describe('canonicalJson', () => {
  it('sorts object keys recursively and drops whitespace', () => {
    const value = { b: 1, a: { d: [3, { z: 1, y: 'two' }], c: null } };
    expect(canonicalJson(value)).to.equal('{"a":{"c":null,"d":[3,{"y":"two","z":1}]},"b":1}');
  });

  it('orders keys by code unit, numeric-looking keys included', () => {
    expect(canonicalJson({ a: 3, 9: 2, 10: 1, B: 0 })).to.equal('{"10":1,"9":2,"B":0,"a":3}');
  });

  it('follows JSON.stringify for values JSON cannot hold', () => {
    expect(canonicalJson({ u: undefined, f: () => 1, n: NaN, i: -Infinity, d: new Date(0) })).to.equal(
      '{"d":"1970-01-01T00:00:00.000Z","i":null,"n":null}',
    );
    expect(canonicalJson([undefined, 1])).to.equal('[null,1]');
    expect(canonicalJson('quote " and \u2028')).to.equal(JSON.stringify('quote " and \u2028'));
    expect(() => canonicalJson(undefined)).to.throw(TypeError);
    expect(() => canonicalJson({ big: 1n })).to.throw(TypeError);
  });

  it('agrees with a plain recursive sort for nested, shuffled and array-index keys', () => {
    const reference = (v: unknown): string => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v);
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      const record = v as Record<string, unknown>;
      return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(',')}}`;
    };
    const keys = ['b', 'a', 'Z', '10', '9', '0', '01', 'é', '_', 'a1', '4294967295'];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const build = (depth: number): unknown => {
      if (depth === 0 || random() < 0.3) return random() < 0.5 ? Math.round(random() * 100) : `s${Math.round(random() * 9)}`;
      if (random() < 0.3) return Array.from({ length: 3 }, () => build(depth - 1));
      const out: Record<string, unknown> = {};
      for (const k of keys) if (random() < 0.4) out[k] = build(depth - 1);
      return out;
    };
    for (let i = 0; i < 300; i++) {
      const value = { outer: build(4), [keys[i % keys.length]!]: build(3) };
      expect(canonicalJson(value)).to.equal(reference(value));
    }
  });

  it('writes a value whose keys are already in order as JSON.stringify does, and only then', () => {
    const ordered = { a: 1, b: { c: [{ d: 1, e: undefined }, null], f: 'x' }, g: NaN };
    expect(canonicalJson(ordered)).to.equal(JSON.stringify(ordered));
    // In order at the top, not below; a toJSON inside; an inherited enumerable key (not written).
    expect(canonicalJson({ a: { z: 1, y: 2 } })).to.equal('{"a":{"y":2,"z":1}}');
    expect(canonicalJson({ a: new Date(0), b: { toJSON: () => ({ d: 1, c: 2 }) } })).to.equal('{"a":"1970-01-01T00:00:00.000Z","b":{"c":2,"d":1}}');
    const inherited = Object.assign(Object.create({ z: 'inherited' }) as object, { a: 1 });
    expect(canonicalJson(inherited)).to.equal('{"a":1}');
  });

  it('gives what a JSON round trip gives back', () => {
    const value = { z: [1, { y: undefined, x: new Date(1000) }], a: 'é' };
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).to.equal(canonicalJson(value));
  });
});

describe('hashEvent', () => {
  const event = {
    id: 'e1',
    type: 'TokenIssued',
    stream: 'tokens-1',
    revision: 0,
    time: '2024-01-01T00:00:00.000Z',
    data: { b: 2, a: 1 },
    metadata: { actor: 'admin' },
  };

  it('is sha256 over the canonical array of prevHash and content', () => {
    const expected = createHash('sha256')
      .update('["p","e1","TokenIssued","tokens-1",0,"2024-01-01T00:00:00.000Z",{"a":1,"b":2},{"actor":"admin"}]')
      .digest('hex');
    expect(hashEvent('p', event)).to.equal(expected);
  });

  it('gives the same hash from the canonical text of data and metadata (what the SQLite store writes)', () => {
    for (const data of [event.data, { z: [1, { 10: 'x', 9: 'y' }], a: null }, 'text', 0, []]) {
      const e = { ...event, data, metadata: { time: 't', actor: 'gateway' } };
      const { data: d, metadata: m, ...content } = e;
      expect(hashCanonicalEvent('prev', content, canonicalJson(d), canonicalJson(m))).to.equal(hashEvent('prev', e));
    }
  });

  it('does not depend on key order but on every field and the predecessor', () => {
    const base = hashEvent('', event);
    expect(hashEvent('', { ...event, data: { a: 1, b: 2 } })).to.equal(base);
    const variants = [
      hashEvent('x', event),
      hashEvent('', { ...event, id: 'e2' }),
      hashEvent('', { ...event, type: 'TokenRevoked' }),
      hashEvent('', { ...event, stream: 'tokens-2' }),
      hashEvent('', { ...event, revision: 1 }),
      hashEvent('', { ...event, time: '2024-01-01T00:00:00.001Z' }),
      hashEvent('', { ...event, data: { a: 1, b: 3 } }),
      hashEvent('', { ...event, metadata: { actor: 'system' } }),
    ];
    expect(new Set([base, ...variants]).size).to.equal(variants.length + 1);
  });
});

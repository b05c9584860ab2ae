// The hash chain's building blocks: canonical JSON must not depend on key order, hashes on nothing else.
import { createHash } from 'node:crypto';

import { expect } from 'chai';

import { canonicalJson, hashCanonicalEvent, hashEvent, verifyChain } from '../../../core/store/hash.js';
import { MemoryEventStore } from '../../../core/store/memory.js';

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

  it('refuses a value JSON cannot hold at the top, saying so', () => {
    for (const value of [undefined, () => 1, Symbol('s')]) {
      expect(() => canonicalJson(value), String(typeof value)).to.throw(TypeError, 'canonicalJson: value is not representable as JSON');
    }
  });

  it('writes every kind of member JSON.stringify writes, or drops, in an object with array-index keys', () => {
    // Array-index keys send the value through the general encoder rather than JSON.stringify.
    const value = {
      10: true,
      9: false,
      n: null,
      i: Infinity,
      u: undefined,
      f: () => 1,
      s: Symbol('member'),
      d: new Date(0),
      a: [undefined, () => 1, Symbol('item'), NaN, 'x', 0],
      o: { 2: 'two', b: 1 },
    };
    const canonical = '{"10":true,"9":false,"a":[null,null,null,null,"x",0],"d":"1970-01-01T00:00:00.000Z","i":null,"n":null,"o":{"2":"two","b":1}}';
    expect(canonicalJson(value)).to.equal(canonical);
    expect(canonicalJson(JSON.parse(JSON.stringify(value))), 'what a reader parses back hashes the same').to.equal(canonical);
  });

  it('puts keys below the digits (space, "-", "!") before an array-index key, as code-unit order says', () => {
    expect(canonicalJson({ 9: 1, '-': 2 })).to.equal('{"-":2,"9":1}');
    expect(canonicalJson({ 0: 'zero', ' ': 'space', '!': 'bang' })).to.equal('{" ":"space","!":"bang","0":"zero"}');
  });

  it('sorts what a toJSON at the top gives', () => {
    expect(canonicalJson({ toJSON: () => ({ b: 1, a: 2 }) })).to.equal('{"a":2,"b":1}');
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

describe('verifyChain', () => {
  /** `count` events in a memory store, in appends of 100 to a few streams. */
  async function storeOf(count: number): Promise<MemoryEventStore> {
    const store = new MemoryEventStore();
    for (let from = 0; from < count; from += 100) {
      const batch = Array.from({ length: Math.min(100, count - from) }, (_, i) => ({ id: `e${from + i}`, type: 'T', data: { n: from + i } }));
      await store.append(`s-${from % 300}`, batch);
    }
    return store;
  }

  it('accepts an empty store: no events checked, and no head', async () => {
    expect(await verifyChain(new MemoryEventStore())).to.deep.equal({ ok: true, count: 0 });
  });

  it('reads the history page by page to its end, reporting progress after each page', async () => {
    const store = await storeOf(2000);
    const progress: number[] = [];
    const all = await store.readAll();
    expect(await verifyChain(store, { onProgress: (n) => progress.push(n) })).to.deep.equal({ ok: true, count: 2000, head: all[1999]?.hash });
    // Two full pages of 1000, then the empty page that shows the end.
    expect(progress).to.deep.equal([1000, 2000, 2000]);

    await store.append('s-last', [{ id: 'e2000', type: 'T', data: null }]);
    expect(await verifyChain(store)).to.deep.include({ ok: true, count: 2001 });
  });

  it('fails at the event onEvent finds a problem with, with its position and reason', async () => {
    const store = await storeOf(5);
    const all = await store.readAll();
    const seen: [string, number][] = [];
    const result = await verifyChain(store, {
      onEvent: (e, length) => {
        seen.push([e.id, length]);
        return length === 3 ? 'the chain is longer than its checkpoint says' : undefined;
      },
    });
    expect(result).to.deep.equal({ ok: false, count: 3, position: all[2]?.position, reason: 'the chain is longer than its checkpoint says' });
    expect(seen).to.deep.equal([
      ['e0', 1],
      ['e1', 2],
      ['e2', 3],
    ]);
  });
});

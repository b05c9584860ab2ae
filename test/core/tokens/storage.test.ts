// The token index's storage: growable arrays, hex keys, texts, interned strings and packed columns, each with its checkpoint form.
import { randomBytes } from 'node:crypto';

import { expect } from 'chai';

import { ensure, growable } from '../../../core/tokens/growable.js';
import { HexKeys } from '../../../core/tokens/hex-keys.js';
import { ListTable, StringTable } from '../../../core/tokens/interned.js';
import { pack, unpack } from '../../../core/tokens/packed.js';
import { TextColumn } from '../../../core/tokens/text-column.js';

const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('core/tokens storage', () => {
  describe('growable', () => {
    it('grows in place within its reservation, zero-filled', () => {
      const first = growable(Uint32Array, 4096);
      const grown = ensure(first, 10);
      expect(grown).to.equal(first);
      expect(grown.length).to.be.at.least(10);
      grown[9] = 7;
      expect(ensure(grown, 2000)).to.equal(first);
      expect([first[9], first[1999]]).to.deep.equal([7, 0]);
    });

    it('is replaced by a bigger one, contents kept, past its reservation', () => {
      const small = ensure(growable(Float64Array, 8), 8);
      small.set([1.5, 2, 3, 4, 5, 6, 7, 8e12]);
      const bigger = ensure(small, 9);
      expect(bigger).not.to.equal(small);
      expect(Array.from(bigger.subarray(0, 9))).to.deep.equal([1.5, 2, 3, 4, 5, 6, 7, 8e12, 0]);
      expect(ensure(bigger, 100)).to.equal(bigger);
    });
  });

  describe('HexKeys', () => {
    it('finds every key it was given, counting ids included, and nothing else', () => {
      const keys = new HexKeys(8);
      const ids = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? i.toString(16).padStart(16, '0') : randomBytes(8).toString('hex')));
      ids.forEach((id, slot) => keys.set(slot, id));
      for (const keysNow of [keys, HexKeys.restore(8, ids.length, viaJson(keys.snapshot(ids.length)))!]) {
        ids.forEach((id, slot) => expect(keysNow.find(id), id).to.equal(slot));
        expect(keysNow.keyOf(1234)).to.equal(ids[1234]);
        expect(keysNow.find('ffffffffffffffff')).to.equal(-1);
        expect(keysNow.find(ids[2]!.toUpperCase())).to.equal(ids[2]!.toUpperCase() === ids[2] ? 2 : -1);
      }
    });

    it('keeps a key of another form beside the table, and a later slot with the same key wins', () => {
      // Several keys: their table hashes come out negative as often as not.
      for (let round = 0; round < 16; round++) {
        const keys = new HexKeys(32);
        const hash = randomBytes(32).toString('hex');
        keys.set(0, hash);
        keys.set(1, 'Legacy-Hash');
        keys.set(2, hash);
        expect(keys.find(hash), hash).to.equal(2);
        expect(keys.find('Legacy-Hash')).to.equal(1);
        expect(keys.keyOf(1)).to.equal('Legacy-Hash');
        expect(keys.keyOf(0)).to.equal(hash);
        const restored = HexKeys.restore(32, 3, viaJson(keys.snapshot(3)))!;
        expect([restored.find(hash), restored.find('Legacy-Hash'), restored.keyOf(1)]).to.deep.equal([2, 1, 'Legacy-Hash']);
      }
    });

    it('refuses a snapshot of another size', () => {
      const keys = new HexKeys(8);
      keys.set(0, '0123456789abcdef');
      expect(HexKeys.restore(8, 2, viaJson(keys.snapshot(1)))).to.equal(undefined);
      expect(HexKeys.restore(8, 1, { bytes: ['AAAA'], others: [] })).to.equal(undefined);
    });
  });

  describe('TextColumn', () => {
    it('gives back every text as pushed, empty and non-Latin ones included, also from its snapshot', () => {
      const texts = ['', 'token 1', 'ключ', '', '🔑 CI', 'x'.repeat(5000)];
      const column = new TextColumn();
      texts.forEach((text, slot) => expect(column.push(text)).to.equal(slot));
      const restored = TextColumn.restore(viaJson(column.snapshot()))!;
      for (const c of [column, restored]) {
        expect(c.size).to.equal(texts.length);
        texts.forEach((text, slot) => expect(c.get(slot)).to.equal(text));
      }
    });
  });

  describe('StringTable', () => {
    it('numbers strings in order of first use and finds them again, also after a restore', () => {
      const strings = StringTable.empty();
      const owners = Array.from({ length: 2000 }, (_, i) => `user${i}@example.com`);
      owners.forEach((owner, n) => expect(strings.number(owner)).to.equal(n));
      expect(strings.number('ünïcode')).to.equal(2000);
      expect(strings.number('user7@example.com')).to.equal(7);
      const restored = StringTable.restore(viaJson(strings.snapshot()))!;
      for (const s of [strings, restored]) {
        expect(s.size).to.equal(2001);
        expect(s.find('user1999@example.com')).to.equal(1999);
        expect(s.find('ünïcode')).to.equal(2000);
        expect(s.value(42)).to.equal('user42@example.com');
        expect(s.find('user2000@example.com')).to.equal(undefined);
        expect(s.find('')).to.equal(undefined);
      }
    });
  });

  describe('ListTable', () => {
    it('gives equal lists one frozen array, and never takes an element for a longer list', () => {
      const lists = new ListTable();
      const pair = lists.number(['a', 'b']);
      const lookalike = lists.number(['["a","b"]']);
      expect(lookalike).not.to.equal(pair);
      expect(lists.number(['a', 'b'])).to.equal(pair);
      expect(lists.number([])).to.equal(0);
      expect(lists.value(pair)).to.deep.equal(['a', 'b']).and.to.be.frozen;
      const restored = new ListTable(viaJson(lists.snapshot()));
      expect([restored.number(['["a","b"]']), restored.number(['a', 'b']), restored.number(['c'])]).to.deep.equal([lookalike, pair, 3]);
    });
  });

  describe('packed', () => {
    it('round-trips typed arrays and refuses text of another size or no text', () => {
      const values = Float64Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? Date.UTC(2025, 0, 1) + i : i / 7));
      const into = new Float64Array(1000);
      expect(unpack(pack(values), into)).to.equal(true);
      expect(into).to.deep.equal(values);
      expect(unpack(pack(values), new Float64Array(999))).to.equal(false);
      expect(unpack(pack(new Uint32Array([1, 2])), new Uint8Array(8))).to.equal(true);
      expect(unpack('not deflated', into)).to.equal(false);
      expect(unpack(undefined, into)).to.equal(false);
    });
  });
});

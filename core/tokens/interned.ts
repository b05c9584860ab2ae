// Interned values for the token index: a token keeps small numbers, and equal owners, actors and lists share one copy.
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { NEW_KEYS, SlotTable } from './slot-table.js';
import { TextColumn, type TextColumnSnapshot } from './text-column.js';

/** FNV-1a over UTF-8 bytes, from a per-process seed (owners are user names: no table layout to aim at). */
const SEED = randomBytes(4).readUInt32LE(0);

function hashOf(bytes: Uint8Array, length: number): number {
  let h = SEED;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h ^ (h >>> 16);
}

/** Strings numbered in order of first use, kept as UTF-8 outside the heap (20k owners are 20k fewer objects). */
export class StringTable {
  private readonly table = new SlotTable();
  /** Where lookups put the UTF-8 of what they look for. */
  private scratch = Buffer.alloc(256);

  private constructor(private readonly texts: TextColumn) {}

  static empty(): StringTable {
    return new StringTable(new TextColumn());
  }

  get size(): number {
    return this.texts.size;
  }

  number(value: string): number {
    const length = this.encode(value);
    const hash = hashOf(this.scratch, length);
    const found = this.lookup(hash, length);
    if (found >= 0) return found;
    const n = this.texts.push(value);
    this.table.add(n, hash, NEW_KEYS);
    return n;
  }

  find(value: string): number | undefined {
    const length = this.encode(value);
    const n = this.lookup(hashOf(this.scratch, length), length);
    return n < 0 ? undefined : n;
  }

  value(n: number): string {
    return this.texts.get(n);
  }

  snapshot(): TextColumnSnapshot {
    return this.texts.snapshot();
  }

  /** `value`'s UTF-8 into `scratch`; returns its length. */
  private encode(value: string): number {
    const length = Buffer.byteLength(value, 'utf8');
    if (length > this.scratch.length) this.scratch = Buffer.alloc(Math.max(length, this.scratch.length * 2));
    this.scratch.write(value, 'utf8');
    return length;
  }

  /** The number of the string whose UTF-8 is the first `length` bytes of `scratch`, or -1. */
  private lookup(hash: number, length: number): number {
    for (let i = this.table.first(hash); ; i = this.table.next(i)) {
      const n = this.table.slotAt(i);
      if (n < 0 || this.texts.holds(n, this.scratch, length)) return n;
    }
  }

  /** From `snapshot()`; undefined when it does not fit. */
  static restore(saved: TextColumnSnapshot): StringTable | undefined {
    const texts = TextColumn.restore(saved);
    if (!texts) return undefined;
    const strings = new StringTable(texts);
    strings.table.reserve(texts.size);
    for (let n = 0; n < texts.size; n++) {
      const bytes = texts.bytesOf(n);
      strings.table.add(n, hashOf(bytes, bytes.length), NEW_KEYS);
    }
    return strings;
  }
}

const NONE: readonly string[] = Object.freeze([]);

/** A one-element list's key is its element (no string built); a longer one's is its JSON, which no separator could confuse. */
const keyOf = (list: readonly string[]): string => (list.length === 1 ? list[0]! : JSON.stringify(list));

/** Lists numbered in order of first use, each one frozen array; 0 is the empty list. */
export class ListTable {
  /** One-element lists (most) and longer ones apart, so that an element cannot pass for a longer list's key. */
  private readonly singles = new Map<string, number>();
  private readonly longer = new Map<string, number>();
  private readonly values: (readonly string[])[] = [NONE];

  /** From `snapshot()`: every list keeps its number. */
  constructor(saved: readonly (readonly string[])[] = []) {
    for (let n = 1; n < saved.length; n++) {
      const list = Object.freeze([...saved[n]!]);
      this.values.push(list);
      const numbers = this.numbersFor(list);
      const key = keyOf(list);
      if (!numbers.has(key)) numbers.set(key, n);
    }
  }

  number(list: readonly string[]): number {
    if (list.length === 0) return 0;
    const numbers = this.numbersFor(list);
    const key = keyOf(list);
    let n = numbers.get(key);
    if (n === undefined) {
      n = this.values.push(Object.freeze([...list])) - 1;
      numbers.set(key, n);
    }
    return n;
  }

  value(n: number): readonly string[] {
    return this.values[n]!;
  }

  snapshot(): (readonly string[])[] {
    return this.values.slice();
  }

  private numbersFor(list: readonly string[]): Map<string, number> {
    return list.length === 1 ? this.singles : this.longer;
  }
}

// Fixed-length hex keys (token hashes, token ids) by slot and slots by key: the keys' bytes in one growable array and a SlotTable, not a string and a Map entry per token.
import { Buffer } from 'node:buffer';
import { ensure, growable, RESERVE } from './growable.js';
import { SlotTable, type SlotKeys } from './slot-table.js';

/** What a checkpoint keeps: the keys' bytes (base64, in pieces), and the keys that are not lowercase hex. */
export interface HexKeysSnapshot {
  readonly bytes: readonly string[];
  readonly others: readonly (readonly [slot: number, key: string])[];
}

/** Bytes per piece of a snapshot: its base64 stays under 1 MiB, which Node would hold outside the heap (a malloc the size of all keys). */
const PIECE = 1 << 19;

/** The value of the lowercase hex digit with char code `c`; anything else makes any byte built from it negative. */
const nibble = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -256);

const byteAt = (hex: string, i: number): number => nibble(hex.charCodeAt(2 * i)) * 16 + nibble(hex.charCodeAt(2 * i + 1));

/** Spreads a key's first 8 bytes over the table: all 8, so that ids counting up do not pile into one bucket. */
function mix(high: number, low: number): number {
  const h = Math.imul(high ^ Math.imul(low, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}

const hashOfHex = (hex: string): number =>
  mix(
    (byteAt(hex, 0) << 24) | (byteAt(hex, 1) << 16) | (byteAt(hex, 2) << 8) | byteAt(hex, 3),
    (byteAt(hex, 4) << 24) | (byteAt(hex, 5) << 16) | (byteAt(hex, 6) << 8) | byteAt(hex, 7),
  );

const hashOfBytes = (b: Uint8Array, at: number): number =>
  mix((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!, (b[at + 4]! << 24) | (b[at + 5]! << 16) | (b[at + 6]! << 8) | b[at + 7]!);

/**
 * Keys are `2 × width` lowercase hex digits, as `hashToken` and `randomBytes(n).toString('hex')`
 * write them. History may hold any string, so other keys go to a Map beside the table. Slots are
 * numbered by the caller and set once; a key set again for another slot then finds the later one.
 */
export class HexKeys implements SlotKeys {
  private readonly pattern: RegExp;
  /** Slot n's key at n × width. */
  private bytes: Uint8Array;
  private readonly table = new SlotTable();
  private readonly otherSlots = new Map<string, number>();
  private readonly otherKeys = new Map<number, string>();

  constructor(private readonly width: number) {
    if (width < 8) throw new TypeError('HexKeys: keys need at least 8 bytes');
    this.pattern = new RegExp(`^[0-9a-f]{${2 * width}}$`);
    this.bytes = growable(Uint8Array, RESERVE * width);
  }

  /** The slot whose key is `key`, or -1. No allocation: the hot path of every gateway-token request. */
  find(key: string): number {
    if (key.length === 2 * this.width) {
      for (let i = this.table.first(hashOfHex(key)); ; i = this.table.next(i)) {
        const slot = this.table.slotAt(i);
        if (slot < 0) break;
        if (this.holds(slot, key)) return slot;
      }
    }
    return this.otherSlots.size === 0 ? -1 : (this.otherSlots.get(key) ?? -1);
  }

  keyOf(slot: number): string {
    return this.otherKeys.get(slot) ?? Buffer.from(this.bytes.buffer, slot * this.width, this.width).toString('hex');
  }

  set(slot: number, key: string): void {
    // Every slot has its bytes (zero for a key of another form), so a snapshot covers them all.
    this.bytes = ensure(this.bytes, (slot + 1) * this.width);
    if (!this.pattern.test(key)) {
      this.otherSlots.set(key, slot);
      this.otherKeys.set(slot, key);
      return;
    }
    const at = slot * this.width;
    for (let i = 0; i < this.width; i++) this.bytes[at + i] = byteAt(key, i);
    this.index(slot);
  }

  snapshot(count: number): HexKeysSnapshot {
    const bytes: string[] = [];
    for (let at = 0; at < count * this.width; at += PIECE) {
      bytes.push(Buffer.from(this.bytes.buffer, at, Math.min(PIECE, count * this.width - at)).toString('base64'));
    }
    return { bytes, others: [...this.otherKeys] };
  }

  /** The keys of slots 0 … count - 1 from `snapshot(count)`; undefined when the snapshot does not fit. */
  static restore(width: number, count: number, saved: HexKeysSnapshot): HexKeys | undefined {
    if (typeof saved !== 'object' || saved === null || !Array.isArray(saved.bytes) || !Array.isArray(saved.others)) return undefined;
    if (saved.bytes.length !== Math.ceil((count * width) / PIECE) || !saved.others.every(([slot]) => slot >= 0 && slot < count)) return undefined;
    const keys = new HexKeys(width);
    keys.bytes = ensure(keys.bytes, count * width);
    // Decoded straight into the keys' array: no buffer of all keys besides it.
    for (let p = 0; p < saved.bytes.length; p++) {
      const piece = saved.bytes[p];
      const length = Math.min(PIECE, count * width - p * PIECE);
      if (typeof piece !== 'string' || Buffer.from(keys.bytes.buffer, p * PIECE, length).write(piece, 'base64') !== length) return undefined;
    }
    for (const [slot, key] of saved.others) {
      keys.otherSlots.set(key, slot);
      keys.otherKeys.set(slot, key);
    }
    keys.table.reserve(count);
    for (let slot = 0; slot < count; slot++) if (!keys.otherKeys.has(slot)) keys.index(slot);
    return keys;
  }

  /** For the SlotTable: slots `a` and `b` hold the same key. */
  sameKey(a: number, b: number): boolean {
    const x = a * this.width;
    const y = b * this.width;
    for (let i = 0; i < this.width; i++) if (this.bytes[x + i] !== this.bytes[y + i]) return false;
    return true;
  }

  private holds(slot: number, key: string): boolean {
    const at = slot * this.width;
    for (let i = 0; i < this.width; i++) if (this.bytes[at + i] !== byteAt(key, i)) return false;
    return true;
  }

  private index(slot: number): void {
    this.table.add(slot, hashOfBytes(this.bytes, slot * this.width), this);
  }
}

// Slots by hash: open addressing over a typed array at most half full; the caller hashes its keys and compares them.
import { ensure, growable } from './growable.js';

/** Whether two slots hold the same key: what the table asks of its user when a slot is added. */
export interface SlotKeys {
  sameKey(a: number, b: number): boolean;
}

/** For a user that has looked the key up already and knows it is new. */
export const NEW_KEYS: SlotKeys = { sameKey: () => false };

/**
 * A lookup walks the buckets from `first(hash)` with `next` until `slotAt` says -1 (empty),
 * comparing each slot's key with its own; no allocation. Each slot's hash is kept, so the
 * table can grow without asking the caller again.
 */
export class SlotTable {
  /** Slot + 1 per bucket, 0 for empty. */
  private buckets: Uint32Array = growable(Uint32Array);
  private hashes: Uint32Array = growable(Uint32Array);
  private filled = 0;

  constructor() {
    this.buckets = ensure(this.buckets, 1024);
  }

  first(hash: number): number {
    return hash & (this.buckets.length - 1);
  }

  next(bucket: number): number {
    return (bucket + 1) & (this.buckets.length - 1);
  }

  /** The slot in `bucket`, or -1 when it is empty. */
  slotAt(bucket: number): number {
    return this.buckets[bucket]! - 1;
  }

  /** Enter `slot` under `hash`; a slot holding the same key (`keys.sameKey`) gives `slot` its bucket. */
  add(slot: number, signedHash: number, keys: SlotKeys): void {
    const hash = signedHash >>> 0; // as the Uint32Array keeps it
    this.hashes = ensure(this.hashes, slot + 1);
    this.hashes[slot] = hash;
    if ((this.filled + 1) * 2 > this.buckets.length) this.rehash(this.buckets.length * 2);
    for (let i = this.first(hash); ; i = this.next(i)) {
      const other = this.slotAt(i);
      if (other >= 0 && !(this.hashes[other] === hash && keys.sameKey(other, slot))) continue;
      if (other < 0) this.filled += 1;
      this.buckets[i] = slot + 1;
      return;
    }
  }

  /** Room for `count` slots without rehashing on the way (a restore knows how many). */
  reserve(count: number): void {
    let size = this.buckets.length;
    while (count * 2 > size) size *= 2;
    if (size > this.buckets.length) this.rehash(size);
  }

  private rehash(size: number): void {
    const entries = this.buckets.slice();
    this.buckets.fill(0);
    this.buckets = ensure(this.buckets, size);
    for (const entry of entries) {
      if (entry === 0) continue;
      for (let i = this.first(this.hashes[entry - 1]!); ; i = this.next(i)) {
        if (this.buckets[i] !== 0) continue;
        this.buckets[i] = entry;
        break;
      }
    }
  }
}

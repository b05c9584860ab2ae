// Strings by slot as UTF-8 in one growable byte array: no string object per token (100k names would otherwise be scattered over the old generation).
import { Buffer } from 'node:buffer';
import { ensure, growable, RESERVE } from './growable.js';
import { pack, unpack } from './packed.js';

/** What a checkpoint keeps: the bytes, and where each slot's text ends in them (packed). */
export interface TextColumnSnapshot {
  readonly count: number;
  readonly bytes: string;
  readonly ends: string;
}

/** Texts are appended in slot order, each right after the one before: slot n spans from the end of n - 1 to its own. */
export class TextColumn {
  private bytes: Uint8Array = growable(Uint8Array, RESERVE * 16);
  /** A Buffer over `bytes` for Node's UTF-8 coding, made again only when `bytes` grows: a push allocates nothing. */
  private view: Buffer = Buffer.alloc(0);
  private ends: Float64Array = growable(Float64Array);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(slot: number): string {
    return this.view.toString('utf8', this.startOf(slot), this.ends[slot]);
  }

  /** Appends the text of the next slot; returns the slot. */
  push(text: string): number {
    const slot = this.place(Buffer.byteLength(text, 'utf8'));
    this.view.write(text, this.startOf(slot), 'utf8');
    return slot;
  }

  /** The bytes of `slot` equal the first `length` of `bytes`. */
  holds(slot: number, bytes: Uint8Array, length: number): boolean {
    const start = this.startOf(slot);
    if (this.ends[slot]! - start !== length) return false;
    for (let i = 0; i < length; i++) if (this.bytes[start + i] !== bytes[i]) return false;
    return true;
  }

  /** The bytes of `slot`, as a view (valid until the next push). */
  bytesOf(slot: number): Uint8Array {
    return this.view.subarray(this.startOf(slot), this.ends[slot]);
  }

  snapshot(): TextColumnSnapshot {
    return { count: this.count, bytes: pack(this.bytes.subarray(0, this.end())), ends: pack(this.ends.subarray(0, this.count)) };
  }

  /** The texts from `snapshot()`; undefined when the snapshot does not fit. */
  static restore(saved: TextColumnSnapshot): TextColumn | undefined {
    if (typeof saved !== 'object' || saved === null || !Number.isSafeInteger(saved.count) || saved.count < 0) return undefined;
    const column = new TextColumn();
    column.count = saved.count;
    column.ends = ensure(column.ends, saved.count);
    if (!unpack(saved.ends, column.ends.subarray(0, saved.count))) return undefined;
    for (let slot = 0; slot < saved.count; slot++) if (!(column.ends[slot]! >= column.startOf(slot))) return undefined;
    column.reserve(column.end());
    return unpack(saved.bytes, column.bytes.subarray(0, column.end())) ? column : undefined;
  }

  private startOf(slot: number): number {
    return slot === 0 ? 0 : this.ends[slot - 1]!;
  }

  private end(): number {
    return this.startOf(this.count);
  }

  private reserve(bytes: number): void {
    this.bytes = ensure(this.bytes, bytes);
    if (this.view.length !== this.bytes.length) this.view = Buffer.from(this.bytes.buffer, 0, this.bytes.length);
  }

  /** Room for the next slot's `bytes`, after the last text; returns the slot. */
  private place(bytes: number): number {
    const start = this.end();
    const slot = this.count++;
    this.reserve(start + bytes);
    this.ends = ensure(this.ends, this.count);
    this.ends[slot] = start + bytes;
    return slot;
  }
}

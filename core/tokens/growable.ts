// Typed arrays that grow in place (ES2024 resizable ArrayBuffer): the token index's columns gain room without new arrays or copies.
//
// Why it matters: while a replay folds 100k events, the store's pages of events pass through the
// young generation, and some of them get promoted. Any long-lived object allocated meanwhile (a
// new array, a bigger copy) lands among that garbage in the old generation and keeps its page
// from being released until a later compacting GC. Growing in place allocates no object.

export type Growable = Uint8Array | Uint32Array | Float64Array;
type GrowableType<T extends Growable> = new (buffer: ArrayBufferLike) => T;

/** The ES2024 parts of ArrayBuffer that the project's lib (ES2023) does not declare. Node 20 has them. */
interface Resizable {
  readonly byteLength: number;
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ArrayBuffer & Resizable;

/**
 * Room reserved per array at first, in elements (131k tokens; an array of k elements per token
 * asks for k times as many). Only address space: memory is committed as the array grows. Past
 * it, an array is replaced by one reserving 16 times more.
 */
export const RESERVE = 1 << 17;
const RESERVE_FACTOR = 16;

/** An empty array that tracks its buffer's length as `ensure` grows it. */
export function growable<T extends Growable>(Type: GrowableType<T> & { BYTES_PER_ELEMENT: number }, reserve = RESERVE): T {
  return new Type(new ResizableArrayBuffer(0, { maxByteLength: reserve * Type.BYTES_PER_ELEMENT }));
}

/**
 * `array`, with room for at least `length` elements (new ones are 0): the same array while its
 * reservation lasts, then a bigger one with the contents copied. Grows by doubling.
 */
export function ensure<T extends Growable>(array: T, length: number): T {
  if (length <= array.length) return array;
  const width = array.BYTES_PER_ELEMENT;
  const buffer = array.buffer as ArrayBuffer & Resizable;
  const wanted = Math.max(length, array.length * 2, 1024) * width;
  if (length * width <= buffer.maxByteLength) {
    buffer.resize(Math.min(wanted, buffer.maxByteLength));
    return array;
  }
  const Type = array.constructor as GrowableType<T> & { BYTES_PER_ELEMENT: number };
  const reserve = Math.max(length, (buffer.maxByteLength / width) * RESERVE_FACTOR);
  const bigger = growable(Type, reserve);
  (bigger.buffer as ArrayBuffer & Resizable).resize(Math.min(wanted, reserve * width));
  bigger.set(array);
  return bigger;
}

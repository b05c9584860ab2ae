// Typed arrays in a JSON checkpoint: their bytes little-endian, deflated, base64 (the token columns shrink 20-fold, and nothing is parsed per token).
import { Buffer } from 'node:buffer';
import { deflateRawSync, inflateRawSync } from 'node:zlib';

export type Numbers = Uint8Array | Uint32Array | Float64Array;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const bytesOf = (array: Numbers): Buffer => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

/** Reverses each element's bytes in place (big-endian hosts only). */
function swap(bytes: Buffer, width: number): void {
  if (width === 4) bytes.swap32();
  else if (width === 8) bytes.swap64();
}

export function pack(array: Numbers): string {
  let bytes = bytesOf(array);
  if (!LITTLE_ENDIAN && array.BYTES_PER_ELEMENT > 1) {
    bytes = Buffer.from(bytes);
    swap(bytes, array.BYTES_PER_ELEMENT);
  }
  return deflateRawSync(bytes).toString('base64');
}

/** Fills `array` from what `pack` made of an array of its type and length; false when that is not what `text` holds. */
export function unpack(text: unknown, array: Numbers): boolean {
  if (typeof text !== 'string') return false;
  let bytes: Buffer;
  try {
    bytes = inflateRawSync(Buffer.from(text, 'base64'));
  } catch {
    return false;
  }
  const into = bytesOf(array);
  if (bytes.length !== into.length) return false;
  bytes.copy(into);
  if (!LITTLE_ENDIAN) swap(into, array.BYTES_PER_ELEMENT);
  return true;
}

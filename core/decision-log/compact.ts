// Compact stored forms of a decision's addresses and request id: bytes when the text comes back exactly, the text otherwise.
import ipaddr from 'ipaddr.js';

/** A stored value: bytes for what packs without loss, else the text as it was. */
export type Compact = Buffer | string;

/**
 * Packs values into its own scratch buffers, which the next call overwrites: for binding to a
 * statement that copies them (better-sqlite3 does), one packer per column of a row.
 */
export class Packer {
  readonly #v4 = Buffer.alloc(4);
  readonly #bytes16 = Buffer.alloc(16);

  /** An address as 4 (IPv4) or 16 (IPv6) bytes when its canonical text is exactly `text`. */
  ip(text: string): Compact {
    if (dottedQuad(text, this.#v4)) return this.#v4;
    if (text.includes(':') && ipaddr.IPv6.isValid(text)) {
      const bytes = ipaddr.IPv6.parse(text).toByteArray();
      for (let i = 0; i < 16; i++) this.#bytes16[i] = bytes[i]!;
      if (unpackIp(this.#bytes16) === text) return this.#bytes16;
    }
    return text;
  }

  /** A request id as 16 bytes when it is a lower-case UUID (the gateway's own, core/ids.ts). */
  requestId(text: string): Compact {
    if (text.length !== 36) return text;
    let at = 0;
    for (let i = 0; i < 36; i++) {
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (text.charCodeAt(i) !== 0x2d) return text;
        continue;
      }
      const hi = hexValue(text.charCodeAt(i++));
      const lo = hexValue(text.charCodeAt(i));
      if (hi < 0 || lo < 0) return text;
      this.#bytes16[at++] = hi * 16 + lo;
    }
    return this.#bytes16;
  }
}

/** Lower-case hex digits only: upper case would not come back as written. */
const hexValue = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);

/** Strict dotted quad (no leading zeros), written into `out`. */
function dottedQuad(text: string, out: Buffer): boolean {
  let part = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 0x2e : text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || index > 3) return false;
      out[index++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return false;
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return false;
    } else {
      return false;
    }
  }
  return index === 4;
}

export function unpackIp(value: Compact): string {
  if (typeof value === 'string') return value;
  if (value.length === 4) return `${value[0]}.${value[1]}.${value[2]}.${value[3]}`;
  return (ipaddr.fromByteArray([...value]) as ipaddr.IPv6).toRFC5952String();
}

/**
 * An address from the hex SQLite's `hex()` gives of its packed bytes (8 or 32 digits, upper
 * case): what {@link unpackIp} gives for those bytes, with no Buffer made on the way.
 */
export function unpackIpHex(hex: string, from = 0, length = hex.length - from): string {
  if (length === 8) return `${byteAt(hex, from)}.${byteAt(hex, from + 2)}.${byteAt(hex, from + 4)}.${byteAt(hex, from + 6)}`;
  const bytes = new Array<number>(16);
  for (let i = 0; i < 16; i++) bytes[i] = byteAt(hex, from + 2 * i);
  return (ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String();
}

/** A request id from the hex of its 16 packed bytes (SQLite's `hex()`, upper case): the lower-case UUID they were packed from. */
export function unpackRequestIdHex(hex: string, from: number): string {
  const h = hex.slice(from, from + 32).toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The byte whose two hex digits (either case) start at `at`. */
export function byteAt(hex: string, at: number): number {
  return (digit(hex.charCodeAt(at)) << 4) | digit(hex.charCodeAt(at + 1));
}

const digit = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

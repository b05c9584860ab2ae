// Address matching compiled once per settings change: IPv4 and IPv6 CIDRs as sorted ranges searched in O(log n), IPv4-mapped IPv6 seen as IPv4.
import ipaddr from 'ipaddr.js';

/** An address reduced to a number: IPv4 as an unsigned 32-bit integer, IPv6 as a 128-bit bigint. */
export type ParsedIp = { readonly v4: number; readonly text: string } | { readonly v6: bigint; readonly text: string };

/** Parse an address, unwrapping IPv4-mapped IPv6 (`::ffff:10.0.0.1`) and dropping a zone id. */
export function parseAddress(value: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = value.replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return undefined;
  const addr = ipaddr.parse(bare);
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()
    ? (addr as ipaddr.IPv6).toIPv4Address()
    : addr;
}

/** Canonical text of an address (IPv4-mapped IPv6 as IPv4), or the input when it does not parse. */
export function canonicalAddress(value: string): string {
  return parseIp(value)?.text ?? parseAddress(value)?.toString() ?? value;
}

/** Strict dotted-quad IPv4 (no octal, hex or short forms, which proxies never write): its 32-bit value. */
function ipv4Value(text: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return undefined; // leading zero: octal in some parsers
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return undefined;
    } else return undefined;
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}

const v4Text = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;

/**
 * Parse an address strictly: dotted-quad IPv4 or IPv6 (a zone id such as `%eth0` is dropped),
 * IPv4-mapped IPv6 as IPv4. Anything else (ports, brackets, hostnames, `unknown`) is undefined.
 */
export function parseIp(text: string): ParsedIp | undefined {
  const v4 = ipv4Value(text);
  if (v4 !== undefined) return { v4, text: v4Text(v4) };
  if (!text.includes(':')) return undefined;
  const zone = text.indexOf('%');
  const bare = zone === -1 ? text : text.slice(0, zone);
  if (zone === 0 || zone === text.length - 1) return undefined;
  let addr: ipaddr.IPv6;
  try {
    addr = ipaddr.IPv6.parse(bare);
  } catch {
    return undefined;
  }
  if (addr.isIPv4MappedAddress()) {
    const mapped = addr.toIPv4Address().toByteArray();
    const value = ((mapped[0]! << 24) >>> 0) + (mapped[1]! << 16) + (mapped[2]! << 8) + mapped[3]!;
    return { v4: value, text: v4Text(value) };
  }
  const p = addr.parts;
  // Two 64-bit halves joined once: cheaper than eight bigint shifts.
  const hi = (BigInt(p[0]! * 0x10000 + p[1]!) << 32n) | BigInt(p[2]! * 0x10000 + p[3]!);
  const lo = (BigInt(p[4]! * 0x10000 + p[5]!) << 32n) | BigInt(p[6]! * 0x10000 + p[7]!);
  let canonical: string | undefined;
  return {
    v6: (hi << 64n) | lo,
    // Only the client-address resolver needs the text; matching does not.
    get text() {
      return (canonical ??= addr.toRFC5952String());
    },
  };
}

/** A compiled list of addresses and CIDRs. */
export interface AddressList {
  readonly size: number;
  /** True when the parsed address falls in one of the ranges. */
  has(ip: ParsedIp): boolean;
  /** The same for an address as text (false when it does not parse). */
  matches(address: string): boolean;
}

type Ranges<T> = { starts: T[]; ends: T[] };

function merged<T extends number | bigint>(ranges: [T, T][], next: (v: T) => T): Ranges<T> {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const starts: T[] = [];
  const ends: T[] = [];
  for (const [s, e] of ranges) {
    const last = ends.length - 1;
    if (last >= 0 && s <= next(ends[last]!)) {
      if (e > ends[last]!) ends[last] = e;
    } else {
      starts.push(s);
      ends.push(e);
    }
  }
  return { starts, ends };
}

function inRanges<T extends number | bigint>({ starts, ends }: Ranges<T>, x: T): boolean {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= x) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi >= 0 && x <= ends[hi]!;
}

/**
 * Compile addresses and CIDRs (validated earlier by the settings schema) into merged, sorted
 * ranges: a lookup is a binary search, so 1,000 entries cost what 10 do.
 *
 * @throws {TypeError} for an entry that is not an address or CIDR.
 */
export function compileAddresses(entries: readonly string[]): AddressList {
  const v4: [number, number][] = [];
  const v6: [bigint, bigint][] = [];
  for (const entry of entries) {
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    let bits: number;
    if (entry.includes('/')) {
      if (!ipaddr.isValidCIDR(entry)) throw new TypeError(`not a CIDR: ${entry}`);
      [addr, bits] = ipaddr.parseCIDR(entry);
    } else {
      const a = parseAddress(entry);
      if (!a) throw new TypeError(`not an address: ${entry}`);
      addr = a;
      bits = a.kind() === 'ipv4' ? 32 : 128;
    }
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    if (addr.kind() === 'ipv4') {
      const b = addr.toByteArray();
      const value = ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
      const size = 2 ** (32 - bits);
      const start = Math.floor(value / size) * size;
      v4.push([start, start + size - 1]);
    } else {
      let value = 0n;
      for (const part of (addr as ipaddr.IPv6).parts) value = (value << 16n) | BigInt(part);
      const host = 128n - BigInt(bits);
      const start = (value >> host) << host;
      v6.push([start, start + (1n << host) - 1n]);
    }
  }
  const r4 = merged(v4, (v) => v + 1);
  const r6 = merged(v6, (v) => v + 1n);
  const has = (ip: ParsedIp): boolean => ('v4' in ip ? inRanges(r4, ip.v4) : inRanges(r6, ip.v6));
  return {
    size: entries.length,
    has,
    matches: (address) => {
      const ip = parseIp(address) ?? fromLenient(address);
      return ip !== undefined && has(ip);
    },
  };
}

/** The socket's own address forms (which parseIp already covers), plus whatever ipaddr.js accepts. */
function fromLenient(address: string): ParsedIp | undefined {
  const a = parseAddress(address);
  return a ? parseIp(a.kind() === 'ipv4' ? a.toString() : (a as ipaddr.IPv6).toNormalizedString()) : undefined;
}

/** A predicate for a list of addresses and CIDRs (validated earlier by the settings schema). */
export function compileAddressList(entries: readonly string[]): (address: string) => boolean {
  const list = compileAddresses(entries);
  return list.size === 0 ? () => false : list.matches;
}

/** Request headers as plain data (lower-case names, Node's shape). */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

export interface ClientIpSettings {
  readonly trustedProxies: readonly string[];
  /** `x-forwarded-for`, `forwarded` (RFC 7239), or a header holding the address (`x-real-ip`). */
  readonly realIpHeader: string;
}

/** Resolves the client address of a request from its TCP peer and headers. */
export type ClientIpResolver = (peerIp: string, headers: HeaderBag) => string;

/** One hop of a forwarding list: an address, optionally bracketed and with a port. */
function parseHop(raw: string): ParsedIp | undefined {
  let text = raw.trim();
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) text = text.slice(1, -1);
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return undefined;
    const rest = text.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    return parseIp(text.slice(1, close));
  }
  const colon = text.indexOf(':');
  if (colon !== -1 && colon === text.lastIndexOf(':') && text.includes('.')) {
    if (!/^\d{1,5}$/.test(text.slice(colon + 1))) return undefined;
    return parseIp(text.slice(0, colon));
  }
  return parseIp(text);
}

/** The `for=` values of an RFC 7239 Forwarded header, in order; a hop without one is undefined. */
function forwardedFor(value: string): (string | undefined)[] {
  return value.split(',').map((element) => {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'for') return pair.slice(eq + 1).trim();
    }
    return undefined;
  });
}

/**
 * Compile the client-address rule. The peer is the client unless it is a trusted proxy; then
 * the configured header is read right to left, skipping trusted proxies, and the first address
 * that is not one is the client. A hop that is not an address stops the walk at the last
 * trusted address seen (someone we cannot vouch for wrote it). With no trusted proxies,
 * forwarded headers are never read.
 */
export function compileClientIpResolver(settings: ClientIpSettings): ClientIpResolver {
  const trusted = compileAddresses(settings.trustedProxies);
  const canonical = (peer: string) => parseIp(peer)?.text ?? canonicalAddress(peer);
  if (trusted.size === 0) return canonical;
  const name = settings.realIpHeader.toLowerCase();
  const rfc7239 = name === 'forwarded';
  return (peerIp, headers) => {
    const peer = parseIp(peerIp) ?? fromLenient(peerIp);
    if (!peer || !trusted.has(peer)) return peer?.text ?? peerIp;
    const raw = headers[name];
    if (raw === undefined || raw === '') return peer.text;
    const joined = Array.isArray(raw) ? raw.join(',') : raw;
    const hops = rfc7239 ? forwardedFor(joined) : joined.split(',');
    let nearest = peer.text;
    for (let i = hops.length - 1; i >= 0; i--) {
      const text = hops[i];
      const hop = text === undefined ? undefined : parseHop(text);
      if (!hop) return nearest;
      nearest = hop.text;
      if (!trusted.has(hop)) return nearest;
    }
    return nearest;
  };
}

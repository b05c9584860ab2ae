// Address matching compiled once per settings change: IPv4 and IPv6 CIDRs, IPv4-mapped IPv6 seen as IPv4.
import ipaddr from 'ipaddr.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

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
  return parseAddress(value)?.toString() ?? value;
}

/** A matcher for a list of addresses and CIDRs (validated earlier by the settings schema). */
export function compileAddressList(entries: readonly string[]): (address: string) => boolean {
  const v4: Range[] = [];
  const v6: Range[] = [];
  for (const entry of entries) {
    const range: Range = entry.includes('/')
      ? ipaddr.parseCIDR(entry)
      : (() => {
          const a = parseAddress(entry);
          if (!a) throw new TypeError(`not an address: ${entry}`);
          return [a, a.kind() === 'ipv4' ? 32 : 128] as Range;
        })();
    const [addr, bits] = range;
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      v4.push([(addr as ipaddr.IPv6).toIPv4Address(), bits - 96]);
    } else (addr.kind() === 'ipv4' ? v4 : v6).push(range);
  }
  if (v4.length + v6.length === 0) return () => false;
  return (address) => {
    const addr = parseAddress(address);
    if (!addr) return false;
    const ranges = addr.kind() === 'ipv4' ? v4 : v6;
    for (const r of ranges) if (addr.match(r)) return true;
    return false;
  };
}

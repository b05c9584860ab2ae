// The host a request names, in the one form every policy judges, the audit records and the upstream is told.

export type HostNormalisation = { readonly ok: true; readonly host: string } | { readonly ok: false; readonly error: string };

/**
 * `name[:port]` or `[ipv6][:port]`, lower case. Labels are letters, digits, `-` and `_` (container
 * names carry underscores), with at most one trailing dot; nothing percent-encoded, nothing outside
 * ASCII, no user info, no path.
 */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)(?::(\d{0,5}))?$/;
const MAX_HOST = 260;

const fail = (error: string): HostNormalisation => ({ ok: false, error });

let lastRaw: string | undefined;
let lastResult: HostNormalisation = fail('no host');

/**
 * Normalise a Host (or forwarded host) value: lower case, the trailing dot of a fully qualified
 * name removed, and the default ports `:80` and `:443` removed (an empty `:` too), so
 * `SECURE.EXAMPLE.:80` and `secure.example` are one host. Refused: anything that is not a host
 * name or a bracketed IPv6 address with an optional port up to 65535, including a list
 * (`a.example, b.example`, what two headers joined become). The empty string stays empty (an
 * HTTP/1.0 request without Host).
 *
 * Requests to one gateway nearly always name the same host, so the last answer is kept.
 */
export function normaliseHost(raw: string): HostNormalisation {
  if (raw === lastRaw) return lastResult;
  const result = normaliseUncached(raw);
  lastRaw = raw;
  lastResult = result;
  return result;
}

function normaliseUncached(raw: string): HostNormalisation {
  if (raw === '') return { ok: true, host: '' };
  if (raw.length > MAX_HOST) return fail('the host is too long');
  const m = HOST.exec(raw.toLowerCase());
  if (!m) return fail('not a host name or address with an optional port');
  let name = m[1]!;
  const port = m[2];
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (port === undefined || port === '') return { ok: true, host: name };
  const number = Number(port);
  if (number > 65535) return fail('the port is out of range');
  return { ok: true, host: number === 80 || number === 443 ? name : `${name}:${number}` };
}

/** A normalised host without its port (`api.example:8443` → `api.example`, `[::1]:8080` → `[::1]`): what host routes match. */
export function hostName(host: string): string {
  const colon = host.startsWith('[') ? host.indexOf(':', host.indexOf(']')) : host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

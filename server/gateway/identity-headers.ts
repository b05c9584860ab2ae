// The identity headers the gateway adds for the upstream (and answers forward auth with), percent-encoded so any name fits.
import type { Decision } from '../../core/access.js';

/** Identity headers the gateway owns: a client's copies never reach the upstream. */
export const IDENTITY_HEADER_PREFIX = 'x-portcullis-';

/** Printable ASCII except `%`, with no space at either end: such a value goes out as it is. */
const PLAIN = /^(?:[\x21-\x24\x26-\x7e](?:[\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?)?$/;
/** What must be escaped: `%`, anything outside printable ASCII, and a space at either end (parsers trim it). */
const ESCAPED = /[^\x20-\x24\x26-\x7e]|^ | $/gu;
/** Half of a surrogate pair without its other half: not a character, so not encodable as UTF-8. */
const LONE_SURROGATE = /\p{Cs}/gu;

const escape = (c: string): string => encodeURIComponent(c.replace(LONE_SURROGATE, '\uFFFD'));

/**
 * A name as an identity header value: UTF-8 percent-encoding of `%`, of every character outside
 * printable ASCII (controls, non-ASCII) and of a space at either end; everything else as it is,
 * so `alice@example.com` and `Jane Doe` pass unchanged and `Łukasz` becomes `%C5%81ukasz`.
 * Percent-decoding (decodeURIComponent, urllib.parse.unquote, rawurldecode) gives the name back
 * exactly, and a name that is not valid Unicode has its lone surrogates replaced by U+FFFD.
 */
export function encodeIdentityValue(value: string): string {
  return PLAIN.test(value) ? value : value.replace(ESCAPED, escape);
}

/** A group for the comma-separated X-Portcullis-Groups: every reserved character escaped, the comma included. */
export const encodeGroup = (group: string): string => encodeURIComponent(group.replace(LONE_SURROGATE, '\uFFFD'));

const identityHeaderCache = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * The identity headers added for the upstream (and answered by forward auth). Identities come
 * from caches and are immutable, so the headers are built once per identity object.
 */
export function identityHeaders(decision: Decision): Readonly<Record<string, string>> {
  const id = decision.identity;
  if (!id) return {};
  let headers = identityHeaderCache.get(id);
  if (headers) return headers;
  const built: Record<string, string> = {
    'x-portcullis-user': encodeIdentityValue(id.username),
    'x-portcullis-provider': encodeIdentityValue(id.provider),
  };
  if (id.groups.length) built['x-portcullis-groups'] = id.groups.map(encodeGroup).join(',');
  if (id.tokenId) built['x-portcullis-token-id'] = encodeIdentityValue(id.tokenId);
  headers = Object.freeze(built);
  identityHeaderCache.set(id, headers);
  return headers;
}

// Path normalisation: the one canonical form of a request path that policies judge and the upstream receives.

export type PathNormalisation = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly error: string };

const MAX_PATH = 8192;
const HEX = /^[0-9A-Fa-f]{2}$/;
/** RFC 3986 unreserved: decoded wherever they appear percent-encoded. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Characters a path may carry raw: pchar (RFC 3986) and `/`, without `;` (path parameters) and with `%` for escapes. */
const RAW_OK = /^[A-Za-z0-9\-._~!$&'()*+,=:@/%]*$/;

/**
 * A path that is already normal: non-empty segments of raw pchar (no escapes, no `;`), none of
 * them ending in a dot (which rules out `.` and `..` too), and an optional trailing slash.
 * Most requests look like this, and normalising one would give it back unchanged.
 */
const ALREADY_NORMAL = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,=:@]*[A-Za-z0-9\-_~!$&'()*+,=:@])*\/?$/;

const fail = (error: string): PathNormalisation => ({ ok: false, error });

/** Length of the UTF-8 sequence a lead byte starts (0 when it cannot lead one). */
function utf8Length(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2; // 0xc0/0xc1 only ever start overlong forms
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Shortest-form, non-surrogate, in-range UTF-8 (RFC 3629): overlong `%c0%ae` is not a dot, it is refused. */
function validUtf8(bytes: readonly number[]): boolean {
  const [b0, b1] = bytes as [number, number];
  for (let i = 1; i < bytes.length; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  if (bytes.length === 3) {
    if (b0 === 0xe0 && b1 < 0xa0) return false; // overlong
    if (b0 === 0xed && b1 >= 0xa0) return false; // surrogates
  }
  if (bytes.length === 4) {
    if (b0 === 0xf0 && b1 < 0x90) return false; // overlong
    if (b0 === 0xf4 && b1 >= 0x90) return false; // beyond U+10FFFF
  }
  return true;
}

/**
 * Normalise a request path (without query string). The result is what every policy matches and
 * what the upstream receives, so the gateway and the upstream can never read one URL two ways.
 *
 * - percent-encoded unreserved characters are decoded (`%7e` → `~`, `%2E` → `.`); every other
 *   escape is kept, with upper-case hex (`%c3%a9` → `%C3%A9`);
 * - `.` and `..` segments are removed (RFC 3986 §5.2.4), also when they were encoded;
 * - runs of `/` collapse to one;
 * - refused (`invalid_path`): a path not starting with `/`; raw characters outside RFC 3986
 *   pchar (space, `\`, `"`, `#`, `?` … and anything non-ASCII); `;` raw or encoded (path
 *   parameters); encoded `/`, `\`, `%` followed by hex (double encoding), control characters
 *   and NUL; malformed escapes (`%zz`, `%u002e`); invalid or overlong UTF-8; a segment that
 *   ends in `.` (`admin.`, `...`), which some servers read without the dot; more than 8 KiB.
 */
export function normalisePath(raw: string): PathNormalisation {
  if (raw.length === 0 || raw.charCodeAt(0) !== 0x2f) return fail('the path must start with /');
  if (raw.length > MAX_PATH) return fail('the path is too long');
  if (ALREADY_NORMAL.test(raw)) return { ok: true, path: raw };
  if (!RAW_OK.test(raw)) return fail('the path contains characters that are not allowed');

  // Decode escapes where that is safe; the other escapes stay encoded, upper-cased.
  let decoded = raw;
  if (raw.includes('%')) {
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (c !== '%') {
        out += c;
        continue;
      }
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return fail('malformed percent-encoding');
      const byte = parseInt(hex, 16);
      const ch = String.fromCharCode(byte);
      if (byte < 0x80) {
        if (byte < 0x20 || byte === 0x7f) return fail('encoded control character');
        if (ch === '/' || ch === '\\') return fail('encoded slash or backslash');
        if (ch === ';') return fail('encoded path parameter');
        out += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
        i += 2;
        continue;
      }
      // A multi-byte UTF-8 character: every byte must be there, escaped, and form a valid sequence.
      const length = utf8Length(byte);
      if (length === 0) return fail('invalid UTF-8 in the path');
      const bytes = [byte];
      for (let k = 1; k < length; k++) {
        const at = i + 3 * k;
        const next = raw.slice(at + 1, at + 3);
        if (raw[at] !== '%' || !HEX.test(next)) return fail('invalid UTF-8 in the path');
        bytes.push(parseInt(next, 16));
      }
      if (!validUtf8(bytes)) return fail('invalid UTF-8 in the path');
      out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
      i += 3 * length - 1;
    }
    // `%25` followed by hex, raw or produced by decoding (`%25%32%65`), decodes twice into something else.
    if (/%25[0-9A-Fa-f]{2}/.test(out)) return fail('double percent-encoding');
    decoded = out;
  }

  // Segments: empty ones (duplicate slashes) dropped, dot segments resolved, trailing slash kept.
  const parts = decoded.split('/');
  const trailing = parts.length > 1 && (parts[parts.length - 1] === '' || parts[parts.length - 1] === '.' || parts[parts.length - 1] === '..');
  const segments: string[] = [];
  for (const part of parts) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      segments.pop();
      continue;
    }
    if (part.endsWith('.')) return fail('a path segment ends with a dot');
    segments.push(part);
  }
  const path = `/${segments.join('/')}${trailing && segments.length > 0 ? '/' : ''}`;
  return { ok: true, path };
}

/** The form patterns are matched against: one trailing slash does not change how a path is judged. */
export function matchForm(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

// Reading claims out of token payloads and userinfo answers by configured dot paths.

/** A compiled claim path: resolve it against a claims object. */
export type ClaimPath = (claims: Readonly<Record<string, unknown>>) => unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/**
 * Compile a claim path once (at configuration time) so lookups on the hot path do no parsing.
 *
 * Segments are separated by `.`: `realm_access.roles` reads `claims.realm_access.roles`. A
 * segment may contain any other character, so `cognito:groups` is one key. A top-level key
 * that itself contains dots (`https://example.com/roles`) is found when it matches the whole
 * path. Only own properties are read: `__proto__` or `constructor` never resolve.
 *
 * @example
 * ```ts
 * const groups = compileClaimPath('realm_access.roles');
 * groups({ realm_access: { roles: ['dev'] } }); // ['dev']
 * ```
 * @throws {TypeError} when the path is empty or has an empty segment (`a..b`).
 */
export function compileClaimPath(path: string): ClaimPath {
  const segments = path.split('.');
  if (path === '' || segments.some((s) => s === '')) {
    throw new TypeError(`invalid claim path '${path}': segments must not be empty`);
  }
  if (segments.length === 1) return (claims) => own(claims, path);
  return (claims) => {
    const whole = own(claims, path);
    if (whole !== undefined) return whole;
    let current: unknown = claims;
    for (const segment of segments) {
      if (!isRecord(current)) return undefined;
      current = own(current, segment);
    }
    return current;
  };
}

/** True when `path` can be compiled by {@link compileClaimPath}. For schema refinements. */
export function isClaimPath(path: string): boolean {
  return path !== '' && !path.split('.').includes('');
}

/** Read a claim by dot path; compiles on every call, so prefer {@link compileClaimPath} when hot. */
export function getClaim(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  return compileClaimPath(path)(claims);
}

/** The value if it is a non-empty string, else undefined. */
export function claimString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A string is one value, an array contributes its non-empty strings; anything else none. */
export function claimStrings(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

/**
 * Scopes granted by a token: the space-delimited `scope` claim (RFC 8693/9068) and the `scp`
 * claim, which providers send either as an array (Okta) or space-delimited (Entra ID).
 */
export function scopesOf(claims: Readonly<Record<string, unknown>>): string[] {
  const found = new Set<string>();
  for (const key of ['scope', 'scp']) {
    const value = own(claims, key);
    const list = typeof value === 'string' ? value.split(' ') : claimStrings(value);
    for (const s of list) if (s !== '') found.add(s);
  }
  return [...found];
}

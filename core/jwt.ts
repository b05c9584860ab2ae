// Looking at a JWT before verifying it: only to decide which provider verifies it, never to trust it.
import { hash } from 'node:crypto';
import { decodeJwt } from 'jose';

/** Compact JWS: three base64url parts; the signature may be empty so `alg: none` is refused by name. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Largest token treated as a JWT; anything longer is nobody's JWT. */
export const MAX_JWT_LENGTH = 16_384;

/** True when the value has the shape of a compact JWS (not a JWE, not an opaque token). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && COMPACT_JWS.test(token);
}

let memoToken: string | undefined;
let memoDigest = '';
const forgetToken = (): void => {
  memoToken = undefined;
};

/**
 * sha256 of a bearer token (base64url): the key under which the issuer memo, the verified-JWT
 * reuse, the identity cache and the rate limiter know a token, so none of them keeps the token.
 * The stages and the provider ask for it in one synchronous stretch of the request, so the last
 * digest is remembered until the next microtask: one hash per request instead of one per asker,
 * and the token is not held past the point where the request itself holds it.
 */
export function tokenDigest(token: string): string {
  if (token === memoToken) return memoDigest;
  if (memoToken === undefined) queueMicrotask(forgetToken);
  memoToken = token;
  memoDigest = hash('sha256', token, 'base64url');
  return memoDigest;
}

/** Tokens seen recently, by their sha256 (a token itself is never kept), and their unverified issuer; emptied when full. */
const issuers = new Map<string, string | undefined>();
const MAX_REMEMBERED = 1024;

/**
 * The unverified `iss` of a JWT-shaped token, used only to route it to the provider that verifies it.
 * Remembered per token: the authenticate stage and then the provider ask in turn, and clients
 * send the same token again and again. A pure function of the token, so sharing answers across
 * requests is safe; verification decides, never this.
 */
export function unverifiedIssuer(token: string): string | undefined {
  const key = tokenDigest(token);
  const known = issuers.get(key);
  if (known !== undefined || issuers.has(key)) return known;
  let iss: unknown;
  if (looksLikeJwt(token)) {
    try {
      iss = decodeJwt(token).iss;
    } catch {
      iss = undefined;
    }
  }
  const issuer = typeof iss === 'string' ? iss : undefined;
  if (issuers.size >= MAX_REMEMBERED) issuers.clear();
  issuers.set(key, issuer);
  return issuer;
}

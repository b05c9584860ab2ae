// Looking at a JWT before verifying it: only to decide which provider verifies it, never to trust it.
import { decodeJwt } from 'jose';

/** Compact JWS: three base64url parts; the signature may be empty so `alg: none` is refused by name. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Largest token treated as a JWT; anything longer is nobody's JWT. */
export const MAX_JWT_LENGTH = 16_384;

/** True when the value has the shape of a compact JWS (not a JWE, not an opaque token). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_JWT_LENGTH && COMPACT_JWS.test(token);
}

let lastToken: string | undefined;
let lastIssuer: string | undefined;

/**
 * The unverified `iss` of a JWT-shaped token, used only to route it to the provider that verifies it.
 * The authenticate stage and then the provider ask about the same token in turn: the last answer
 * is remembered (a pure function of the token, so sharing it across requests is safe).
 */
export function unverifiedIssuer(token: string): string | undefined {
  if (token === lastToken) return lastIssuer;
  let iss: unknown;
  if (looksLikeJwt(token)) {
    try {
      iss = decodeJwt(token).iss;
    } catch {
      iss = undefined;
    }
  }
  lastToken = token;
  lastIssuer = typeof iss === 'string' ? iss : undefined;
  return lastIssuer;
}

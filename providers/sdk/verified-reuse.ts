// Reuse of a verified JWT's identity for the same token: one mechanism for every JWT provider kind.
import type { Clock } from '../../core/clock.js';
import { tokenDigest } from '../../core/jwt.js';
import type { AuthResult } from '../../core/provider.js';

/** Longest a verified identity is reused without verifying the token again. */
export const REUSE_MAX_MS = 60_000;
/** Entries kept at most per provider instance; beyond it the map starts over (cheap, and rare). */
const REUSE_MAX_ENTRIES = 10_000;

export interface VerifiedReuseOptions {
  readonly clock: Clock;
  /**
   * Changes whenever the verification keys change (a JWKS refetch): what the old keys verified
   * is judged again. Absent for keys fixed by the configuration, which live as long as the
   * provider instance, and with it this reuse (a configuration change builds a new instance).
   */
  readonly keyGeneration?: () => number;
}

interface Entry {
  readonly result: AuthResult;
  /** Clock time (ms) of the verification: a clock set back before it judges the token again (`nbf`). */
  readonly from: number;
  /** Never past the token's `exp`: the clock skew allowed past `exp` is granted by a fresh verification only. */
  readonly until: number;
}

/**
 * Wrap a JWT validation so that a token verified recently is not verified again: a client
 * repeats its token on every call, and a signature check (RS256 above all) costs far more than
 * the rest of the request. Only identities are reused, by a hash of the token (the token itself
 * is never kept), at most {@link REUSE_MAX_MS} and never past the token's expiry. A refusal is
 * never reused and drops what was held for that token.
 *
 * @example
 * ```ts
 * const validate = reuseVerified((token) => verifyCheckAndMap(token), { clock: deps.clock, keyGeneration: () => keys.generation });
 * ```
 */
export function reuseVerified(
  validate: (token: string) => Promise<AuthResult>,
  options: VerifiedReuseOptions,
): (token: string) => AuthResult | Promise<AuthResult> {
  const { clock, keyGeneration } = options;
  const verified = new Map<string, Entry>();
  let generation = keyGeneration?.();
  /** Keep an identity for the token, or drop what was held for it after a refusal. */
  const remember = (key: string, now: number, held: boolean, result: AuthResult): AuthResult => {
    if (result.outcome === 'identity') {
      const until = Math.min(now + REUSE_MAX_MS, result.identity.expiresAt ?? now);
      if (until > now) {
        if (verified.size >= REUSE_MAX_ENTRIES) verified.clear();
        verified.set(key, { result, from: now, until });
      }
    } else if (held) {
      verified.delete(key);
    }
    return result;
  };
  // A token verified recently is answered at once, not in a promise: the common case of every request.
  return (token) => {
    if (keyGeneration !== undefined && keyGeneration() !== generation) {
      verified.clear();
      generation = keyGeneration();
    }
    const key = tokenDigest(token);
    const now = clock.now();
    const hit = verified.get(key);
    if (hit && hit.from <= now && now < hit.until) return hit.result;
    return validate(token).then((result) => remember(key, now, hit !== undefined, result));
  };
}

// Verify a JWT against the issuer's keys and map every refusal to a stable, safe description.
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { looksLikeJwt } from '../../core/jwt.js';
import type { AuthFailureCode } from '../../core/provider.js';
import { KeysUnavailableError } from './key-set.js';

/** What verification decided; `description` never contains the token or claim values. */
export type VerifyOutcome =
  | { readonly ok: true; readonly payload: JWTPayload }
  | { readonly ok: false; readonly code: AuthFailureCode; readonly description: string };

/** Fixed per configuration; built once when the provider is created. */
export interface VerifyPolicy {
  readonly issuer: string;
  readonly audience: string | readonly string[];
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
}

const ACCEPTED_TYP = new Set(['jwt', 'at+jwt']);
/** Claims every token must carry besides `iss` (jose requires it since an issuer is given). */
const REQUIRED_CLAIMS = ['exp', 'sub'];

const refuse = (description: string): VerifyOutcome => ({ ok: false, code: 'invalid_token', description });

/**
 * Verify signature and registered claims. Keys come only from `getKey` (the issuer's JWKS):
 * `jku`, `x5u`, `jwk` and `x5c` headers are never used.
 */
export async function verifyJwt(
  token: string,
  getKey: JWTVerifyGetKey,
  policy: VerifyPolicy,
  now: number,
): Promise<VerifyOutcome> {
  if (!looksLikeJwt(token)) return refuse('malformed token');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse('malformed token');
  }
  if (typeof header.alg !== 'string' || !policy.algorithms.includes(header.alg)) return refuse(algorithmRefusal(header.alg));
  if (header.crit !== undefined) return refuse('unsupported critical header');
  if (header.typ !== undefined && !(typeof header.typ === 'string' && ACCEPTED_TYP.has(normalizeTyp(header.typ)))) {
    return refuse('token type not accepted');
  }
  const options: JWTVerifyOptions = {
    issuer: policy.issuer,
    audience: policy.audience as string | string[],
    algorithms: policy.algorithms as string[],
    clockTolerance: policy.clockToleranceSeconds,
    currentDate: new Date(now),
    requiredClaims: REQUIRED_CLAIMS,
  };
  try {
    return { ok: true, payload: await verifyWithCandidates(token, getKey, options) };
  } catch (err) {
    return mapError(err);
  }
}

/** Distinct texts for the classic attacks, so an operator sees which one was tried. */
function algorithmRefusal(alg: unknown): string {
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') return 'unsigned token (alg none) not allowed';
  if (typeof alg === 'string' && /^HS\d+$/i.test(alg)) return 'symmetric algorithm not allowed';
  return 'algorithm not allowed';
}

function normalizeTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/** jose leaves several keys matching one header (no `kid`) to the caller: try each in turn. */
async function verifyWithCandidates(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, getKey, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** By jose `code` and `claim`, never by message. Unknown non-jose errors are bugs: rethrown. */
function mapError(err: unknown): VerifyOutcome {
  if (err instanceof KeysUnavailableError) {
    return { ok: false, code: 'provider_unavailable', description: 'signing keys unavailable' };
  }
  if (!(err instanceof errors.JOSEError)) throw err;
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return refuse('token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = err as errors.JWTClaimValidationFailed;
      if (reason === 'missing' && REQUIRED_CLAIMS.includes(claim)) return refuse(`token has no ${claim} claim`);
      if (claim === 'nbf') return refuse('token not yet valid');
      if (claim === 'aud') return refuse('audience not accepted');
      if (claim === 'iss') return refuse('issuer not accepted');
      return refuse('malformed token');
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return refuse('signature invalid');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return refuse('signing key not found');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return refuse('algorithm not allowed');
    default:
      return refuse('malformed token');
  }
}

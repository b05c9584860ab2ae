// JWT validation shared by every JWT provider kind: verify with a key source, check claims, map to an Identity.
import {
  decodeProtectedHeader, errors, jwtVerify,
  type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions,
} from 'jose';
import type { Credential } from '../../core/access.js';
import type { Clock } from '../../core/clock.js';
import { looksLikeJwt, unverifiedIssuer } from '../../core/jwt.js';
import type { AuthFailureCode, AuthResult, ProviderDeps, ProviderStatus } from '../../core/provider.js';
import { NOT_RESPONSIBLE } from './contract.js';
import { toIdentity, type ClaimMapping } from './identity-mapping.js';
import { JwksKeySet, KeysUnavailableError, type DiscoveredMetadata, type Scheduler } from './jwks.js';
import { reuseVerified } from './verified-reuse.js';

/** What verification decided; `description` never contains the token or claim values. */
export type VerifyOutcome =
  | { readonly ok: true; readonly payload: JWTPayload }
  | {
      readonly ok: false;
      readonly code: AuthFailureCode;
      readonly description: string;
      /** True when the signature verified and a claim was refused; false when the token never verified. */
      readonly signed: boolean;
    };

/** Fixed per configuration; built once when the provider is created. */
export interface JwtPolicy {
  /** Accepted `iss` values (several issuers may share one key set, as Entra's v1 and v2); empty: `iss` is not checked. */
  readonly issuers: readonly string[];
  /** Accepted `aud` values; absent only when the provider binds the client another way (Cognito `client_id`). */
  readonly audience?: string | readonly string[];
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  /** Claims every token must carry besides `iss` (default `exp`, `sub`). */
  readonly requiredClaims?: readonly string[];
}

const ACCEPTED_TYP = new Set(['jwt', 'at+jwt']);
const DEFAULT_REQUIRED = Object.freeze(['exp', 'sub']);

const refuse = (description: string, signed = false): VerifyOutcome => ({ ok: false, code: 'invalid_token', description, signed });

/**
 * Verify signature and registered claims. Keys come only from `getKey`: `jku`, `x5u`, `jwk`
 * and `x5c` headers are never used.
 */
export async function verifyJwt(token: string, getKey: JWTVerifyGetKey, policy: JwtPolicy, now: number): Promise<VerifyOutcome> {
  if (!looksLikeJwt(token)) return refuse('malformed token');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse('malformed token');
  }
  if (typeof header.alg !== 'string' || !policy.algorithms.includes(header.alg)) return refuse(algorithmRefusal(header.alg, policy.algorithms));
  if (header.crit !== undefined) return refuse('unsupported critical header');
  if (header.typ !== undefined && !(typeof header.typ === 'string' && ACCEPTED_TYP.has(normalizeTyp(header.typ)))) {
    return refuse('token type not accepted');
  }
  const required = policy.requiredClaims ?? DEFAULT_REQUIRED;
  const options: JWTVerifyOptions = {
    ...(policy.issuers.length === 0 ? {} : { issuer: policy.issuers as string[] }),
    ...(policy.audience === undefined ? {} : { audience: policy.audience as string | string[] }),
    algorithms: policy.algorithms as string[],
    clockTolerance: policy.clockToleranceSeconds,
    currentDate: new Date(now),
    requiredClaims: required as string[],
  };
  try {
    return { ok: true, payload: await verifyWithCandidates(token, getKey, options) };
  } catch (err) {
    return mapError(err, required);
  }
}

/** Distinct texts for the classic attacks, so an operator sees which one was tried. */
function algorithmRefusal(alg: unknown, accepted: readonly string[]): string {
  const hmac = (a: unknown) => typeof a === 'string' && /^HS\d+$/i.test(a);
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') return 'unsigned token (alg none) not allowed';
  if (hmac(alg) && !accepted.some(hmac)) return 'symmetric algorithm not allowed';
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
function mapError(err: unknown, required: readonly string[]): VerifyOutcome {
  if (err instanceof KeysUnavailableError) {
    return { ok: false, code: 'provider_unavailable', description: 'signing keys unavailable', signed: false };
  }
  if (!(err instanceof errors.JOSEError)) throw err;
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return refuse('token expired', true);
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = err as errors.JWTClaimValidationFailed;
      if (reason === 'missing' && required.includes(claim)) return refuse(`token has no ${claim} claim`, true);
      if (claim === 'nbf') return refuse('token not yet valid', true);
      if (claim === 'aud') return refuse('audience not accepted', true);
      if (claim === 'iss') return refuse('issuer not accepted', true);
      return refuse('malformed token', true);
    }
    case 'ERR_JWT_INVALID':
      return refuse('malformed token', true);
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

/** The signature and claim check, {@link verifyJwt} unless a test counts or replaces it. */
export type JwtVerify = typeof verifyJwt;

/** A check beyond the registered claims: the refusal's description, or undefined to accept. */
export type ClaimCheck = (payload: JWTPayload) => string | undefined;

export interface JwtValidatorOptions {
  readonly providerId: string;
  readonly clock: Clock;
  readonly getKey: JWTVerifyGetKey;
  readonly policy: JwtPolicy;
  /** One mapping, or one chosen per token (Cognito maps access and ID tokens differently). */
  readonly mapping: ClaimMapping | ((payload: JWTPayload) => ClaimMapping);
  /** Provider-specific checks run after verification (`token_use`, `hd`, `azp` ...). */
  readonly check?: ClaimCheck;
  /** What the mapping reads (default: the payload); e.g. drop an unverified email. */
  readonly claims?: (payload: JWTPayload) => Readonly<Record<string, unknown>>;
  /**
   * `not_responsible` when the token did not verify (wrong key, algorithm): for providers that
   * cannot tell their tokens from others' (a configured key without an issuer). Default `failure`.
   */
  readonly unverified?: 'failure' | 'not_responsible';
  /** Changes when `getKey` takes in new keys (JWKS); absent for keys fixed by the configuration. */
  readonly keyGeneration?: () => number;
  /** Default {@link verifyJwt}; tests pass a counting wrapper to see verifications skipped. */
  readonly verify?: JwtVerify;
}


/**
 * Build the per-token validation of a JWT provider: verify, check, map. Every JWT kind goes
 * through here, so every one reuses a verified identity for the same token the same way
 * ({@link reuseVerified}: at most 60 s, never past `exp`, judged again when the keys change).
 *
 * @example
 * ```ts
 * const validate = jwtValidator({ providerId: deps.id, clock: deps.clock, getKey: keys.getKey, policy, mapping });
 * // in authenticate(): return validate(credential.secret);
 * ```
 */
export function jwtValidator(options: JwtValidatorOptions): (token: string) => AuthResult | Promise<AuthResult> {
  const { providerId, clock, getKey, policy, check, claims, keyGeneration, verify = verifyJwt } = options;
  const mappingOf = typeof options.mapping === 'function' ? options.mapping : () => options.mapping as ClaimMapping;
  const foreign = options.unverified === 'not_responsible';
  const validate = async (token: string): Promise<AuthResult> => {
    const verified = await verify(token, getKey, policy, clock.now());
    if (!verified.ok) {
      if (foreign && !verified.signed && verified.code === 'invalid_token') return NOT_RESPONSIBLE;
      return { outcome: 'failure', code: verified.code, description: verified.description };
    }
    const refusal = check?.(verified.payload);
    if (refusal !== undefined) return { outcome: 'failure', code: 'invalid_token', description: refusal };
    const mapped = toIdentity(claims ? claims(verified.payload) : verified.payload, mappingOf(verified.payload), providerId);
    if (!mapped.ok) return { outcome: 'failure', code: 'invalid_token', description: mapped.description };
    return { outcome: 'identity', identity: mapped.identity };
  };
  return reuseVerified(validate, { clock, ...(keyGeneration === undefined ? {} : { keyGeneration }) });
}

/** The bearer JWT when its unverified `iss` is one of `issuers`, else undefined (not ours to judge). */
export function bearerJwtOf(credential: Credential, issuers: ReadonlySet<string>): string | undefined {
  if (credential.scheme !== 'bearer') return undefined;
  // unverifiedIssuer answers undefined for anything not shaped like a JWT, and remembers the
  // answer per token, so the shape is checked once per token rather than once per asker.
  const iss = unverifiedIssuer(credential.secret);
  return iss !== undefined && issuers.has(iss) ? credential.secret : undefined;
}

/** Knobs for tests and embedding; the gateway uses the defaults. */
export interface KeyFetchOptions {
  /** Timers for the start-up retry backoff (default: real, unref'd timers). */
  readonly scheduler?: Scheduler;
  /** Outbound call limits for discovery and JWKS (defaults: 5 s, 512 KiB). */
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export interface JwksVerifierOptions extends Omit<JwtValidatorOptions, 'providerId' | 'clock' | 'getKey' | 'keyGeneration'> {
  readonly deps: ProviderDeps;
  /** Where keys come from; when absent, OpenID discovery at the first issuer. */
  readonly jwksUri?: string;
  readonly cacheSeconds: number;
  readonly cooldownSeconds: number;
  readonly fetchOptions?: KeyFetchOptions;
}

/**
 * One issuer's key set plus the validation of its JWTs: the JWT half of a provider. The
 * provider delegates `start`, `status` and `close` to it and routes bearer JWTs with {@link owns}.
 */
export class JwksVerifier {
  readonly issuers: readonly string[];
  readonly keys: JwksKeySet;
  private readonly issuerSet: ReadonlySet<string>;
  /** Verifies, checks and maps; reuses a verified identity until new keys are taken in. */
  readonly verify: (token: string) => AuthResult | Promise<AuthResult>;

  constructor(options: JwksVerifierOptions) {
    const { deps, policy } = options;
    const first = policy.issuers[0];
    if (first === undefined) throw new TypeError('JwksVerifier: at least one issuer is required');
    this.issuers = Object.freeze([...policy.issuers]);
    this.issuerSet = new Set(this.issuers);
    this.keys = new JwksKeySet({
      issuer: first,
      ...(options.jwksUri === undefined ? {} : { jwksUri: options.jwksUri }),
      cacheMs: options.cacheSeconds * 1000,
      cooldownMs: options.cooldownSeconds * 1000,
      fetch: deps.fetch,
      clock: deps.clock,
      logger: deps.logger,
      ...options.fetchOptions,
    });
    const keys = this.keys;
    this.verify = jwtValidator({
      ...options, providerId: deps.id, clock: deps.clock, getKey: keys.getKey, keyGeneration: () => keys.generation,
    });
  }

  /** The bearer JWT if one of our issuers claims it (unverified), else undefined. */
  owns(credential: Credential): string | undefined {
    return bearerJwtOf(credential, this.issuerSet);
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.keys.start(signal);
  }

  refresh(): Promise<boolean> {
    return this.keys.refresh();
  }

  metadata(): Promise<DiscoveredMetadata> {
    return this.keys.metadata();
  }

  status(): ProviderStatus {
    const detail = this.keys.detail;
    return { ready: this.keys.ready, ...(detail === undefined ? {} : { detail }) };
  }

  close(): void {
    this.keys.close();
  }
}

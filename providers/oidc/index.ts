// The `oidc` provider kind: verifies JWT access/ID tokens of one OpenID issuer against its JWKS.
import type { Credential } from '../../core/access.js';
import type { AuthResult, Provider, ProviderDeps, ProviderPlugin, ProviderStatus } from '../../core/provider.js';
import { oidcConfigSchema, type OidcConfig } from './config.js';
import { compileMapping, toIdentity, type ClaimMapping } from './identity.js';
import { JwksKeySet, type Scheduler } from './key-set.js';
import { looksLikeJwt, unverifiedIssuer } from '../../core/jwt.js';
import { verifyJwt, type VerifyPolicy } from './verify.js';

export { oidcConfigSchema, type OidcConfig } from './config.js';
export type { Scheduler } from './key-set.js';

const NOT_RESPONSIBLE: AuthResult = Object.freeze({ outcome: 'not_responsible' });

/** Knobs for tests and embedding; the gateway uses the defaults. */
export interface OidcProviderOptions {
  /** Timers for the start-up retry backoff (default: real, unref'd timers). */
  readonly scheduler?: Scheduler;
  /** Outbound call limits for discovery and JWKS (defaults: 5 s, 512 KiB). */
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

/** A running `oidc` provider. Besides the Provider contract it can be told to refetch keys. */
export class OidcProvider implements Provider {
  readonly kind = 'oidc';
  readonly id: string;
  readonly issuers: readonly string[];
  private readonly keys: JwksKeySet;
  private readonly policy: VerifyPolicy;
  private readonly mapping: ClaimMapping;

  constructor(config: OidcConfig, private readonly deps: ProviderDeps, options: OidcProviderOptions = {}) {
    this.id = deps.id;
    this.issuers = Object.freeze([config.issuer]);
    this.policy = Object.freeze({
      issuer: config.issuer,
      audience: typeof config.audience === 'string' ? config.audience : Object.freeze([...config.audience]),
      algorithms: Object.freeze([...config.algorithms]),
      clockToleranceSeconds: config.clockSkewSeconds,
    });
    this.mapping = compileMapping(config);
    this.keys = new JwksKeySet({
      issuer: config.issuer,
      ...(config.jwksUri === undefined ? {} : { jwksUri: config.jwksUri }),
      cacheMs: config.jwksCacheSeconds * 1000,
      cooldownMs: config.jwksCooldownSeconds * 1000,
      fetch: deps.fetch,
      clock: deps.clock,
      logger: deps.logger,
      ...options,
    });
  }

  /** Fetch discovery and keys; on failure the provider keeps retrying with backoff. */
  start(signal?: AbortSignal): Promise<void> {
    return this.keys.start(signal);
  }

  /** Refetch the keys now (joins a fetch under way). Resolves true when fresh keys are held. */
  refresh(): Promise<boolean> {
    return this.keys.refresh();
  }

  status(): ProviderStatus {
    const detail = this.keys.detail;
    return { ready: this.keys.ready, ...(detail === undefined ? {} : { detail }) };
  }

  /**
   * Verify a bearer JWT issued by our issuer. Other credentials, opaque tokens and JWTs of
   * other issuers are `not_responsible`; a JWT of ours that fails any check is a `failure`.
   */
  async authenticate(credential: Credential): Promise<AuthResult> {
    const token = credential.secret;
    if (credential.scheme !== 'bearer' || !looksLikeJwt(token)) return NOT_RESPONSIBLE;
    if (unverifiedIssuer(token) !== this.policy.issuer) return NOT_RESPONSIBLE;
    const verified = await verifyJwt(token, this.keys.getKey, this.policy, this.deps.clock.now());
    if (!verified.ok) return { outcome: 'failure', code: verified.code, description: verified.description };
    const mapped = toIdentity(verified.payload, this.mapping, this.id);
    if (!mapped.ok) return { outcome: 'failure', code: 'invalid_token', description: mapped.description };
    return { outcome: 'identity', identity: mapped.identity };
  }

  async close(): Promise<void> {
    this.keys.close();
  }
}

/**
 * Build an `oidc` provider from a validated configuration.
 *
 * @example
 * ```ts
 * const provider = createOidcProvider(
 *   { issuer: 'https://login.example.com', audience: 'api://portcullis', algorithms: ['RS256'],
 *     clockSkewSeconds: 60, usernameClaim: 'preferred_username', emailClaim: 'email',
 *     groupsClaim: 'groups', jwksCacheSeconds: 600, jwksCooldownSeconds: 30 },
 *   { id: 'corp-sso', fetch, clock: systemClock, logger },
 * );
 * await provider.start(AbortSignal.timeout(10_000));
 * ```
 */
export function createOidcProvider(config: OidcConfig, deps: ProviderDeps, options?: OidcProviderOptions): OidcProvider {
  return new OidcProvider(config, deps, options);
}

/** The `oidc` plugin: any OpenID Connect issuer with discovery or a configured JWKS URI. */
const oidcPlugin: ProviderPlugin<OidcConfig> = {
  kind: 'oidc',
  description: 'OpenID Connect / OAuth 2.0 JWT bearer tokens verified against the issuer JWKS',
  configSchema: oidcConfigSchema,
  create: (config, deps) => createOidcProvider(config, deps),
};

export default oidcPlugin;

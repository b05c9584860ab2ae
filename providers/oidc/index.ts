// The `oidc` provider kind: verifies JWT access/ID tokens of one OpenID issuer against its JWKS.
import type { Credential } from '../../core/access.js';
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin, ProviderStatus } from '../../core/provider.js';
import { compileMapping } from '../shared/identity-mapping.js';
import { KeySetError, type DiscoveredMetadata } from '../shared/jwks.js';
import { JwksVerifier, type KeyFetchOptions } from '../shared/jwt.js';
import { oidcConfigSchema, type OidcConfig } from './config.js';

export { oidcConfigSchema, oidcClientFields, type OidcConfig } from './config.js';
export type { Scheduler } from '../shared/jwks.js';

const NOT_RESPONSIBLE: AuthResult = Object.freeze({ outcome: 'not_responsible' });

/** Knobs for tests and embedding; the gateway uses the defaults. */
export interface OidcProviderOptions extends KeyFetchOptions {
  /** The kind reported by the instance (`oidc-discovery` builds on this class). */
  readonly kind?: string;
}

/** A running `oidc` provider. Besides the Provider contract it can be told to refetch keys. */
export class OidcProvider implements Provider {
  readonly kind: string;
  readonly id: string;
  readonly issuers: readonly string[];
  private readonly verifier: JwksVerifier;
  private readonly limits: { timeoutMs: number; maxBytes: number };

  constructor(private readonly config: OidcConfig, private readonly deps: ProviderDeps, options: OidcProviderOptions = {}) {
    const { kind, ...fetchOptions } = options;
    this.kind = kind ?? 'oidc';
    this.id = deps.id;
    this.limits = { timeoutMs: options.timeoutMs ?? 5_000, maxBytes: options.maxBytes ?? 512 * 1024 };
    this.verifier = new JwksVerifier({
      deps,
      policy: Object.freeze({
        issuers: [config.issuer],
        audience: typeof config.audience === 'string' ? config.audience : Object.freeze([...config.audience]),
        algorithms: Object.freeze([...config.algorithms]),
        clockToleranceSeconds: config.clockSkewSeconds,
      }),
      mapping: compileMapping(config),
      ...(config.jwksUri === undefined ? {} : { jwksUri: config.jwksUri }),
      cacheSeconds: config.jwksCacheSeconds,
      cooldownSeconds: config.jwksCooldownSeconds,
      fetchOptions,
    });
    this.issuers = this.verifier.issuers;
  }

  /** Fetch discovery and keys; on failure the provider keeps retrying with backoff. */
  start(signal?: AbortSignal): Promise<void> {
    return this.verifier.start(signal);
  }

  /** Refetch the keys now (joins a fetch under way). Resolves true when fresh keys are held. */
  refresh(): Promise<boolean> {
    return this.verifier.refresh();
  }

  status(): ProviderStatus {
    return this.verifier.status();
  }

  /**
   * Verify a bearer JWT issued by our issuer. Other credentials, opaque tokens and JWTs of
   * other issuers are `not_responsible`; a JWT of ours that fails any check is a `failure`.
   */
  async authenticate(credential: Credential): Promise<AuthResult> {
    const token = this.verifier.owns(credential);
    return token === undefined ? NOT_RESPONSIBLE : this.verifier.verify(token);
  }

  /** The issuer's userinfo answer for an access token (`userinfo_endpoint` from discovery). */
  async inspect(token: string): Promise<unknown> {
    const { userinfoEndpoint } = await this.metadata();
    if (userinfoEndpoint === undefined) {
      throw new UpstreamHttpError('malformed', `discovery document of ${this.config.issuer} names no userinfo_endpoint`);
    }
    return fetchJson(this.deps.fetch, userinfoEndpoint, { ...this.limits, headers: { authorization: `Bearer ${token}` } });
  }

  /** Authorization and token endpoints from discovery, when a client id is configured. */
  async oauthClient(): Promise<OAuthClient | undefined> {
    const { clientId, clientSecret, clientAuth, scope } = this.config;
    if (clientId === undefined) return undefined;
    const { authorizationEndpoint, tokenEndpoint } = await this.metadata();
    if (tokenEndpoint === undefined) return undefined;
    return {
      ...(authorizationEndpoint === undefined ? {} : { authorizationEndpoint }),
      tokenEndpoint,
      clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      clientAuth: clientAuth ?? 'basic',
      scope: scope ?? 'openid profile email',
    };
  }

  async close(): Promise<void> {
    this.verifier.close();
  }

  /** Discovery, with an unusable document reported as the UpstreamHttpError the contract names. */
  private async metadata(): Promise<DiscoveredMetadata> {
    try {
      return await this.verifier.metadata();
    } catch (err) {
      if (err instanceof KeySetError) throw new UpstreamHttpError('malformed', err.message, { cause: err });
      throw err;
    }
  }
}

/**
 * Build an `oidc` provider from a validated configuration.
 *
 * @example
 * ```ts
 * const provider = createOidcProvider(
 *   oidcConfigSchema.parse({ issuer: 'https://login.example.com', audience: 'api://portcullis' }),
 *   { id: 'corp-sso', fetch, clock: systemClock, logger, cache },
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
  secretFields: ['clientSecret'],
  create: (config, deps) => createOidcProvider(config, deps),
};

export default oidcPlugin;

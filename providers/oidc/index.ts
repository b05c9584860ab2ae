// The `oidc` provider kind: verifies JWT access/ID tokens of one OpenID issuer against its JWKS, endpoints by discovery.
import { oidcPreset, type DiscoveredProvider, type KeyFetchOptions, type ProviderDeps } from '../sdk/index.js';
import { oidcConfigSchema, type OidcConfig } from './config.js';

export { oidcConfigSchema, type OidcConfig } from './config.js';
export type { Scheduler } from '../sdk/index.js';

/** A running `oidc` provider. Besides the Provider contract it can be told to refetch keys (`refresh()`). */
export type OidcProvider = DiscoveredProvider;

/** The `oidc` plugin: any OpenID Connect issuer with discovery or a configured JWKS URI. */
const oidcPlugin = oidcPreset({
  kind: 'oidc',
  description: 'OpenID Connect / OAuth 2.0 JWT bearer tokens verified against the issuer JWKS',
  configSchema: oidcConfigSchema,
  issuer: (config) => config.issuer,
});

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
export const createOidcProvider: (config: OidcConfig, deps: ProviderDeps, options?: KeyFetchOptions) => OidcProvider = oidcPlugin.create;

export default oidcPlugin;

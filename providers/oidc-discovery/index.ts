// The `oidc-discovery` provider kind: an OpenID issuer configured by its URL and our audience; everything else discovered.
import { z } from 'zod';
import type { ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { oidcClientFields, oidcConfigSchema, OidcProvider, type OidcConfig, type OidcProviderOptions } from '../oidc/index.js';
import { ASYMMETRIC_ALGORITHMS, claimPaths, issuerUrl, oneOrMore, requiredScopes } from '../shared/config-fields.js';

export const oidcDiscoveryConfigSchema = z.strictObject({
  /** Exact `iss`; discovery at `${issuer}/.well-known/openid-configuration` gives the keys and endpoints. */
  issuer: issuerUrl(),
  /** Required: without it any token of the issuer, minted for any application, would pass. */
  audience: oneOrMore('audience'),
  usernameClaim: claimPaths.default('preferred_username'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.default('groups'),
  requiredScopes,
  ...oidcClientFields,
});

export type OidcDiscoveryConfig = z.output<typeof oidcDiscoveryConfigSchema>;

/** The full `oidc` configuration this kind stands for: every asymmetric algorithm, keys by discovery, default timings. */
export function toOidcConfig(config: OidcDiscoveryConfig): OidcConfig {
  return oidcConfigSchema.parse({ ...config, algorithms: [...ASYMMETRIC_ALGORITHMS] });
}

/**
 * Build an `oidc-discovery` provider (an `oidc` provider whose keys and endpoints all come from discovery).
 * @example
 * ```ts
 * createOidcDiscoveryProvider(oidcDiscoveryConfigSchema.parse({ issuer: 'https://idp.example.com', audience: 'api://gw' }), deps);
 * ```
 */
export function createOidcDiscoveryProvider(config: OidcDiscoveryConfig, deps: ProviderDeps, options: OidcProviderOptions = {}): OidcProvider {
  return new OidcProvider(toOidcConfig(config), deps, { ...options, kind: 'oidc-discovery' });
}

const oidcDiscoveryPlugin: ProviderPlugin<OidcDiscoveryConfig> = {
  kind: 'oidc-discovery',
  description: 'Any OpenID Connect issuer from its URL alone: keys, algorithms and endpoints discovered',
  configSchema: oidcDiscoveryConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => createOidcDiscoveryProvider(config, deps),
};

export default oidcDiscoveryPlugin;

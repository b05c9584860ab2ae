// The `oidc-discovery` provider kind: an OpenID issuer configured by its URL and our audience; everything else discovered.
import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS, claimPaths, issuerUrl, oidcClientFields, oidcPreset, oneOrMore, requiredScopes } from '../sdk/index.js';

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

/** The `oidc` kind with every asymmetric algorithm, keys and endpoints by discovery, default timings. */
const oidcDiscoveryPlugin = oidcPreset({
  kind: 'oidc-discovery',
  description: 'Any OpenID Connect issuer from its URL alone: keys, algorithms and endpoints discovered',
  configSchema: oidcDiscoveryConfigSchema,
  issuer: (config) => config.issuer,
  algorithms: ASYMMETRIC_ALGORITHMS,
});

/**
 * Build an `oidc-discovery` provider.
 * @example
 * ```ts
 * createOidcDiscoveryProvider(oidcDiscoveryConfigSchema.parse({ issuer: 'https://idp.example.com', audience: 'api://gw' }), deps);
 * ```
 */
export const createOidcDiscoveryProvider = oidcDiscoveryPlugin.create;

export default oidcDiscoveryPlugin;

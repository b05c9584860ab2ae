// Configuration of the `oidc` provider kind: what an admin may set, checked once when configured.
import { z } from 'zod';
import {
  asymmetricAlgorithm, claimPaths, clockSkewSeconds, endpoint, issuerUrl,
  jwksCacheSeconds, jwksCooldownSeconds, oidcClientFields, oneOrMore, requiredScopes,
} from '../sdk/index.js';

export const oidcConfigSchema = z.strictObject({
  /** Exact `iss` value of the tokens; also the base of OpenID discovery. */
  issuer: issuerUrl(),
  /** Accepted `aud` value(s): tokens minted for another client are refused. */
  audience: oneOrMore('audience'),
  /** Signing keys; when absent, read from `${issuer}/.well-known/openid-configuration`. */
  jwksUri: endpoint('jwksUri').optional(),
  algorithms: z.array(asymmetricAlgorithm).min(1, 'give at least one algorithm').default(['RS256', 'ES256']),
  clockSkewSeconds,
  /** Dot path(s); when no claim is present the username is `sub`. */
  usernameClaim: claimPaths.default('preferred_username'),
  emailClaim: claimPaths.default('email'),
  /** Dot path(s) to a string (one group) or an array of strings; several paths are merged. */
  groupsClaim: claimPaths.default('groups'),
  /** Scopes every token must carry (`scope` string or `scp` array). */
  requiredScopes,
  jwksCacheSeconds,
  /** Least time between two key fetches caused by tokens with unknown key ids. */
  jwksCooldownSeconds,
  ...oidcClientFields,
});

/** A validated `oidc` configuration (defaults applied). */
export type OidcConfig = z.output<typeof oidcConfigSchema>;

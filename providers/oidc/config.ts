// Configuration of the `oidc` provider kind: what an admin may set, checked once when configured.
import { z } from 'zod';
import { endpoint, issuerUrl, jwtFields, oidcClientFields, oneOrMore } from '../sdk/index.js';

export const oidcConfigSchema = z.strictObject({
  /** Exact `iss` value of the tokens; also the base of OpenID discovery. */
  issuer: issuerUrl(),
  /** Accepted `aud` value(s): tokens minted for another client are refused. */
  audience: oneOrMore('audience'),
  /** Signing keys; when absent, read from `${issuer}/.well-known/openid-configuration`. */
  jwksUri: endpoint('jwksUri').optional(),
  ...jwtFields({ algorithms: ['RS256', 'ES256'] }),
  ...oidcClientFields,
});

/** A validated `oidc` configuration (defaults applied). */
export type OidcConfig = z.output<typeof oidcConfigSchema>;

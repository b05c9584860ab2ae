// The `keycloak` provider kind: access tokens of one Keycloak realm, verified against the realm's JWKS.
import { z } from 'zod';
import { clientFields, issuerUrl, jwtFields, oidcPreset, oneOrMore } from '../sdk/index.js';

export const keycloakConfigSchema = z
  .strictObject({
    /** Where Keycloak answers: `https://sso.example.com` (or `https://sso.example.com/auth` before Keycloak 17). */
    baseUrl: issuerUrl('baseUrl'),
    realm: z.string().regex(/^[\w.-]+$/, 'realm must be a realm name (letters, digits, _ . -)'),
    /** Accepted `aud` values (add an audience mapper in Keycloak). */
    audience: oneOrMore('audience').optional(),
    /** Accepted `azp` values: the clients whose tokens are taken. */
    authorizedParties: z.array(z.string().min(1)).min(1, 'give at least one client id').optional(),
    /** Merged: top-level groups (group-membership mapper) and realm roles; add `resource_access.<client>.roles` for client roles. */
    ...jwtFields({ algorithms: ['RS256'], groupsClaim: ['groups', 'realm_access.roles'] }),
    /** For the fetch-token helper. */
    ...clientFields({ clientAuth: 'basic', scope: 'openid profile email' }),
  })
  .refine((c) => c.audience !== undefined || c.authorizedParties !== undefined, {
    path: ['audience'],
    message: 'give audience or authorizedParties, so tokens of other clients of the realm are refused',
  });

export type KeycloakConfig = z.output<typeof keycloakConfigSchema>;

/** `{baseUrl}/realms/{realm}`: the realm's issuer. */
export const keycloakIssuer = (config: Pick<KeycloakConfig, 'baseUrl' | 'realm'>): string =>
  `${config.baseUrl.replace(/\/+$/, '')}/realms/${config.realm}`;

/** The `keycloak` plugin: the realm's issuer and endpoints, and Keycloak's token type and authorized party. */
const keycloakPlugin = oidcPreset({
  kind: 'keycloak',
  description: 'Keycloak realm access tokens verified against the realm JWKS; groups and realm/client roles',
  configSchema: keycloakConfigSchema,
  issuer: keycloakIssuer,
  endpoints: (config) => {
    const oidc = `${keycloakIssuer(config)}/protocol/openid-connect`;
    return { jwks: `${oidc}/certs`, userinfo: `${oidc}/userinfo`, authorization: `${oidc}/auth`, token: `${oidc}/token` };
  },
  keepClaims: ['typ'],
  check: (config) => {
    const parties = config.authorizedParties === undefined ? undefined : new Set(config.authorizedParties);
    return (payload) => {
      // Keycloak names its token type in the payload: ID and refresh tokens are not API credentials.
      if (payload.typ !== undefined && payload.typ !== 'Bearer') return 'token type not accepted';
      if (parties && !(typeof payload.azp === 'string' && parties.has(payload.azp))) return 'authorized party not accepted';
      return undefined;
    };
  },
});

/**
 * Build a `keycloak` provider.
 * @example
 * ```ts
 * createKeycloakProvider(keycloakConfigSchema.parse({ baseUrl: 'https://sso.example.com', realm: 'corp', audience: 'portcullis' }), deps);
 * ```
 */
export const createKeycloakProvider = keycloakPlugin.create;

export default keycloakPlugin;

// The `entra-id` provider kind: Microsoft Entra ID (Azure AD) tokens of one tenant; our API's by JWKS, Graph's by asking Graph.
import { decodeJwt, type JWTPayload } from 'jose';
import { z } from 'zod';
import {
  asList, asRecord, claimPaths, clientAuth, clockSkewSeconds, compileMapping, fromMapping, getWithBearer, jwksCacheSeconds,
  jwksCooldownSeconds, oidcPreset, oneOrMore, opaqueValidator, refuse, requiredScopes, scopeString, toIdentity,
  type AuthResult, type ExtensionContext, type Judge,
} from '../sdk/index.js';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Audiences of tokens minted for Microsoft Graph: their signatures cannot be verified by anyone but Graph. */
export const GRAPH_AUDIENCES: ReadonlySet<string> = new Set([
  '00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com', 'https://graph.microsoft.com/',
]);
const GRAPH_ME = 'https://graph.microsoft.com/v1.0/me';
const LOGIN = 'https://login.microsoftonline.com';

export const entraIdConfigSchema = z.strictObject({
  /** Directory (tenant) id. */
  tenantId: z.string().regex(GUID, 'tenantId must be the directory (tenant) id, a GUID'),
  /** Application (client) id of the app registration that exposes our API. */
  clientId: z.string().regex(GUID, 'clientId must be the application (client) id, a GUID'),
  /** Accepted `aud`; default: the client id (v2 tokens) and `api://<clientId>` (v1 tokens). */
  audience: oneOrMore('audience').optional(),
  /** Also accept Microsoft Graph tokens issued to our app, validated by calling Graph `/me`. */
  acceptGraphTokens: z.boolean().default(false),
  usernameClaim: claimPaths.default(['preferred_username', 'upn', 'unique_name']),
  emailClaim: claimPaths.default(['email', 'upn']),
  groupsClaim: claimPaths.default(['groups', 'roles']),
  requiredScopes,
  clockSkewSeconds,
  jwksCacheSeconds,
  jwksCooldownSeconds,
  clientSecret: z.string().min(1).optional(),
  clientAuth: clientAuth.default('body'),
  /** Default `api://<clientId>/.default openid profile`. */
  scope: scopeString.optional(),
});

export type EntraIdConfig = z.output<typeof entraIdConfigSchema>;

export const entraIssuers = (tenantId: string): string[] => [`https://sts.windows.net/${tenantId}/`, `${LOGIN}/${tenantId}/v2.0`];

/** The unverified audiences of a JWT; only to decide whether Graph must judge it. */
function audiencesOf(token: string): string[] {
  try {
    return [...asList(decodeJwt(token).aud)];
  } catch {
    return [];
  }
}

/** Claims of Entra tokens kept in `Identity.claims`. */
const KEEP = ['tid', 'appid', 'ver'];

/**
 * Tokens of our issuer minted for Microsoft Graph: only Graph can check their signature, so Graph
 * is asked (`/me`), and the token is bound to our tenant and app. Refused unless `acceptGraphTokens`.
 */
function graphTokens(config: EntraIdConfig, { deps, limits, owns }: ExtensionContext): Judge {
  const { tenantId, clientId } = config;
  const mapping = compileMapping(config, KEEP);
  const validate = opaqueValidator({
    deps,
    config,
    check: async (token) => {
      const payload: JWTPayload = decodeJwt(token);
      if (payload.tid !== tenantId) return refuse('tenant not accepted');
      if (payload.appid !== clientId && payload.azp !== clientId) return refuse('client not accepted');
      if (typeof payload.exp !== 'number' || payload.exp * 1000 <= deps.clock.now()) return refuse('token expired');
      const me = asRecord(await getWithBearer(deps.fetch, GRAPH_ME, token, limits));
      if (me === undefined || typeof me.id !== 'string') return refuse('token not accepted by the identity provider');
      const claims = {
        ...payload,
        preferred_username: payload.preferred_username ?? me.userPrincipalName,
        email: payload.email ?? me.mail ?? undefined,
      };
      return fromMapping(toIdentity(claims, mapping, deps.id));
    },
  });
  const graphRefused: AuthResult = Object.freeze(refuse('audience not accepted'));
  return (credential) => {
    const token = owns(credential);
    if (token === undefined || !audiencesOf(token).some((a) => GRAPH_AUDIENCES.has(a))) return undefined;
    return config.acceptGraphTokens ? validate(token) : Promise.resolve(graphRefused);
  };
}

/** The `entra-id` plugin: the tenant's v1 and v2 issuers and keys; our API's tokens by JWKS, Graph's by Graph. */
const entraIdPlugin = oidcPreset({
  kind: 'entra-id',
  description: 'Microsoft Entra ID (Azure AD) v1/v2 tokens for our API by tenant JWKS; Microsoft Graph tokens via Graph /me',
  configSchema: entraIdConfigSchema,
  issuer: ({ tenantId }) => entraIssuers(tenantId),
  endpoints: ({ tenantId }) => ({
    jwks: `${LOGIN}/${tenantId}/discovery/v2.0/keys`,
    userinfo: GRAPH_ME,
    authorization: `${LOGIN}/${tenantId}/oauth2/v2.0/authorize`,
    token: `${LOGIN}/${tenantId}/oauth2/v2.0/token`,
  }),
  audience: ({ audience, clientId }) => audience ?? [clientId, `api://${clientId}`],
  keepClaims: KEEP,
  check: ({ tenantId }) => (payload) => (payload.tid === tenantId ? undefined : 'tenant not accepted'),
  client: ({ clientId, scope }) => ({ scope: scope ?? `api://${clientId}/.default openid profile` }),
  extend: (config, context) => ({ before: graphTokens(config, context) }),
});

/**
 * Build an `entra-id` provider.
 * @example
 * ```ts
 * createEntraIdProvider(entraIdConfigSchema.parse({ tenantId, clientId, acceptGraphTokens: true }), deps);
 * ```
 */
export const createEntraIdProvider = entraIdPlugin.create;

export default entraIdPlugin;

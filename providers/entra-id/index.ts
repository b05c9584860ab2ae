// The `entra-id` provider kind: Microsoft Entra ID (Azure AD) tokens of one tenant; our API's by JWKS, Graph's by asking Graph.
import { decodeJwt, type JWTPayload } from 'jose';
import { z } from 'zod';
import type { AuthResult, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import {
  asList, claimPaths, clientAuth, clockSkewSeconds, jwksCacheSeconds, jwksCooldownSeconds, oneOrMore, requiredScopes, scopeString,
} from '../shared/config-fields.js';
import { compileMapping, toIdentity } from '../shared/identity-mapping.js';
import { asRecord, getWithBearer, JwksProvider, limitsOf } from '../shared/jwks-provider.js';
import { JwksVerifier, type KeyFetchOptions } from '../shared/jwt.js';
import { opaqueValidator, TokenRejected } from '../shared/opaque.js';

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

/**
 * Build an `entra-id` provider.
 * @example
 * ```ts
 * createEntraIdProvider(entraIdConfigSchema.parse({ tenantId, clientId, acceptGraphTokens: true }), deps);
 * ```
 */
export function createEntraIdProvider(config: EntraIdConfig, deps: ProviderDeps, options: KeyFetchOptions = {}): JwksProvider {
  const { tenantId, clientId, clientSecret } = config;
  const audience = asList(config.audience ?? [clientId, `api://${clientId}`]);
  const limits = limitsOf(options);
  const mapping = compileMapping(config, ['tid', 'appid', 'ver']);
  const verifier = new JwksVerifier({
    deps,
    policy: Object.freeze({ issuers: entraIssuers(tenantId), audience, algorithms: ['RS256'], clockToleranceSeconds: config.clockSkewSeconds }),
    mapping,
    check: (payload) => (payload.tid === tenantId ? undefined : 'tenant not accepted'),
    jwksUri: `${LOGIN}/${tenantId}/discovery/v2.0/keys`,
    cacheSeconds: config.jwksCacheSeconds,
    cooldownSeconds: config.jwksCooldownSeconds,
    fetchOptions: options,
  });

  // Graph checks the signature; what it accepted we may then read. We bind it to our tenant and app.
  const validateGraphToken = opaqueValidator({
    deps,
    config,
    check: async (token) => {
      const payload: JWTPayload = decodeJwt(token);
      if (payload.tid !== tenantId) throw new TokenRejected('tenant not accepted');
      if (payload.appid !== clientId && payload.azp !== clientId) throw new TokenRejected('client not accepted');
      if (typeof payload.exp !== 'number' || payload.exp * 1000 <= deps.clock.now()) throw new TokenRejected('token expired');
      const me = asRecord(await getWithBearer(deps.fetch, GRAPH_ME, token, limits));
      if (me === undefined || typeof me.id !== 'string') throw new TokenRejected('token not accepted by the identity provider');
      const claims = {
        ...payload,
        preferred_username: payload.preferred_username ?? me.userPrincipalName,
        email: payload.email ?? me.mail ?? undefined,
      };
      const mapped = toIdentity(claims, mapping, deps.id);
      if (!mapped.ok) throw new TokenRejected(mapped.description);
      const { provider: _provider, ...identity } = mapped.identity;
      return { identity };
    },
  });
  const graphRefused: AuthResult = Object.freeze({ outcome: 'failure', code: 'invalid_token', description: 'audience not accepted' });
  const ownJwt = (token: string): Promise<AuthResult> | undefined => {
    if (!audiencesOf(token).some((a) => GRAPH_AUDIENCES.has(a))) return undefined;
    return config.acceptGraphTokens ? validateGraphToken(token) : Promise.resolve(graphRefused);
  };

  return new JwksProvider({
    id: deps.id,
    kind: 'entra-id',
    verifier,
    ownJwt,
    inspect: (token) => getWithBearer(deps.fetch, GRAPH_ME, token, limits),
    oauthClient: async () => ({
      authorizationEndpoint: `${LOGIN}/${tenantId}/oauth2/v2.0/authorize`,
      tokenEndpoint: `${LOGIN}/${tenantId}/oauth2/v2.0/token`,
      clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      clientAuth: config.clientAuth,
      scope: config.scope ?? `api://${clientId}/.default openid profile`,
    }),
  });
}

const entraIdPlugin: ProviderPlugin<EntraIdConfig> = {
  kind: 'entra-id',
  description: 'Microsoft Entra ID (Azure AD) v1/v2 tokens for our API by tenant JWKS; Microsoft Graph tokens via Graph /me',
  configSchema: entraIdConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => createEntraIdProvider(config, deps),
};

export default entraIdPlugin;

// The `okta` provider kind: access tokens of one Okta authorization server, by JWKS or by introspection.
import { z } from 'zod';
import type { ProviderDeps, ProviderPlugin, Provider } from '../../core/provider.js';
import {
  asList, asymmetricAlgorithm, claimPaths, clientAuth, clockSkewSeconds, hostName, jwksCacheSeconds,
  jwksCooldownSeconds, oneOrMore, requiredScopes, scopeString,
} from '../shared/config-fields.js';
import { compileMapping, toIdentity } from '../shared/identity-mapping.js';
import { getWithBearer, JwksProvider, limitsOf } from '../shared/jwks-provider.js';
import { bearerJwtOf, JwksVerifier, type KeyFetchOptions } from '../shared/jwt.js';
import { introspect } from '../shared/oauth-client.js';
import { opaqueValidator, TokenRejected } from '../shared/opaque.js';

export const oktaConfigSchema = z
  .strictObject({
    /** Okta org or custom domain: `dev-123456.okta.com`, `login.example.com`. */
    domain: hostName('domain'),
    /** Custom authorization server id; `default` is the one every org has. */
    authorizationServerId: z.string().regex(/^\w+$/, 'authorizationServerId must be an authorization server id').default('default'),
    /** The authorization server's audience (`api://default` for the default server). */
    audience: oneOrMore('audience'),
    /** `jwt`: verify locally against the server's keys; `introspection`: ask Okta per token (sees revocations; needs a client). */
    validation: z.enum(['jwt', 'introspection']).default('jwt'),
    /** Accepted `cid` (JWT) / `client_id` (introspection): the applications whose tokens are taken. */
    clientIds: z.array(z.string().min(1)).min(1, 'give at least one client id').optional(),
    algorithms: z.array(asymmetricAlgorithm).min(1, 'give at least one algorithm').default(['RS256']),
    clockSkewSeconds,
    usernameClaim: claimPaths.default('preferred_username'),
    emailClaim: claimPaths.default('email'),
    groupsClaim: claimPaths.default('groups'),
    requiredScopes,
    jwksCacheSeconds,
    jwksCooldownSeconds,
    /** For introspection and the fetch-token helper. */
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    clientAuth: clientAuth.default('basic'),
    scope: scopeString.default('openid profile email'),
  })
  .refine((c) => c.validation !== 'introspection' || (c.clientId !== undefined && c.clientSecret !== undefined), {
    path: ['clientSecret'],
    message: 'introspection needs clientId and clientSecret',
  });

export type OktaConfig = z.output<typeof oktaConfigSchema>;

export const oktaIssuer = (config: Pick<OktaConfig, 'domain' | 'authorizationServerId'>): string =>
  `https://${config.domain}/oauth2/${config.authorizationServerId}`;

const NOT_RESPONSIBLE = Object.freeze({ outcome: 'not_responsible' as const });

/**
 * Build an `okta` provider.
 * @example
 * ```ts
 * createOktaProvider(oktaConfigSchema.parse({ domain: 'dev-123.okta.com', audience: 'api://default' }), deps);
 * ```
 */
export function createOktaProvider(config: OktaConfig, deps: ProviderDeps, options: KeyFetchOptions = {}): Provider {
  const issuer = oktaIssuer(config);
  const base = `${issuer}/v1`;
  const limits = limitsOf(options);
  const audiences = new Set(asList(config.audience));
  const clients = config.clientIds === undefined ? undefined : new Set(config.clientIds);
  const mapping = compileMapping(config, ['cid', 'uid']);
  const { clientId, clientSecret } = config;
  const inspect = (token: string) => getWithBearer(deps.fetch, `${base}/userinfo`, token, limits);
  const oauthClient = clientId === undefined ? {} : {
    oauthClient: async () => ({
      authorizationEndpoint: `${base}/authorize`,
      tokenEndpoint: `${base}/token`,
      clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      clientAuth: config.clientAuth,
      scope: config.scope,
    }),
  };

  if (config.validation === 'introspection') {
    const client = { clientId: clientId!, clientSecret: clientSecret!, clientAuth: config.clientAuth };
    const issuers = new Set([issuer]);
    const validate = opaqueValidator({
      deps,
      config,
      check: async (token) => {
        const answer = await introspect(deps.fetch, `${base}/introspect`, client, token, limits);
        if (answer.iss !== undefined && answer.iss !== issuer) throw new TokenRejected('issuer not accepted');
        if (answer.token_type !== undefined && answer.token_type !== 'Bearer') throw new TokenRejected('token type not accepted');
        const aud = asList(answer.aud as string | string[] | undefined);
        if (!aud.some((a) => audiences.has(a))) throw new TokenRejected('audience not accepted');
        if (clients && !(typeof answer.client_id === 'string' && clients.has(answer.client_id))) throw new TokenRejected('client not accepted');
        const mapped = toIdentity(answer, mapping, deps.id);
        if (!mapped.ok) throw new TokenRejected(mapped.description);
        const { provider: _ignored, ...identity } = mapped.identity;
        return { identity };
      },
    });
    return {
      id: deps.id,
      kind: 'okta',
      issuers: Object.freeze([issuer]),
      status: () => ({ ready: true }),
      async authenticate(credential) {
        const token = bearerJwtOf(credential, issuers);
        return token === undefined ? NOT_RESPONSIBLE : validate(token);
      },
      inspect,
      ...oauthClient,
    };
  }

  const verifier = new JwksVerifier({
    deps,
    policy: Object.freeze({ issuers: [issuer], audience: [...audiences], algorithms: config.algorithms, clockToleranceSeconds: config.clockSkewSeconds }),
    mapping,
    ...(clients === undefined ? {} : { check: (payload) => (typeof payload.cid === 'string' && clients.has(payload.cid) ? undefined : 'client not accepted') }),
    jwksUri: `${base}/keys`,
    cacheSeconds: config.jwksCacheSeconds,
    cooldownSeconds: config.jwksCooldownSeconds,
    fetchOptions: options,
  });
  return new JwksProvider({ id: deps.id, kind: 'okta', verifier, inspect, ...oauthClient });
}

const oktaPlugin: ProviderPlugin<OktaConfig> = {
  kind: 'okta',
  description: 'Okta authorization server access tokens, verified by JWKS or RFC 7662 introspection',
  configSchema: oktaConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => createOktaProvider(config, deps),
};

export default oktaPlugin;

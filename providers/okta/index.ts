// The `okta` provider kind: access tokens of one Okta authorization server, by JWKS or by introspection.
import { z } from 'zod';
import {
  asList, bearerJwtOf, clientFields, compileMapping, createOpaqueProvider, defineProvider, endpointHelpers, fromMapping, hostName,
  introspect, jwtFields, limitsOf, oidcPreset, oneOrMore, refuse, toIdentity,
  type Endpoints, type KeyFetchOptions, type Provider, type ProviderDeps,
} from '../sdk/index.js';

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
    ...jwtFields({ algorithms: ['RS256'] }),
    /** For introspection and the fetch-token helper. */
    ...clientFields({ clientAuth: 'basic', scope: 'openid profile email' }),
  })
  .refine((c) => c.validation !== 'introspection' || (c.clientId !== undefined && c.clientSecret !== undefined), {
    path: ['clientSecret'],
    message: 'introspection needs clientId and clientSecret',
  });

export type OktaConfig = z.output<typeof oktaConfigSchema>;

export const oktaIssuer = (config: Pick<OktaConfig, 'domain' | 'authorizationServerId'>): string =>
  `https://${config.domain}/oauth2/${config.authorizationServerId}`;

/** Okta's endpoints under the authorization server. */
function oktaEndpoints(config: OktaConfig): Endpoints {
  const base = `${oktaIssuer(config)}/v1`;
  return { jwks: `${base}/keys`, userinfo: `${base}/userinfo`, authorization: `${base}/authorize`, token: `${base}/token` };
}

/** `validation: jwt`: the server's tokens verified against its keys, bound to the accepted client apps (`cid`). */
const oktaJwt = oidcPreset({
  kind: 'okta',
  description: 'Okta authorization server access tokens, verified by JWKS or RFC 7662 introspection',
  configSchema: oktaConfigSchema,
  issuer: oktaIssuer,
  endpoints: oktaEndpoints,
  keepClaims: ['cid', 'uid'],
  check: ({ clientIds }) => {
    const clients = clientIds === undefined ? undefined : new Set(clientIds);
    return (payload) => (clients === undefined || (typeof payload.cid === 'string' && clients.has(payload.cid)) ? undefined : 'client not accepted');
  },
});

/** `validation: introspection`: Okta asked about each token (it sees revocations), through the identity cache. */
function createOktaIntrospection(config: OktaConfig, deps: ProviderDeps, options: KeyFetchOptions): Provider {
  const issuer = oktaIssuer(config);
  const limits = limitsOf(options);
  const audiences = new Set(asList(config.audience));
  const clients = config.clientIds === undefined ? undefined : new Set(config.clientIds);
  const mapping = compileMapping(config, ['cid', 'uid']);
  // The schema requires clientId and clientSecret for introspection.
  const { clientId = '', clientSecret = '', clientAuth, scope } = config;
  const client = { clientId, clientSecret, clientAuth };
  const issuers = new Set([issuer]);
  return createOpaqueProvider('okta', config, deps, {
    owns: (credential) => bearerJwtOf(credential, issuers),
    issuers: [issuer],
    check: async (token) => {
      const asked = await introspect(deps, `${issuer}/v1/introspect`, client, token, limits);
      if (asked.outcome !== 'active') return asked;
      const { answer } = asked;
      if (answer.iss !== undefined && answer.iss !== issuer) return refuse('issuer not accepted');
      if (answer.token_type !== undefined && answer.token_type !== 'Bearer') return refuse('token type not accepted');
      if (!asList(answer.aud as string | string[] | undefined).some((a) => audiences.has(a))) return refuse('audience not accepted');
      if (clients && !(typeof answer.client_id === 'string' && clients.has(answer.client_id))) return refuse('client not accepted');
      return fromMapping(toIdentity(answer, mapping, deps.id));
    },
    ...endpointHelpers(oktaEndpoints(config), { clientId, clientSecret, clientAuth, scope }, deps, limits),
  });
}

/**
 * Build an `okta` provider.
 * @example
 * ```ts
 * createOktaProvider(oktaConfigSchema.parse({ domain: 'dev-123.okta.com', audience: 'api://default' }), deps);
 * ```
 */
export function createOktaProvider(config: OktaConfig, deps: ProviderDeps, options: KeyFetchOptions = {}): Provider {
  return config.validation === 'introspection' ? createOktaIntrospection(config, deps, options) : oktaJwt.create(config, deps, options);
}

export default defineProvider({ ...oktaJwt, create: createOktaProvider });

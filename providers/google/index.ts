// The `google` provider kind: Google ID tokens by JWKS and Google access tokens by tokeninfo, bound to our client id.
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { Credential } from '../../core/access.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import {
  asList, claimPaths, clockSkewSeconds, jwksCacheSeconds, jwksCooldownSeconds, oneOrMore, requiredScopes, scopeString,
} from '../shared/config-fields.js';
import { compileMapping, toIdentity } from '../shared/identity-mapping.js';
import { asRecord, getWithBearer, JwksProvider, limitsOf, type Limits } from '../shared/jwks-provider.js';
import { JwksVerifier, type KeyFetchOptions } from '../shared/jwt.js';
import { opaqueValidator, TokenRejected } from '../shared/opaque.js';

export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'] as const;
const JWKS_URI = 'https://www.googleapis.com/oauth2/v3/certs';
const TOKENINFO = 'https://oauth2.googleapis.com/tokeninfo';
const USERINFO = 'https://openidconnect.googleapis.com/v1/userinfo';
/** Google OAuth access tokens start with this; other opaque tokens are left to other providers. */
const ACCESS_TOKEN_PREFIX = 'ya29.';

export const googleConfigSchema = z.strictObject({
  /** Our OAuth client id (`…apps.googleusercontent.com`): tokens must be issued to it (`aud`, or `azp` for access tokens). */
  clientId: z.string().min(1),
  /** More client ids whose tokens are accepted (an Android or iOS client of the same app). */
  additionalClientIds: z.array(z.string().min(1)).optional(),
  /** Google Workspace domain(s) (`hd`); when set, consumer accounts and other domains are refused. */
  hostedDomain: oneOrMore('domain').optional(),
  /** Accept opaque access tokens (`ya29.…`) through tokeninfo, besides ID tokens. */
  accessTokens: z.boolean().default(true),
  usernameClaim: claimPaths.default('email'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.default('groups'),
  requiredScopes,
  clockSkewSeconds,
  jwksCacheSeconds,
  jwksCooldownSeconds,
  clientSecret: z.string().min(1).optional(),
  scope: scopeString.default('openid email profile'),
});

export type GoogleConfig = z.output<typeof googleConfigSchema>;

/** An email is an identity only when Google verified it (tokeninfo sends the flag as a string). */
function withVerifiedEmail(claims: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const { email, ...rest } = claims;
  return verified ? { ...rest, email } : rest;
}

/**
 * Build a `google` provider.
 * @example
 * ```ts
 * createGoogleProvider(googleConfigSchema.parse({ clientId: '123-abc.apps.googleusercontent.com', hostedDomain: 'example.com' }), deps);
 * ```
 */
export function createGoogleProvider(config: GoogleConfig, deps: ProviderDeps, options: KeyFetchOptions = {}): JwksProvider {
  const clients = [config.clientId, ...(config.additionalClientIds ?? [])];
  const clientSet = new Set(clients);
  const domains = config.hostedDomain === undefined ? undefined : new Set(asList(config.hostedDomain));
  const limits = limitsOf(options);
  const mapping = compileMapping(config, ['hd']);
  const hostedDomainRefusal = (hd: unknown) =>
    domains && !(typeof hd === 'string' && domains.has(hd)) ? 'hosted domain not accepted' : undefined;

  const verifier = new JwksVerifier({
    deps,
    policy: Object.freeze({ issuers: [...GOOGLE_ISSUERS], audience: clients, algorithms: ['RS256'], clockToleranceSeconds: config.clockSkewSeconds }),
    mapping,
    check: (payload: JWTPayload) => hostedDomainRefusal(payload.hd),
    claims: withVerifiedEmail,
    jwksUri: JWKS_URI,
    cacheSeconds: config.jwksCacheSeconds,
    cooldownSeconds: config.jwksCooldownSeconds,
    fetchOptions: options,
  });

  const validateAccessToken = opaqueValidator({
    deps,
    config,
    check: async (token) => {
      const info = await tokeninfo(deps, 'access_token', token, limits);
      if (!clientSet.has(info.aud as string) && !clientSet.has(info.azp as string)) throw new TokenRejected('audience not accepted');
      let hd: unknown;
      if (domains) {
        // tokeninfo does not say which Workspace the account belongs to; userinfo does.
        hd = asRecord(await getWithBearer(deps.fetch, USERINFO, token, limits))?.hd;
        const refusal = hostedDomainRefusal(hd);
        if (refusal !== undefined) throw new TokenRejected(refusal);
      }
      const exp = Number(info.exp ?? NaN);
      const expiresIn = Number(info.expires_in ?? NaN);
      const claims = withVerifiedEmail({
        ...info,
        ...(hd === undefined ? {} : { hd }),
        exp: Number.isFinite(exp) ? exp : Number.isFinite(expiresIn) ? Math.floor(deps.clock.now() / 1000) + expiresIn : undefined,
      });
      const mapped = toIdentity(claims, mapping, deps.id);
      if (!mapped.ok) throw new TokenRejected(mapped.description);
      const { provider: _provider, ...identity } = mapped.identity;
      return { identity };
    },
  });
  const other = async (credential: Credential): Promise<AuthResult> =>
    config.accessTokens && credential.scheme === 'bearer' && credential.secret.startsWith(ACCESS_TOKEN_PREFIX)
      ? validateAccessToken(credential.secret)
      : { outcome: 'not_responsible' };

  const { clientSecret } = config;
  return new JwksProvider({
    id: deps.id,
    kind: 'google',
    verifier,
    other,
    inspect: (token) => tokeninfo(deps, token.startsWith(ACCESS_TOKEN_PREFIX) ? 'access_token' : 'id_token', token, limits),
    oauthClient: async () => ({
      authorizationEndpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
      tokenEndpoint: 'https://oauth2.googleapis.com/token',
      clientId: config.clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      clientAuth: 'basic',
      scope: config.scope,
    }),
  });
}

/** POST the token in a form, so it never appears in a URL (and so in no access log). */
async function tokeninfo(deps: ProviderDeps, kind: 'access_token' | 'id_token', token: string, limits: Limits): Promise<Record<string, unknown>> {
  const answer = await fetchJson(deps.fetch, TOKENINFO, {
    ...limits,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ [kind]: token }),
  });
  const record = asRecord(answer);
  if (record === undefined) throw new TokenRejected('token not accepted by the identity provider');
  return record;
}

const googlePlugin: ProviderPlugin<GoogleConfig> = {
  kind: 'google',
  description: 'Google ID tokens (JWKS) and access tokens (tokeninfo), bound to the OAuth client id, optional Workspace domain',
  configSchema: googleConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => createGoogleProvider(config, deps),
};

export default googlePlugin;

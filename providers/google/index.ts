// The `google` provider kind: Google ID tokens by JWKS and Google access tokens by tokeninfo, bound to our client id.
import { z } from 'zod';
import {
  asList, asObject, asRecord, claimPaths, clockSkewSeconds, compileMapping, fetchJson, fromMapping, getWithBearer, jwksCacheSeconds,
  jwksCooldownSeconds, oidcPreset, oneOrMore, opaqueValidator, refuse, requiredScopes, scopeString, toIdentity,
  type ExtensionContext, type Judge, type Limits, type ProviderDeps,
} from '../sdk/index.js';

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

/** The Workspace domain check, or none when no `hostedDomain` is configured. */
function hostedDomainRefusal(config: GoogleConfig): (hd: unknown) => string | undefined {
  const domains = config.hostedDomain === undefined ? undefined : new Set(asList(config.hostedDomain));
  return (hd) => (domains && !(typeof hd === 'string' && domains.has(hd)) ? 'hosted domain not accepted' : undefined);
}

/** Opaque access tokens (`ya29.…`), asked at tokeninfo and bound to our client ids. */
function accessTokens(config: GoogleConfig, { deps, limits }: ExtensionContext): Judge {
  const clients = new Set([config.clientId, ...(config.additionalClientIds ?? [])]);
  const refusal = hostedDomainRefusal(config);
  const mapping = compileMapping(config, ['hd']);
  const validate = opaqueValidator({
    deps,
    config,
    check: async (token) => {
      const info = await tokeninfo(deps, 'access_token', token, limits);
      if (info === undefined) return refuse('token not accepted by the identity provider');
      if (!clients.has(info.aud as string) && !clients.has(info.azp as string)) return refuse('audience not accepted');
      let hd: unknown;
      if (config.hostedDomain !== undefined) {
        // tokeninfo does not say which Workspace the account belongs to; userinfo does.
        hd = asRecord(await getWithBearer(deps.fetch, USERINFO, token, limits))?.hd;
        const refused = refusal(hd);
        if (refused !== undefined) return refuse(refused);
      }
      const exp = Number(info.exp ?? NaN);
      const expiresIn = Number(info.expires_in ?? NaN);
      const claims = withVerifiedEmail({
        ...info,
        ...(hd === undefined ? {} : { hd }),
        exp: Number.isFinite(exp) ? exp : Number.isFinite(expiresIn) ? Math.floor(deps.clock.now() / 1000) + expiresIn : undefined,
      });
      return fromMapping(toIdentity(claims, mapping, deps.id));
    },
  });
  return (credential) =>
    config.accessTokens && credential.scheme === 'bearer' && credential.secret.startsWith(ACCESS_TOKEN_PREFIX) ? validate(credential.secret) : undefined;
}

/** POST the token in a form, so it never appears in a URL (and so in no access log); undefined when the answer is no object. */
async function tokeninfo(
  deps: ProviderDeps,
  kind: 'access_token' | 'id_token',
  token: string,
  limits: Limits,
): Promise<Record<string, unknown> | undefined> {
  const answer = await fetchJson(deps.fetch, TOKENINFO, {
    ...limits,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ [kind]: token }),
  });
  return asRecord(answer);
}

/** The `google` plugin: Google's issuers and keys, ID tokens for our client ids, access tokens by tokeninfo. */
const googlePlugin = oidcPreset({
  kind: 'google',
  description: 'Google ID tokens (JWKS) and access tokens (tokeninfo), bound to the OAuth client id, optional Workspace domain',
  configSchema: googleConfigSchema,
  issuer: () => GOOGLE_ISSUERS,
  endpoints: () => ({ jwks: JWKS_URI, authorization: 'https://accounts.google.com/o/oauth2/v2/auth', token: 'https://oauth2.googleapis.com/token' }),
  audience: (config) => [config.clientId, ...(config.additionalClientIds ?? [])],
  keepClaims: ['hd'],
  check: (config) => {
    const refusal = hostedDomainRefusal(config);
    return (payload) => refusal(payload.hd);
  },
  readClaims: withVerifiedEmail,
  extend: (config, context) => ({
    after: accessTokens(config, context),
    inspect: async (token) =>
      asObject(await tokeninfo(context.deps, token.startsWith(ACCESS_TOKEN_PREFIX) ? 'access_token' : 'id_token', token, context.limits), 'POST tokeninfo'),
  }),
});

/**
 * Build a `google` provider.
 * @example
 * ```ts
 * createGoogleProvider(googleConfigSchema.parse({ clientId: '123-abc.apps.googleusercontent.com', hostedDomain: 'example.com' }), deps);
 * ```
 */
export const createGoogleProvider = googlePlugin.create;

export default googlePlugin;

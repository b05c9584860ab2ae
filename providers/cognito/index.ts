// The `cognito` provider kind: access and ID tokens of one Amazon Cognito user pool, bound to our app client.
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import {
  claimPaths, clientAuth, clockSkewSeconds, compileMapping, hostName, jwksCacheSeconds, jwksCooldownSeconds, oidcPreset,
  requiredScopes, scopeString, type ClaimCheck, type ClaimMapping,
} from '../sdk/index.js';

export const cognitoConfigSchema = z
  .strictObject({
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d$/, 'region must be an AWS region like eu-west-1'),
    userPoolId: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+$/, 'userPoolId must look like eu-west-1_AbC123xyz'),
    /** Our app client: access tokens must carry it in `client_id`, ID tokens in `aud`. */
    clientId: z.string().regex(/^[\w+]+$/, 'clientId must be an app client id'),
    /** Which tokens are accepted: Cognito's `token_use` claim. */
    tokenUse: z.array(z.enum(['access', 'id'])).min(1, 'accept at least one token use').default(['access']),
    /** Default: `username` for access tokens, `cognito:username` for ID tokens. */
    usernameClaim: claimPaths.optional(),
    emailClaim: claimPaths.default('email'),
    groupsClaim: claimPaths.default('cognito:groups'),
    requiredScopes,
    clockSkewSeconds,
    jwksCacheSeconds,
    jwksCooldownSeconds,
    /** Hosted UI domain (`auth.example.com` or `<prefix>.auth.<region>.amazoncognito.com`): enables userinfo and the fetch-token helper. */
    domain: hostName('domain').optional(),
    clientSecret: z.string().min(1).optional(),
    clientAuth: clientAuth.default('basic'),
    scope: scopeString.default('openid email profile'),
  })
  .refine((c) => c.userPoolId.startsWith(`${c.region}_`), { path: ['userPoolId'], message: 'userPoolId belongs to another region' });

export type CognitoConfig = z.output<typeof cognitoConfigSchema>;

export const cognitoIssuer = (config: Pick<CognitoConfig, 'region' | 'userPoolId'>): string =>
  `https://cognito-idp.${config.region}.amazonaws.com/${config.userPoolId}`;

/** Cognito-specific checks: the token's use, and the app client it was issued to. */
function checkFor(config: CognitoConfig): ClaimCheck {
  const accepted = new Set<unknown>(config.tokenUse);
  return (payload) => {
    if (!accepted.has(payload.token_use)) return 'token use not accepted';
    if (payload.token_use === 'access') return payload.client_id === config.clientId ? undefined : 'client not accepted';
    const aud = payload.aud;
    return aud === config.clientId || (Array.isArray(aud) && aud.includes(config.clientId)) ? undefined : 'audience not accepted';
  };
}

/** Access and ID tokens name the user differently: one mapping each, chosen by `token_use`. */
function mappingFor(config: CognitoConfig): (payload: JWTPayload) => ClaimMapping {
  const access = compileMapping({ ...config, usernameClaim: config.usernameClaim ?? 'username' }, ['token_use']);
  const id = compileMapping({ ...config, usernameClaim: config.usernameClaim ?? 'cognito:username' }, ['token_use']);
  return (payload) => (payload.token_use === 'id' ? id : access);
}

/** The `cognito` plugin: the pool's issuer and keys; userinfo and the fetch-token helper when a hosted UI domain is set. */
const cognitoPlugin = oidcPreset({
  kind: 'cognito',
  description: 'Amazon Cognito user pool access/ID tokens verified against the pool JWKS, bound to the app client',
  configSchema: cognitoConfigSchema,
  issuer: cognitoIssuer,
  endpoints: (config) => ({
    jwks: `${cognitoIssuer(config)}/.well-known/jwks.json`,
    ...(config.domain === undefined
      ? {}
      : { userinfo: `https://${config.domain}/oauth2/userInfo`, authorization: `https://${config.domain}/oauth2/authorize`, token: `https://${config.domain}/oauth2/token` }),
  }),
  // No audience: Cognito access tokens have none; `check` binds both kinds of token to our client.
  audience: () => undefined,
  requiredClaims: ['exp', 'sub', 'token_use'],
  mapping: mappingFor,
  check: checkFor,
});

/**
 * Build a `cognito` provider.
 * @example
 * ```ts
 * createCognitoProvider(cognitoConfigSchema.parse({ region: 'eu-west-1', userPoolId: 'eu-west-1_AbC', clientId: '1h57kf5cpq17m0eml12EXAMPLE' }), deps);
 * ```
 */
export const createCognitoProvider = cognitoPlugin.create;

export default cognitoPlugin;

// Configuration of the `oidc` provider kind: what an admin may set, checked once when configured.
import { z } from 'zod';
import { isClaimPath } from '../../core/claims.js';

/** Asymmetric JWS algorithms only: a shared secret (HS*) or `none` can never verify an IdP token. */
export const OIDC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http on a loopback host (local development and end-to-end tests). */
export function isAcceptableEndpoint(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
}

const endpoint = (what: string) =>
  z.string().refine(isAcceptableEndpoint, {
    message: `${what} must be an https URL (http only on 127.0.0.1, localhost or [::1]), without credentials`,
  });

const claimPath = z.string().refine(isClaimPath, { message: 'must be a claim path like "a.b.c" without empty segments' });

const algorithm = z.string().superRefine((alg, ctx) => {
  if ((OIDC_ALGORITHMS as readonly string[]).includes(alg)) return;
  const why = /^none$/i.test(alg)
    ? "'none' (unsigned tokens) is never accepted"
    : /^HS\d+$/i.test(alg)
      ? `'${alg}' is symmetric (a shared secret) and cannot verify provider tokens`
      : `'${alg}' is not a supported algorithm`;
  ctx.addIssue({ code: 'custom', message: `${why}; use one of ${OIDC_ALGORITHMS.join(', ')}` });
});

export const oidcConfigSchema = z.strictObject({
  /** Exact `iss` value of the tokens; also the base of OpenID discovery. */
  issuer: endpoint('issuer').refine((v) => !/[?#]/.test(v), { message: 'issuer must not have a query or fragment' }),
  /** Accepted `aud` value(s): tokens minted for another client are refused. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1, 'give at least one audience')]),
  /** Signing keys; when absent, read from `${issuer}/.well-known/openid-configuration`. */
  jwksUri: endpoint('jwksUri').optional(),
  algorithms: z.array(algorithm).min(1, 'give at least one algorithm').default(['RS256', 'ES256']),
  clockSkewSeconds: z.number().int().min(0).max(600).default(60),
  /** Dot path; when the claim is absent the username is `sub`. */
  usernameClaim: claimPath.default('preferred_username'),
  emailClaim: claimPath.default('email'),
  /** Dot path to a string (one group) or an array of strings. */
  groupsClaim: claimPath.default('groups'),
  /** Scopes every token must carry (`scope` string or `scp` array). */
  requiredScopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a single scope token')).optional(),
  jwksCacheSeconds: z.number().int().min(10).max(86_400).default(600),
  /** Least time between two key fetches caused by tokens with unknown key ids. */
  jwksCooldownSeconds: z.number().int().min(1).max(3_600).default(30),
});

/** A validated `oidc` configuration (defaults applied). */
export type OidcConfig = z.output<typeof oidcConfigSchema>;

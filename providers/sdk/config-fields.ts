// Schema pieces every provider kind's configuration shares: endpoint URLs, claim paths, algorithms, client fields.
import { z } from 'zod';
import { isClaimPath } from '../../core/claims.js';

/** Asymmetric JWS algorithms: what a provider's published keys can verify. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
] as const;
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

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

/** A URL field accepted by {@link isAcceptableEndpoint}. */
export const endpoint = (what: string) =>
  z.string().refine(isAcceptableEndpoint, {
    message: `${what} must be an https URL (http only on 127.0.0.1, localhost or [::1]), without credentials`,
  });

/** An issuer: an acceptable endpoint without query or fragment. */
export const issuerUrl = (what = 'issuer') =>
  endpoint(what).refine((v) => !/[?#]/.test(v), { message: `${what} must not have a query or fragment` });

/** A bare DNS host name (`dev-123.okta.com`), no scheme, port or path. */
export const hostName = (what: string) =>
  z.string().regex(/^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i, {
    message: `${what} must be a host name like login.example.com, without scheme or path`,
  });

export const claimPath = z.string().refine(isClaimPath, { message: 'must be a claim path like "a.b.c" without empty segments' });

/** One claim path or several: for the username and email the first present wins, groups are merged. */
export const claimPaths = z.union([claimPath, z.array(claimPath).min(1, 'give at least one claim path')]);

/** One value or a non-empty list of non-empty strings (audiences, client ids). */
export const oneOrMore = (what: string) =>
  z.union([z.string().min(1), z.array(z.string().min(1)).min(1, `give at least one ${what}`)]);

/** An asymmetric algorithm name; `none` and HS* get a message saying why. */
export const asymmetricAlgorithm = z.string().superRefine((alg, ctx) => {
  if ((ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) return;
  const why = /^none$/i.test(alg)
    ? "'none' (unsigned tokens) is never accepted"
    : /^HS\d+$/i.test(alg)
      ? `'${alg}' is symmetric (a shared secret) and cannot verify provider tokens`
      : `'${alg}' is not a supported algorithm`;
  ctx.addIssue({ code: 'custom', message: `${why}; use one of ${ASYMMETRIC_ALGORITHMS.join(', ')}` });
});

export const clockSkewSeconds = z.number().int().min(0).max(600).default(60);
export const jwksCacheSeconds = z.number().int().min(10).max(86_400).default(600);
export const jwksCooldownSeconds = z.number().int().min(1).max(3_600).default(30);

/** Scopes every token must carry. */
export const requiredScopes = z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a single scope token')).optional();

/** RFC 6749 §2.3.1 client authentication at the token/introspection endpoints. */
export const clientAuth = z.enum(['basic', 'body']);

/** Space-separated scopes requested by the admin's fetch-token helper. */
export const scopeString = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'must be space-separated scope tokens');

/** Optional OAuth client fields for the admin's fetch-token helper (endpoints come from discovery). */
export const oidcClientFields = {
  clientId: z.string().min(1).optional(),
  /** Secret field: encrypted at rest, masked in answers. */
  clientSecret: z.string().min(1).optional(),
  /** How the client authenticates at the token endpoint (default `basic`). */
  clientAuth: clientAuth.optional(),
  /** Scopes the fetch-token helper requests (default `openid profile email`). */
  scope: scopeString.optional(),
};

/**
 * The verification and claim fields of a JWT kind, in this order and named as in the `oidc` kind;
 * the kind chooses its default algorithms and groups claim.
 * @example
 * ```ts
 * z.strictObject({ tenant: z.string(), audience: oneOrMore('audience'), ...jwtFields({ algorithms: ['RS256'] }) });
 * ```
 */
export function jwtFields(defaults: { readonly algorithms: readonly AsymmetricAlgorithm[]; readonly groupsClaim?: string | string[] }) {
  return {
    algorithms: z.array(asymmetricAlgorithm).min(1, 'give at least one algorithm').default([...defaults.algorithms]),
    clockSkewSeconds,
    /** Dot path(s); when no claim is present the username is `sub`. */
    usernameClaim: claimPaths.default('preferred_username'),
    emailClaim: claimPaths.default('email'),
    /** Dot path(s) to a string (one group) or an array of strings; several paths are merged. */
    groupsClaim: claimPaths.default(defaults.groupsClaim ?? 'groups'),
    /** Scopes every token must carry (`scope` string or `scp` array). */
    requiredScopes,
    jwksCacheSeconds,
    /** Least time between two key fetches caused by tokens with unknown key ids. */
    jwksCooldownSeconds,
  };
}

/** OAuth client fields for the admin's fetch-token helper, with the kind's defaults (endpoints come from the kind). */
export const clientFields = (defaults: { readonly clientAuth: 'basic' | 'body'; readonly scope: string }) => ({
  clientId: z.string().min(1).optional(),
  /** Secret field: encrypted at rest, masked in answers. */
  clientSecret: z.string().min(1).optional(),
  clientAuth: clientAuth.default(defaults.clientAuth),
  scope: scopeString.default(defaults.scope),
});

/** Per-call timeout of outbound calls, in ms. */
export const timeoutField = z.number().int().min(10).max(60_000).default(5_000);

/** A secret config field (list it in the plugin's `secretFields`). */
export const secretField = z.string().min(1, 'must not be empty');

/** A list of one value or the value itself, as a readonly array. */
export function asList<T>(value: T | readonly T[] | undefined): readonly T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

// Turn a verified token's claims (or a provider's answer about a token) into an Identity, following configured claim paths.
import type { Identity } from '../../core/access.js';
import { claimString, claimStrings, compileClaimPath, scopesOf, type ClaimPath } from '../../core/claims.js';
import { asList } from './config-fields.js';

/** Claims copied into `Identity.claims` by default: enough for policies and the test helper, nothing personal. */
export const SELECTED_CLAIMS = ['iss', 'aud', 'azp', 'client_id', 'sub'] as const;

/** The admin-facing mapping fields (the `oidc` naming), as validated configuration holds them. */
export interface MappingConfig {
  /** First present path wins; the username is `sub` when none is. */
  readonly usernameClaim: string | readonly string[];
  /** First present path wins. */
  readonly emailClaim: string | readonly string[];
  /** Every path contributes; duplicates removed. */
  readonly groupsClaim: string | readonly string[];
  /** Scopes every token must carry. */
  readonly requiredScopes?: readonly string[] | undefined;
  /** Stripped from the start of the username when present (`CORP\`). */
  readonly usernamePrefix?: string | undefined;
}

/** Claim paths compiled once per configuration. */
export interface ClaimMapping {
  readonly username: readonly ClaimPath[];
  readonly email: readonly ClaimPath[];
  readonly groups: readonly ClaimPath[];
  readonly requiredScopes: readonly string[];
  readonly usernamePrefix: string | undefined;
  readonly selectedClaims: readonly string[];
}

export type MappingOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly description: string };

/** Compile the mapping; `extraClaims` are copied into `Identity.claims` besides {@link SELECTED_CLAIMS}. */
export function compileMapping(config: MappingConfig, extraClaims: readonly string[] = []): ClaimMapping {
  const compile = (paths: string | readonly string[]) => Object.freeze(asList(paths).map(compileClaimPath));
  return Object.freeze({
    username: compile(config.usernameClaim),
    email: compile(config.emailClaim),
    groups: compile(config.groupsClaim),
    requiredScopes: Object.freeze([...(config.requiredScopes ?? [])]),
    usernamePrefix: config.usernamePrefix === '' ? undefined : config.usernamePrefix,
    selectedClaims: Object.freeze([...new Set([...SELECTED_CLAIMS, ...extraClaims])]),
  });
}

function first(paths: readonly ClaimPath[], claims: Readonly<Record<string, unknown>>): string | undefined {
  for (const path of paths) {
    const value = claimString(path(claims));
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Map claims to an identity. `sub` must be a non-empty string; `exp` (seconds) becomes `expiresAt`.
 *
 * @example
 * ```ts
 * const mapping = compileMapping({ usernameClaim: 'preferred_username', emailClaim: 'email', groupsClaim: ['groups', 'roles'] });
 * toIdentity({ sub: 'u1', preferred_username: 'alice', roles: ['admin'] }, mapping, 'corp');
 * // { ok: true, identity: { subject: 'u1', username: 'alice', groups: ['admin'], ... } }
 * ```
 */
export function toIdentity(claims: Readonly<Record<string, unknown>>, mapping: ClaimMapping, providerId: string): MappingOutcome {
  const subject = claimString(claims.sub);
  if (subject === undefined) return { ok: false, description: 'malformed token' };
  const scopes = scopesOf(claims);
  if (!mapping.requiredScopes.every((s) => scopes.includes(s))) {
    return { ok: false, description: 'required scope missing' };
  }
  let username = first(mapping.username, claims) ?? subject;
  const prefix = mapping.usernamePrefix;
  if (prefix !== undefined && username.length > prefix.length && username.startsWith(prefix)) username = username.slice(prefix.length);
  const email = first(mapping.email, claims);
  const tokenId = claimString(claims.jti);
  const selected: Record<string, unknown> = {};
  for (const name of mapping.selectedClaims) if (Object.hasOwn(claims, name) && claims[name] !== undefined) selected[name] = claims[name];
  const identity: Identity = {
    subject,
    username,
    ...(email === undefined ? {} : { email }),
    groups: [...new Set(mapping.groups.flatMap((path) => claimStrings(path(claims))))],
    provider: providerId,
    ...(tokenId === undefined ? {} : { tokenId }),
    scopes,
    ...(typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? { expiresAt: claims.exp * 1000 } : {}),
    claims: selected,
  };
  return { ok: true, identity };
}

// Turn a verified token's claims into an Identity, following the configured claim paths.
import type { JWTPayload } from 'jose';
import type { Identity } from '../../core/access.js';
import { claimString, claimStrings, compileClaimPath, scopesOf, type ClaimPath } from '../../core/claims.js';
import type { OidcConfig } from './config.js';

/** Claims copied into `Identity.claims`: enough for policies and the test helper, nothing personal. */
const SELECTED_CLAIMS = ['iss', 'aud', 'azp', 'client_id', 'sub'] as const;

export type MappingOutcome =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly description: string };

/** Claim paths compiled once per configuration. */
export interface ClaimMapping {
  readonly username: ClaimPath;
  readonly email: ClaimPath;
  readonly groups: ClaimPath;
  readonly requiredScopes: readonly string[];
}

export function compileMapping(config: OidcConfig): ClaimMapping {
  return {
    username: compileClaimPath(config.usernameClaim),
    email: compileClaimPath(config.emailClaim),
    groups: compileClaimPath(config.groupsClaim),
    requiredScopes: config.requiredScopes ?? [],
  };
}

export function toIdentity(payload: JWTPayload, mapping: ClaimMapping, providerId: string): MappingOutcome {
  const subject = claimString(payload.sub);
  if (subject === undefined) return { ok: false, description: 'malformed token' };
  const scopes = scopesOf(payload);
  if (!mapping.requiredScopes.every((s) => scopes.includes(s))) {
    return { ok: false, description: 'required scope missing' };
  }
  const email = claimString(mapping.email(payload));
  const tokenId = claimString(payload.jti);
  const claims: Record<string, unknown> = {};
  for (const name of SELECTED_CLAIMS) if (payload[name] !== undefined) claims[name] = payload[name];
  const identity: Identity = {
    subject,
    username: claimString(mapping.username(payload)) ?? subject,
    ...(email === undefined ? {} : { email }),
    groups: [...new Set(claimStrings(mapping.groups(payload)))],
    provider: providerId,
    ...(tokenId === undefined ? {} : { tokenId }),
    scopes,
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
    claims,
  };
  return { ok: true, identity };
}

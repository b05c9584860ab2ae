// Gateway token check: checksum first (no lookup for a typo), then one hash and one map lookup, then revocation, expiry and owner.
import { deny, type Credential, type Identity, type Verdict } from '../core/access.js';
import { hashToken, isWellFormedToken } from '../core/tokens/format.js';
import type { TokenRecord } from '../core/tokens/token-index.js';
import { GATEWAY_PROVIDER } from '../core/tokens/usage.js';

/** The token index as the gateway reads it: live, so a revocation counts from the next request. */
export interface TokenLookup {
  findByHash(hash: string): TokenRecord | undefined;
}

export const noTokens: TokenLookup = { findByHash: () => undefined };

export type TokenCheck =
  | { readonly ok: true; readonly identity: Identity; readonly record: TokenRecord }
  | { readonly ok: false; readonly verdict: Verdict };

export type GatewayTokenCheck = (credential: Credential, now: number) => TokenCheck;

const refuse = (reason: string, description: string): TokenCheck => ({ ok: false, verdict: deny(401, reason, description, { challenge: true }) });

export function gatewayTokenCheck(lookup: TokenLookup): GatewayTokenCheck {
  const malformed = refuse('invalid_token', 'not a valid gateway token (wrong length or checksum)');
  const unknown = refuse('invalid_token', 'unknown gateway token');
  const revoked = refuse('token_revoked', 'the gateway token was revoked');
  const expired = refuse('token_expired', 'the gateway token has expired');
  const wrongOwner = refuse('token_owner_mismatch', 'the Basic user name is not the owner of this gateway token');
  // Records are replaced (not changed) when revoked, so an identity built once per record stays right.
  const identities = new WeakMap<TokenRecord, Identity>();
  const identityOf = (record: TokenRecord): Identity => {
    let identity = identities.get(record);
    if (!identity) {
      identity = {
        subject: record.owner,
        username: record.owner,
        groups: record.groups,
        provider: GATEWAY_PROVIDER,
        tokenId: record.id,
        scopes: [],
        ...(record.expiresAt !== null ? { expiresAt: record.expiresAt } : {}),
      };
      identities.set(record, identity);
    }
    return identity;
  };

  return (credential, now) => {
    if (!isWellFormedToken(credential.secret)) return malformed;
    const record = lookup.findByHash(hashToken(credential.secret));
    if (!record) return unknown;
    if (record.revokedAt !== undefined) return revoked;
    if (record.expiresAt !== null && record.expiresAt <= now) return expired;
    if (credential.scheme === 'basic' && credential.username !== record.owner) return wrongOwner;
    return { ok: true, identity: identityOf(record), record };
  };
}

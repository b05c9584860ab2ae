// Credential toggles (settings `credentials`): who judges a credential — the token index, the providers, the upstream — or nobody.
import { deny, type Credential, type Verdict } from '../core/access.js';
import type { CredentialSettings } from '../core/settings/schema.js';
import { hasTokenPrefix } from '../core/tokens/format.js';

/**
 * - `gateway_token`: the token index judges it (policies/gateway-token.ts);
 * - `providers`: the configured providers judge it;
 * - `pass_through`: nobody here; it goes to the upstream untouched;
 * - `refuse`: a toggle forbids it.
 */
export type CredentialRoute =
  | { readonly to: 'gateway_token' }
  | { readonly to: 'providers' }
  | { readonly to: 'pass_through'; readonly kind: 'basic' | 'pat' }
  | { readonly to: 'refuse'; readonly verdict: Verdict };

export type CredentialToggles = (credential: Credential) => CredentialRoute;

/** Everything to the providers: the behaviour without a `credentials` slice (stage unit tests). */
export const providersOnly: CredentialToggles = () => ({ to: 'providers' });

/** Compile the toggles once per settings change: the PAT pattern becomes an anchored RegExp here, not per request. */
export function compileCredentialToggles(settings: CredentialSettings): CredentialToggles {
  const pat = settings.pat.pattern === null ? undefined : new RegExp(`^(?:${settings.pat.pattern})$`);
  const gateway: CredentialRoute = { to: 'gateway_token' };
  const providers: CredentialRoute = { to: 'providers' };
  const refuse = (status: number, reason: string, description: string): CredentialRoute => ({
    to: 'refuse',
    verdict: deny(status, reason, description, { challenge: true }),
  });
  const tokensOff = refuse(401, 'gateway_tokens_disabled', 'gateway tokens are switched off on this gateway');
  const basicOff = refuse(401, 'basic_auth_disabled', 'Basic authentication is disabled on this gateway');
  const basicNeedsToken = refuse(401, 'invalid_token', 'Basic credentials are accepted only with a gateway token as the password');
  const patRefused = refuse(401, 'pat_not_allowed', 'personal access tokens of the upstream are not accepted on this gateway');
  const basicPass: CredentialRoute = { to: 'pass_through', kind: 'basic' };
  const patPass: CredentialRoute = { to: 'pass_through', kind: 'pat' };
  const token = settings.gatewayTokens ? gateway : tokensOff;

  return (credential) => {
    switch (credential.scheme) {
      case 'api_key':
        // The API-key header exists for gateway tokens only; anything else in it is an invalid token.
        return token;
      case 'basic':
        if (settings.basic === 'deny') return basicOff;
        if (hasTokenPrefix(credential.secret)) return token;
        return settings.basic === 'allow' ? basicPass : basicNeedsToken;
      case 'bearer':
        if (hasTokenPrefix(credential.secret)) return token;
        if (pat?.test(credential.secret)) return settings.pat.allow ? patPass : patRefused;
        return providers;
    }
  };
}

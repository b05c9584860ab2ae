// Authenticate: route the credential (settings `credentials`) to the token index, the providers or the upstream, and establish the identity.
import { deny, type Verdict } from '../core/access.js';
import { unverifiedIssuer } from '../core/jwt.js';
import type { Logger } from '../core/logger.js';
import type { Stage } from '../core/pipeline.js';
import type { AuthResult, Provider } from '../core/provider.js';
import { providersOnly, type CredentialToggles } from './credentials.js';
import type { GatewayTokenCheck } from './gateway-token.js';

export interface AuthenticateConfig {
  /** Enabled providers in their configured order. */
  readonly providers: readonly Provider[];
  /**
   * The credential toggles, compiled (policies/credentials.ts). They decide before any provider
   * is asked, so a PAT or an upstream password is never sent to an identity provider.
   * Default: every credential goes to the providers.
   */
  readonly credentials?: CredentialToggles;
  /** Judges gateway tokens (policies/gateway-token.ts); without it they are refused as unknown. */
  readonly gatewayTokens?: GatewayTokenCheck;
}

export interface AuthenticateDeps {
  readonly logger: Logger;
}

export function authenticate(config: AuthenticateConfig, deps: AuthenticateDeps): Stage {
  // Routing tables fixed at compile time: issuer -> providers, and the providers that take any credential.
  const byIssuer = new Map<string, Provider[]>();
  const general: Provider[] = [];
  for (const provider of config.providers) {
    if (!provider.issuers?.length) general.push(provider);
    for (const iss of provider.issuers ?? []) byIssuer.set(iss, [...(byIssuer.get(iss) ?? []), provider]);
  }

  const missing = deny(401, 'missing_credential', 'this API requires authentication', { challenge: true });
  const unknownIssuer = deny(401, 'invalid_token', 'token issuer not accepted', { challenge: true });
  const nobody = deny(401, 'invalid_token', 'no provider accepts this credential', { challenge: true });
  const unknownToken = deny(401, 'invalid_token', 'unknown gateway token', { challenge: true });
  const route = config.credentials ?? providersOnly;

  const ask = async (provider: Provider, request: Parameters<Stage['run']>[0]): Promise<AuthResult> => {
    try {
      return await provider.authenticate(request.credential!);
    } catch (err) {
      deps.logger.error({ err, provider: provider.id, requestId: request.id }, 'provider failed unexpectedly');
      return { outcome: 'failure', code: 'provider_unavailable', description: 'the identity provider failed' };
    }
  };

  return {
    name: 'authenticate',
    async run(request, state, next): Promise<Verdict> {
      if (request.credentialError) {
        return deny(400, 'invalid_request', request.credentialError, { challenge: true });
      }
      const credential = request.credential;
      // Public paths and anonymous routes (marked by the paths stage) let callers without a credential through.
      if (!credential) return state.anonymousAllowed ? next('anonymous') : missing;

      const routed = route(credential);
      if (routed.to === 'refuse') return routed.verdict;
      if (routed.to === 'pass_through') {
        state.passThrough = routed.kind;
        return next(`${routed.kind} pass-through`);
      }
      if (routed.to === 'gateway_token') {
        const checked = config.gatewayTokens?.(credential, request.time);
        if (!checked) return unknownToken;
        if (!checked.ok) return checked.verdict;
        state.identity = checked.identity;
        state.token = checked.record;
        state.credentialConsumed = true;
        return next('provider=gateway');
      }

      // A JWT goes to the providers of its issuer, then to those that judge any token
      // (introspection ...); every other credential is offered to all providers in order.
      const iss = credential.scheme === 'bearer' ? unverifiedIssuer(credential.secret) : undefined;
      const byIss = iss !== undefined ? byIssuer.get(iss) : undefined;
      const candidates = iss === undefined ? config.providers : byIss ? [...byIss, ...general] : general;
      for (const provider of candidates) {
        const result = await ask(provider, request);
        if (result.outcome === 'not_responsible') continue;
        if (result.outcome === 'failure') {
          return result.code === 'provider_unavailable'
            ? deny(503, 'provider_unavailable', result.description)
            : deny(401, 'invalid_token', result.description, { challenge: true });
        }
        state.identity = result.identity;
        state.credentialConsumed = true;
        return next(`provider=${provider.id}`);
      }
      return iss !== undefined && !byIss ? unknownIssuer : nobody;
    },
  };
}

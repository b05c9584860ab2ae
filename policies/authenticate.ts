// Authenticate: find the provider responsible for the credential and turn it into an identity.
import { deny, type Verdict } from '../core/access.js';
import { unverifiedIssuer } from '../core/jwt.js';
import type { Logger } from '../core/logger.js';
import type { Stage } from '../core/pipeline.js';
import type { AuthResult, Provider } from '../core/provider.js';

export interface AuthenticateConfig {
  /** Enabled providers in their configured order. */
  readonly providers: readonly Provider[];
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

      // A JWT goes to the providers of its issuer, then to those that judge any token
      // (introspection ...); every other credential is offered to all providers in order.
      const iss = credential.scheme === 'bearer' ? unverifiedIssuer(credential.secret) : undefined;
      const routed = iss !== undefined ? byIssuer.get(iss) : undefined;
      const candidates = iss === undefined ? config.providers : routed ? [...routed, ...general] : general;
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
      return iss !== undefined && !routed ? unknownIssuer : nobody;
    },
  };
}

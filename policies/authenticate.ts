// Authenticate: route the credential (settings `credentials`) to the token index, the providers or the upstream, and establish the identity.
import { deny, type AccessRequest, type Verdict } from '../core/access.js';
import { unverifiedIssuer } from '../core/jwt.js';
import type { Logger } from '../core/logger.js';
import type { Next, Outcome, PipelineState, Stage } from '../core/pipeline.js';
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

const PROVIDER_FAILED: AuthResult = Object.freeze({ outcome: 'failure', code: 'provider_unavailable', description: 'the identity provider failed' });

export function authenticate(config: AuthenticateConfig, deps: AuthenticateDeps): Stage {
  // Routing tables fixed at compile time: the providers that take any credential, and for each
  // issuer its own providers followed by those.
  const general = config.providers.filter((p) => !p.issuers?.length);
  const byIssuer = new Map<string, Provider[]>();
  for (const provider of config.providers) {
    for (const iss of provider.issuers ?? []) byIssuer.set(iss, [...(byIssuer.get(iss) ?? []), provider]);
  }
  for (const [iss, own] of byIssuer) byIssuer.set(iss, [...own, ...general]);

  const missing = deny(401, 'missing_credential', 'this API requires authentication', { challenge: true });
  const unknownIssuer = deny(401, 'invalid_token', 'token issuer not accepted', { challenge: true });
  const nobody = deny(401, 'invalid_token', 'no provider accepts this credential', { challenge: true });
  const unknownToken = deny(401, 'invalid_token', 'unknown gateway token', { challenge: true });
  const route = config.credentials ?? providersOnly;

  /** A provider's answer; one that throws is a provider failure (logged), never a gateway error. */
  const ask = (provider: Provider, request: AccessRequest): AuthResult | Promise<AuthResult> => {
    const failed = (err: unknown): AuthResult => {
      deps.logger.error({ err, provider: provider.id, requestId: request.id }, 'provider failed unexpectedly');
      return PROVIDER_FAILED;
    };
    try {
      const result = provider.authenticate(request.credential!);
      return result instanceof Promise ? result.catch(failed) : result;
    } catch (err) {
      return failed(err);
    }
  };

  /**
   * Offer the credential to `candidates` from `from` on: the first that is responsible decides.
   * Answers at once as long as the providers do (a verified token reused); waits only for one that waits.
   */
  const offer = (candidates: readonly Provider[], from: number, request: AccessRequest, state: PipelineState, next: Next, fallback: Verdict): Outcome => {
    for (let i = from; i < candidates.length; i++) {
      const provider = candidates[i]!;
      const result = ask(provider, request);
      if (result instanceof Promise) {
        return result.then((answer) => (answer.outcome === 'not_responsible' ? offer(candidates, i + 1, request, state, next, fallback) : decided(provider, answer, state, next)));
      }
      if (result.outcome !== 'not_responsible') return decided(provider, result, state, next);
    }
    return fallback;
  };

  const decided = (provider: Provider, result: Exclude<AuthResult, { outcome: 'not_responsible' }>, state: PipelineState, next: Next): Outcome => {
    if (result.outcome === 'failure') {
      return result.code === 'provider_unavailable'
        ? deny(503, 'provider_unavailable', result.description)
        : deny(401, 'invalid_token', result.description, { challenge: true });
    }
    state.identity = result.identity;
    state.credentialConsumed = true;
    return next(state.detailed ? `provider=${provider.id}` : undefined);
  };

  return {
    name: 'authenticate',
    run(request, state, next): Outcome {
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
      const candidates = iss === undefined ? config.providers : (byIss ?? general);
      return offer(candidates, 0, request, state, next, iss !== undefined && !byIss ? unknownIssuer : nobody);
    },
  };
}

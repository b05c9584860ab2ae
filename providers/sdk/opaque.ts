// Opaque-token validation shared by every provider that asks the IdP about a token: cached, single-flight, transport errors mapped once.
import { createHash } from 'node:crypto';
import type { Identity } from '../../core/access.js';
import { UpstreamHttpError } from '../../core/http.js';
import { IdentityCache } from '../../core/identity-cache.js';
import { refuse, unavailable, type AuthFailure, type AuthResult, type Logger, type ProviderDeps } from './contract.js';
import type { MappingOutcome } from './identity-mapping.js';

/** What a provider's check found out about a token: who it names, or why it is refused. */
export type TokenCheck = { readonly outcome: 'identity'; readonly identity: Omit<Identity, 'provider'> } | AuthFailure;

/** A valid token naming `identity` (its `provider` is set by the validator). */
export const accepted = (identity: Omit<Identity, 'provider'>): TokenCheck => ({ outcome: 'identity', identity });

/** A claim mapping's outcome as a check: the identity, or a refusal with the mapping's reason. */
export function fromMapping(mapped: MappingOutcome): TokenCheck {
  if (!mapped.ok) return refuse(mapped.description);
  const { provider: _provider, ...identity } = mapped.identity;
  return accepted(identity);
}

/** A provider's answer about a token (userinfo ...), or the refusal it amounts to. */
export type Answered = { readonly outcome: 'answer'; readonly answer: Record<string, unknown> } | AuthFailure;

/** For `inspect`: the answer, or the refusal as the UpstreamHttpError with status 401 the contract names. */
export function answerOf(asked: Answered, where: string): Record<string, unknown> {
  if (asked.outcome === 'answer') return asked.answer;
  throw new UpstreamHttpError('http_status', `${where}: ${asked.description}`, { status: 401 });
}

/**
 * The provider refused the gateway's own client credentials (introspection or token-check
 * endpoint answering 401/403): a configuration problem, so callers get 503, not 401. Logged
 * here, once, for the operator.
 */
export function clientRefused(logger: Logger, why: string): AuthFailure {
  logger.error({ error: why }, 'the identity provider refused our client credentials: check the provider configuration');
  return unavailable('the identity provider refused the gateway client');
}

export interface OpaqueValidatorOptions {
  readonly deps: ProviderDeps;
  /**
   * Everything that changes what the provider asserts (its validated config): part of the cache
   * key, so an edited configuration never reuses an older answer.
   */
  readonly config: unknown;
  /**
   * Ask the provider about the token: an identity or a refusal. Transport problems escape as
   * UpstreamHttpError (fetchJson's) and are mapped here: 400/401/403 → invalid_token,
   * anything else → provider_unavailable.
   */
  readonly check: (token: string) => Promise<TokenCheck>;
}

/** A fingerprint of a configuration, for cache keys. */
export const fingerprint = (config: unknown): string =>
  createHash('sha256').update(JSON.stringify(config) ?? '').digest('base64url');

/**
 * `{ ...identity, provider }`, copied key by key: once V8's cache for a spread is megamorphic, a
 * spread gives every object a hidden class of its own, made in the old generation and dead as
 * soon as the identity cache keeps its own copy (docs/performance.md#memory).
 */
function withProvider(identity: Omit<Identity, 'provider'>, provider: string): Identity {
  const stamped: Record<string, unknown> = {};
  for (const name of Object.keys(identity)) stamped[name] = (identity as Record<string, unknown>)[name];
  stamped.provider = provider;
  return stamped as unknown as Identity;
}

/** Statuses with which a provider says "this token is not valid" rather than "I am unwell". */
const REFUSAL_STATUSES = new Set([400, 401, 403]);

/**
 * Validate opaque tokens through the node's identity cache.
 *
 * @example
 * ```ts
 * const validate = opaqueValidator({ deps, config, check: async (token) => {
 *   const user = asObject(await getWithBearer(deps.fetch, 'https://api.example.com/user', token, limits), 'GET /user');
 *   return user.active === true ? accepted(identityFrom(user, mapping, 'GET /user')) : refuse('user is not active');
 * }});
 * // in authenticate(): return validate(credential.secret);
 * ```
 */
export function opaqueValidator(options: OpaqueValidatorOptions): (token: string) => Promise<AuthResult> {
  const { deps, check } = options;
  const print = fingerprint(options.config);
  const ask = async (token: string): Promise<AuthResult> => {
    let checked: TokenCheck;
    try {
      checked = await check(token);
    } catch (err) {
      if (!(err instanceof UpstreamHttpError)) throw err;
      if (err.code === 'http_status' && err.status !== undefined && REFUSAL_STATUSES.has(err.status)) {
        return refuse('token not accepted by the identity provider');
      }
      deps.logger.warn({ error: err.message, code: err.code }, 'identity provider could not be asked');
      return unavailable('the identity provider cannot be reached');
    }
    return checked.outcome === 'identity' ? { outcome: 'identity', identity: withProvider(checked.identity, deps.id) } : checked;
  };
  return (token) => deps.cache.resolve(IdentityCache.key(deps.id, print, token), () => ask(token));
}

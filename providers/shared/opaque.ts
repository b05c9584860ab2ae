// Opaque-token validation shared by every provider that asks the IdP about a token: cached, single-flight, errors mapped once.
import { createHash } from 'node:crypto';
import type { Identity } from '../../core/access.js';
import { UpstreamHttpError } from '../../core/http.js';
import { IdentityCache } from '../../core/identity-cache.js';
import type { AuthResult, ProviderDeps } from '../../core/provider.js';

/** The provider is responsible for this token and says it is not valid (inactive, revoked, other app). */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
  /** Safe, stable text for `error_description`; never the token nor the provider's raw answer. */
  constructor(readonly description: string) {
    super(description);
  }
}

/**
 * The provider refused the gateway's own client credentials (introspection or token-check
 * endpoint answering 401/403): a configuration problem, so callers get 503, not 401.
 */
export class ClientRejected extends Error {
  override readonly name = 'ClientRejected';
}

/** What a provider's check found out about a valid token. */
export interface OpaqueCheck {
  readonly identity: Omit<Identity, 'provider'>;
}

export interface OpaqueValidatorOptions {
  readonly deps: ProviderDeps;
  /**
   * Everything that changes what the provider asserts (its validated config): part of the cache
   * key, so an edited configuration never reuses an older answer.
   */
  readonly config: unknown;
  /**
   * Ask the provider about the token. Throw TokenRejected when the provider refuses it; let
   * UpstreamHttpError escape for transport problems (mapped here: 401/403 → invalid_token,
   * anything else → provider_unavailable).
   */
  readonly check: (token: string) => Promise<OpaqueCheck>;
}

/** A fingerprint of a configuration, for cache keys. */
export const fingerprint = (config: unknown): string =>
  createHash('sha256').update(JSON.stringify(config) ?? '').digest('base64url');

/** Statuses with which a provider says "this token is not valid" rather than "I am unwell". */
const REFUSAL_STATUSES = new Set([400, 401, 403]);

/**
 * Validate opaque tokens through the node's identity cache.
 *
 * @example
 * ```ts
 * const validate = opaqueValidator({ deps, config, check: async (token) => {
 *   const user = await fetchJson(deps.fetch, 'https://api.github.com/user', { ... });
 *   return { identity: { subject: String(user.id), username: user.login, groups: [], scopes: [] } };
 * }});
 * // in authenticate(): return validate(credential.secret);
 * ```
 */
export function opaqueValidator(options: OpaqueValidatorOptions): (token: string) => Promise<AuthResult> {
  const { deps, check } = options;
  const print = fingerprint(options.config);
  const ask = async (token: string): Promise<AuthResult> => {
    try {
      const { identity } = await check(token);
      return { outcome: 'identity', identity: { ...identity, provider: deps.id } };
    } catch (err) {
      if (err instanceof TokenRejected) return { outcome: 'failure', code: 'invalid_token', description: err.description };
      if (err instanceof ClientRejected) {
        deps.logger.error({ error: err.message }, 'the identity provider refused our client credentials: check the provider configuration');
        return { outcome: 'failure', code: 'provider_unavailable', description: 'the identity provider refused the gateway client' };
      }
      if (err instanceof UpstreamHttpError) {
        if (err.code === 'http_status' && err.status !== undefined && REFUSAL_STATUSES.has(err.status)) {
          return { outcome: 'failure', code: 'invalid_token', description: 'token not accepted by the identity provider' };
        }
        deps.logger.warn({ error: err.message, code: err.code }, 'identity provider could not be asked');
        return { outcome: 'failure', code: 'provider_unavailable', description: 'the identity provider cannot be reached' };
      }
      throw err;
    }
  };
  return (token) => deps.cache.resolve(IdentityCache.key(deps.id, print, token), () => ask(token));
}

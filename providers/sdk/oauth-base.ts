// The OAuth base: provider kinds whose tokens are judged by asking the provider (userinfo, introspection, a token check), cached.
import { looksLikeJwt } from '../../core/jwt.js';
import { composeProvider, tokenJudge, type ComposedProvider, type Helpers, type Owns } from './compose.js';
import { presetPlugin, type PluginData, type PresetPlugin, type ProviderDeps } from './contract.js';
import { ANSWER_LIMITS, limitsOf, type Limits } from './http.js';
import { opaqueValidator, type TokenCheck } from './opaque.js';

/** Any bearer token that is not shaped like a JWT (JWTs are routed to the provider of their issuer). */
export const opaqueBearer: Owns = (credential) =>
  credential.scheme === 'bearer' && credential.secret !== '' && !looksLikeJwt(credential.secret) ? credential.secret : undefined;

/** Any bearer token, JWT or opaque; Basic is never a token. */
export const anyBearer: Owns = (credential) => (credential.scheme === 'bearer' && credential.secret !== '' ? credential.secret : undefined);

/** Bearer tokens of one recognisable form (`gho_…`, `xoxp-…`): the only ones the provider can have issued. */
export const bearerMatching = (...patterns: readonly RegExp[]): Owns => (credential) =>
  credential.scheme === 'bearer' && patterns.some((p) => p.test(credential.secret)) ? credential.secret : undefined;

/** What an opaque-token kind states per configuration: which tokens are its, how to check one, the admin helpers. */
export interface OpaqueSetup extends Helpers {
  /** Default: {@link opaqueBearer}. */
  readonly owns?: Owns;
  /** Issuers of the (JWT-shaped) tokens it owns, for routing; usually none. */
  readonly issuers?: readonly string[];
  /** Ask the provider about a token; transport failures escape as UpstreamHttpError (see opaqueValidator). */
  readonly check: (token: string) => Promise<TokenCheck>;
}

/**
 * A provider over {@link OpaqueSetup}: tokens it owns are checked through the node's identity
 * cache (keyed by `config` too), the rest are `not_responsible`; always ready.
 */
export function createOpaqueProvider(kind: string, config: unknown, deps: ProviderDeps, setup: OpaqueSetup): ComposedProvider & Helpers {
  const { owns = opaqueBearer, issuers, check, inspect, oauthClient } = setup;
  const judge = tokenJudge(owns, opaqueValidator({ deps, config, check }));
  return composeProvider(
    { id: deps.id, kind, ...(issuers === undefined ? {} : { issuers }), judges: [judge] },
    { ...(inspect === undefined ? {} : { inspect }), ...(oauthClient === undefined ? {} : { oauthClient }) },
  );
}

/** An opaque-token kind: the plugin's data plus `setup`, the code that differs. */
export interface OAuthPreset<C> extends PluginData<C> {
  /** Per configuration, once: `limits` are the config's `timeoutMs` and a 256 KiB answer. */
  readonly setup: (config: C, deps: ProviderDeps, limits: Limits) => OpaqueSetup;
}

/**
 * The plugin of an opaque-token kind.
 *
 * @example
 * ```ts
 * export default oauthPreset({
 *   kind: 'acme-oauth',
 *   description: 'ACME OAuth tokens, validated at its userinfo endpoint',
 *   configSchema: z.strictObject({ timeoutMs: timeoutField }),
 *   setup: (config, deps, limits) => ({
 *     check: async (token) => accepted(identityFrom(asObject(await getWithBearer(deps.fetch, USERINFO, token, limits), 'userinfo'), mapping, 'userinfo')),
 *   }),
 * });
 * ```
 */
export function oauthPreset<C extends { readonly timeoutMs?: number }>(preset: OAuthPreset<C>): PresetPlugin<C, ComposedProvider & Helpers> {
  return presetPlugin(preset, (config, deps) => createOpaqueProvider(preset.kind, config, deps, preset.setup(config, deps, limitsOf(config, ANSWER_LIMITS))));
}

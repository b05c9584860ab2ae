// The plugin contract as a provider package sees it: the types core/ defines, the three outcomes as values, defineProvider().
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { AuthResult, CallBudget, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';

export type { Credential, Identity } from '../../core/access.js';
export type { Clock } from '../../core/clock.js';
export type { Logger } from '../../core/logger.js';
export type {
  AnswerCache, AuthFailureCode, AuthResult, CallBudget, HttpFetch, OAuthClient, Provider, ProviderDeps, ProviderPlugin, ProviderStatus,
} from '../../core/provider.js';

/** The refusing outcome of `authenticate`. */
export type AuthFailure = Extract<AuthResult, { readonly outcome: 'failure' }>;

/** This provider cannot judge the credential; the next one may. */
export const NOT_RESPONSIBLE: AuthResult = Object.freeze({ outcome: 'not_responsible' });

/** The credential is this provider's and not valid (401 `invalid_token`); `description` never holds the token. */
export const refuse = (description: string): AuthFailure => ({ outcome: 'failure', code: 'invalid_token', description });

/** The provider could not be asked, or cannot judge yet (503 `provider_unavailable`). */
export const unavailable = (description: string): AuthFailure => ({ outcome: 'failure', code: 'provider_unavailable', description });

/**
 * A plugin, typed by its configuration schema: `create` receives what the schema outputs.
 * The returned plugin is the argument itself, frozen.
 *
 * @example
 * ```ts
 * export default defineProvider({
 *   kind: 'acme-sso',
 *   description: 'ACME SSO access tokens',
 *   configSchema: z.strictObject({ tenant: z.string() }),
 *   create: (config, deps) => createAcmeProvider(config, deps),
 * });
 * ```
 */
export function defineProvider<C>(plugin: ProviderPlugin<C>): ProviderPlugin<C> {
  return Object.freeze(plugin);
}

/** What a preset states about its plugin besides the code: the admin-facing data. */
export interface PluginData<C> {
  readonly kind: string;
  readonly description: string;
  readonly configSchema: StandardSchemaV1<unknown, C>;
  /** Default `['clientSecret']`. */
  readonly secretFields?: readonly string[];
  /** The vendor's documented limits (see ProviderPlugin.callBudget). */
  readonly callBudget?: CallBudget;
}

/** A preset's plugin: `create` gives the preset's instance type and takes the base's options (tests, embedding). */
export interface PresetPlugin<C, P extends Provider, O = undefined> extends ProviderPlugin<C> {
  create(config: C, deps: ProviderDeps, options?: O): P;
}

/** The plugin of a preset: its data (secret field `clientSecret` unless it says otherwise) and the base's `create`. */
export function presetPlugin<C, P extends Provider, O>(
  data: PluginData<C>,
  create: (config: C, deps: ProviderDeps, options?: O) => P,
): PresetPlugin<C, P, O> {
  const { kind, description, configSchema, secretFields = ['clientSecret'], callBudget } = data;
  return Object.freeze({ kind, description, configSchema, secretFields, ...(callBudget ? { callBudget } : {}), create });
}

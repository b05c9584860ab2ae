// The OIDC base: a JWT provider kind as data (issuer template, endpoints, claims) plus small hooks; keys, verification and the Provider shape are here.
import type { JWTPayload } from 'jose';
import { UpstreamHttpError } from '../../core/http.js';
import { composeProvider, tokenJudge, type Helpers, type JwksProvider, type Judge, type Owns } from './compose.js';
import { asList } from './config-fields.js';
import { presetPlugin, type PluginData, type PresetPlugin, type ProviderDeps } from './contract.js';
import { getWithBearer, limitsOf, type Limits } from './http.js';
import { compileMapping, type ClaimMapping, type MappingConfig } from './identity-mapping.js';
import { KeySetError } from './jwks.js';
import { JwksVerifier, type ClaimCheck, type KeyFetchOptions } from './jwt.js';
import { oauthClientOf, type ClientAuth } from './oauth-client.js';

/**
 * The configuration fields the base reads, named as in the `oidc` kind. All are optional: a
 * preset's schema offers those its admins may set, and the base falls back to the `oidc` defaults.
 */
export interface OidcBaseConfig extends Partial<MappingConfig> {
  readonly audience?: string | readonly string[] | undefined;
  readonly jwksUri?: string | undefined;
  readonly algorithms?: readonly string[] | undefined;
  readonly clockSkewSeconds?: number | undefined;
  readonly jwksCacheSeconds?: number | undefined;
  readonly jwksCooldownSeconds?: number | undefined;
  readonly clientId?: string | undefined;
  readonly clientSecret?: string | undefined;
  readonly clientAuth?: ClientAuth | undefined;
  readonly scope?: string | undefined;
}

/** Where a preset's provider lives. */
export interface Endpoints {
  /** The key set; absent: the `jwks_uri` of OpenID discovery at the issuer. */
  readonly jwks?: string;
  /** For the admin's username-attribute helper (a bearer GET). */
  readonly userinfo?: string;
  /** For the admin's fetch-token helper, with the config's `clientId`. */
  readonly authorization?: string;
  readonly token?: string;
}

/** What hooks that need the running instance may add. */
export interface Extension {
  /** Asked before the JWT verification: tokens of our issuer our keys cannot judge (Entra's Graph tokens). */
  readonly before?: Judge;
  /** Asked after it: credentials the JWT half does not own (Google's opaque access tokens). */
  readonly after?: Judge;
  /** Replaces the bearer GET at the userinfo endpoint. */
  readonly inspect?: (token: string) => Promise<unknown>;
}

export interface ExtensionContext {
  readonly deps: ProviderDeps;
  readonly limits: Limits;
  /** The bearer JWT when one of our issuers claims it (unverified), else undefined. */
  readonly owns: Owns;
}

/** A JWT kind: its plugin data, then only what differs from the base. Functions of the config run once per configuration. */
export interface OidcPreset<C extends OidcBaseConfig> extends PluginData<C> {
  /** The issuer template: the tokens' `iss`. Several when one key set signs under several names (Entra v1 and v2). */
  readonly issuer: (config: C) => string | readonly string[];
  /** Absent: everything from OpenID discovery at the (first) issuer; the config's `jwksUri` may still name the keys. */
  readonly endpoints?: (config: C) => Endpoints;
  /** Accepted `aud`; default the config's `audience`. Absent only where `check` binds the client another way. */
  readonly audience?: (config: C) => string | readonly string[] | undefined;
  /** Used when the config has no `algorithms` (default RS256). */
  readonly algorithms?: readonly string[];
  /** Claims every token must carry (default `exp`, `sub`). */
  readonly requiredClaims?: readonly string[];
  /** Claims copied into `Identity.claims` besides iss, aud, azp, client_id and sub. */
  readonly keepClaims?: readonly string[];
  /** Checks after verification (`tid`, `azp`, `token_use` ...): a refusal's description, or undefined. */
  readonly check?: (config: C) => ClaimCheck;
  /** What the claim mapping reads instead of the verified payload (drop an unverified email ...). */
  readonly readClaims?: (payload: JWTPayload) => Readonly<Record<string, unknown>>;
  /** Replaces the mapping of the config's claim fields (one per token type ...). */
  readonly mapping?: (config: C) => ClaimMapping | ((payload: JWTPayload) => ClaimMapping);
  /** Fetch-token client settings the config does not hold (defaults: `basic`, `openid profile email`). */
  readonly client?: (config: C) => { readonly clientAuth?: ClientAuth; readonly scope?: string };
  /** Hooks that need the running instance. */
  readonly extend?: (config: C, context: ExtensionContext) => Extension;
}

/** A provider whose endpoints come from discovery: both admin helpers are always there. */
export type DiscoveredProvider = JwksProvider & Required<Helpers>;

/**
 * The plugin of a JWT kind over the OIDC base. Without `endpoints` its providers discover them,
 * and so always offer both admin helpers ({@link DiscoveredProvider}).
 *
 * @example
 * ```ts
 * export default oidcPreset({
 *   kind: 'acme-sso',
 *   description: 'ACME SSO access tokens, verified against the tenant JWKS',
 *   configSchema: z.strictObject({ tenant: z.string(), audience: oneOrMore('audience'), ...jwtFields({ algorithms: ['RS256'] }) }),
 *   issuer: (config) => `https://${config.tenant}.acme-sso.example`,
 *   keepClaims: ['tenant'],
 * });
 * ```
 */
export function oidcPreset<C extends OidcBaseConfig>(
  preset: OidcPreset<C> & { readonly endpoints: (config: C) => Endpoints },
): PresetPlugin<C, JwksProvider & Helpers, KeyFetchOptions>;
export function oidcPreset<C extends OidcBaseConfig>(preset: OidcPreset<C> & { readonly endpoints?: undefined }): PresetPlugin<C, DiscoveredProvider, KeyFetchOptions>;
export function oidcPreset<C extends OidcBaseConfig>(preset: OidcPreset<C>): PresetPlugin<C, JwksProvider & Helpers, KeyFetchOptions> {
  return presetPlugin(preset, (config, deps, options = {}) => createPresetProvider(preset, config, deps, options));
}

/** One instance of a preset: the verifier from the data, the judges and helpers around it. */
function createPresetProvider<C extends OidcBaseConfig>(
  preset: OidcPreset<C>,
  config: C,
  deps: ProviderDeps,
  fetchOptions: KeyFetchOptions,
): JwksProvider & Helpers {
  const endpoints = preset.endpoints?.(config);
  // Without endpoints everything is discovered, unless the config names the keys itself.
  const jwksUri = endpoints === undefined ? config.jwksUri : endpoints.jwks;
  const audience = preset.audience ? preset.audience(config) : config.audience;
  const verifier = new JwksVerifier({
    deps,
    policy: Object.freeze({
      issuers: asList(preset.issuer(config)),
      ...(audience === undefined ? {} : { audience: typeof audience === 'string' ? audience : Object.freeze([...audience]) }),
      algorithms: Object.freeze([...(config.algorithms ?? preset.algorithms ?? ['RS256'])]),
      clockToleranceSeconds: config.clockSkewSeconds ?? 60,
      ...(preset.requiredClaims === undefined ? {} : { requiredClaims: preset.requiredClaims }),
    }),
    mapping: preset.mapping?.(config) ?? compileMapping(withMappingDefaults(config), preset.keepClaims),
    ...(preset.check === undefined ? {} : { check: preset.check(config) }),
    ...(preset.readClaims === undefined ? {} : { claims: preset.readClaims }),
    ...(jwksUri === undefined ? {} : { jwksUri }),
    cacheSeconds: config.jwksCacheSeconds ?? 600,
    cooldownSeconds: config.jwksCooldownSeconds ?? 30,
    fetchOptions,
  });
  const limits = limitsOf(fetchOptions);
  const extension = preset.extend?.(config, { deps, limits, owns: (credential) => verifier.owns(credential) }) ?? {};
  const client = { clientAuth: config.clientAuth ?? 'basic', scope: config.scope ?? 'openid profile email', ...preset.client?.(config) };
  const jwt = tokenJudge((credential) => verifier.owns(credential), (token) => verifier.verify(token));
  const judges = [extension.before, jwt, extension.after].filter((judge): judge is Judge => judge !== undefined);
  const parts = { id: deps.id, kind: preset.kind, issuers: verifier.issuers, judges, keys: verifier };
  if (endpoints === undefined) return composeProvider(parts, discoveredHelpers(verifier, config, client, deps, limits, extension));
  return composeProvider(parts, {
    ...endpointHelpers(endpoints, { ...client, clientId: config.clientId, clientSecret: config.clientSecret }, deps, limits),
    ...(extension.inspect === undefined ? {} : { inspect: extension.inspect }),
  });
}

/** The `oidc` defaults for claim fields a preset's schema does not offer. */
function withMappingDefaults(config: OidcBaseConfig): MappingConfig {
  return {
    usernameClaim: config.usernameClaim ?? 'preferred_username',
    emailClaim: config.emailClaim ?? 'email',
    groupsClaim: config.groupsClaim ?? 'groups',
    requiredScopes: config.requiredScopes,
    usernamePrefix: config.usernamePrefix,
  };
}

interface ClientConfig {
  readonly clientId?: string | undefined;
  readonly clientSecret?: string | undefined;
  readonly clientAuth: ClientAuth;
  readonly scope: string;
}

/**
 * The admin helpers of fixed endpoints: `inspect` when there is a userinfo endpoint, `oauthClient`
 * when there is a token endpoint and a client id. Exported for kinds that validate some other
 * way but share the endpoints (Okta's introspection).
 */
export function endpointHelpers(endpoints: Endpoints, client: ClientConfig, deps: ProviderDeps, limits: Limits): Helpers {
  const { userinfo, authorization, token } = endpoints;
  const { clientId } = client;
  return {
    ...(userinfo === undefined ? {} : { inspect: (bearerToken: string) => getWithBearer(deps.fetch, userinfo, bearerToken, limits) }),
    ...(token === undefined || clientId === undefined
      ? {}
      : { oauthClient: async () => oauthClientOf({ ...client, clientId, authorizationEndpoint: authorization, tokenEndpoint: token }) }),
  };
}

/** The admin helpers of a discovering provider: endpoints from the issuer's discovery document, read once. */
function discoveredHelpers(
  verifier: JwksVerifier,
  config: OidcBaseConfig,
  client: ClientConfig,
  deps: ProviderDeps,
  limits: Limits,
  extension: Extension,
): Required<Helpers> {
  const metadata = async () => {
    try {
      return await verifier.metadata();
    } catch (err) {
      // An unusable document is reported as the UpstreamHttpError the contract names.
      if (err instanceof KeySetError) throw new UpstreamHttpError('malformed', err.message, { cause: err });
      throw err;
    }
  };
  return {
    inspect:
      extension.inspect ??
      (async (token) => {
        const { userinfoEndpoint } = await metadata();
        if (userinfoEndpoint === undefined) {
          throw new UpstreamHttpError('malformed', `discovery document of ${verifier.issuers[0]} names no userinfo_endpoint`);
        }
        return getWithBearer(deps.fetch, userinfoEndpoint, token, limits);
      }),
    oauthClient: async () => {
      const { clientId, clientSecret } = config;
      if (clientId === undefined) return undefined;
      const { authorizationEndpoint, tokenEndpoint } = await metadata();
      if (tokenEndpoint === undefined) return undefined;
      return oauthClientOf({ ...client, clientId, clientSecret, authorizationEndpoint, tokenEndpoint });
    },
  };
}

// The provider plugin contract: what a built-in or third-party provider package exports.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Credential, Identity } from './access.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/** The HTTP client providers use for outbound calls: the WHATWG `fetch` signature. */
export type HttpFetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** What the gateway hands to a provider factory. */
export interface ProviderDeps {
  /** Configured id of this provider instance (`PUT /providers/{id}`). */
  readonly id: string;
  readonly fetch: HttpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The node's cache of userinfo/introspection answers (core/identity-cache.ts; see IdentityCache.key for the key). */
  readonly cache: AnswerCache;
}

/**
 * The node's cache of provider answers, shared by every provider. Declared here, by what a
 * provider calls, so the contract does not depend on the cache's implementation.
 */
export interface AnswerCache {
  /** The cached answer for `key`, or `load()`'s, shared by concurrent callers of the same key. */
  resolve(key: string, load: () => Promise<AuthResult>): Promise<AuthResult>;
}

/** OAuth 2.0 client details a provider exposes for the admin's fetch-token helper. */
export interface OAuthClient {
  /** Absent when the provider supports only the client-credentials grant. */
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret?: string;
  /** How the client authenticates at the token endpoint (RFC 6749 §2.3.1). */
  readonly clientAuth: 'basic' | 'body';
  readonly scope?: string;
  /** Extra parameters for the authorization request (e.g. Entra's `resource`). */
  readonly extraAuthorizeParams?: Readonly<Record<string, string>>;
}

/** Why a provider refused a credential it is responsible for. */
export type AuthFailureCode =
  /** The credential is not valid (signature, expiry, audience, issuer, revoked ...): 401. */
  | 'invalid_token'
  /** The provider could not be asked, or has no keys yet: 503. */
  | 'provider_unavailable';

/**
 * The three outcomes of `authenticate`:
 * - `identity`: the credential is valid and names this caller;
 * - `not_responsible`: this provider cannot judge the credential (another may);
 * - `failure`: this provider is responsible and refuses it (stop, do not try others).
 */
export type AuthResult =
  | { readonly outcome: 'identity'; readonly identity: Identity }
  | { readonly outcome: 'not_responsible' }
  | { readonly outcome: 'failure'; readonly code: AuthFailureCode; readonly description: string };

export interface ProviderStatus {
  /** False until the provider can validate credentials (for example: signing keys fetched). */
  readonly ready: boolean;
  readonly detail?: string;
}

/** A configured, running provider instance. */
export interface Provider {
  readonly id: string;
  readonly kind: string;
  /**
   * Issuers whose JWTs this provider verifies. The authenticate stage routes a JWT to the
   * provider whose issuer matches its (unverified) `iss`; providers without issuers see
   * credentials in configured order.
   */
  readonly issuers?: readonly string[];
  /**
   * Warm up before the node reports ready (fetch discovery and keys). Must not throw:
   * a provider that cannot warm up reports it through `status()` and keeps trying.
   */
  start?(signal: AbortSignal): Promise<void>;
  status(): ProviderStatus;
  /** The answer at once when the provider knows it (a verified token reused), else a promise. */
  authenticate(credential: Credential): AuthResult | Promise<AuthResult>;
  /**
   * The provider's raw answer about a token (userinfo, introspection, `/user` ...), uncached,
   * for the admin's username-attribute helper. Throws UpstreamHttpError when the provider refuses.
   */
  inspect?(token: string): Promise<unknown>;
  /** Client details for the admin's fetch-token helper, when the configuration has them. */
  oauthClient?(): Promise<OAuthClient | undefined>;
  /** Release timers and connections. */
  close?(): Promise<void>;
}

/**
 * A provider plugin: one per kind. Third-party packages export one as their default export.
 *
 * @example
 * ```ts
 * import { defineProvider, NOT_RESPONSIBLE, z } from 'portcullis/provider-sdk';
 * export default defineProvider({
 *   kind: 'static-header',
 *   description: 'Trusts a fixed bearer value (demo only)',
 *   configSchema: z.strictObject({ header: z.string() }),
 *   create: (cfg, deps) => ({
 *     id: deps.id, kind: 'static-header',
 *     status: () => ({ ready: true }),
 *     authenticate: async (cred) => cred.secret === cfg.header
 *       ? { outcome: 'identity', identity: { subject: 'demo', username: 'demo', groups: [], scopes: [], provider: deps.id } }
 *       : NOT_RESPONSIBLE,
 *   }),
 * });
 * ```
 */
/** Outbound calls allowed to one configured provider: see {@link ProviderPlugin.callBudget}. */
export interface CallBudget {
  /** Calls in flight at once (across all nodes when Redis is configured). */
  readonly maxConcurrent: number;
  /** At most `amount` calls started every `everyMs`, refilled as a whole; absent: no count limit. */
  readonly reservoir?: { readonly amount: number; readonly everyMs: number };
}

export interface ProviderPlugin<C = unknown> {
  readonly kind: string;
  readonly description: string;
  /** Any Standard Schema (zod, valibot, arktype ...). Validated before a configuration event is appended. */
  readonly configSchema: StandardSchemaV1<unknown, C>;
  /**
   * Dot paths of config fields that hold secrets (client secrets, app tokens). They are
   * encrypted before an event is written, masked in every answer, and decrypted for `create`.
   */
  readonly secretFields?: readonly string[];
  /**
   * How hard one configured provider of this kind may be called, as the vendor documents it.
   * Every outbound call made through `deps.fetch` (userinfo, introspection, token, keys) waits
   * for it; with Redis configured the budget is shared by all nodes. Default: 16 calls at once,
   * no count limit.
   * @example `{ maxConcurrent: 10, reservoir: { amount: 5000, everyMs: 3_600_000 } }` (GitHub: 5,000 an hour per app)
   */
  readonly callBudget?: CallBudget;
  /** Build an instance from a validated config. Throws TypeError only on programming errors. */
  create(config: C, deps: ProviderDeps): Provider;
}

// The Provider shape, written once: judges in order, an optional key source for start/status/refresh/close, the admin helpers.
import type { Credential } from '../../core/access.js';
import type { AuthResult, OAuthClient, Provider, ProviderStatus } from '../../core/provider.js';
import { NOT_RESPONSIBLE } from './contract.js';

/**
 * One way a provider judges credentials: the result for a credential it owns, or undefined
 * when the credential is not this judge's (the next judge, then `not_responsible`).
 */
export type Judge = (credential: Credential) => Answer | undefined;

/** An answer now (a verified token reused) or later (a key fetch, a userinfo call). */
export type Answer = AuthResult | Promise<AuthResult>;

/** Which credentials a judge takes: the token to judge, or undefined when the credential is not its. */
export type Owns = (credential: Credential) => string | undefined;

/** The judge that validates the tokens `owns` picks. */
export const tokenJudge = (owns: Owns, validate: (token: string) => Answer): Judge => (credential) => {
  const token = owns(credential);
  return token === undefined ? undefined : validate(token);
};

/** What keeps a provider's verification material fresh (a JWKS verifier): start, status, refresh, close. */
export interface KeySource {
  start(signal?: AbortSignal): Promise<void>;
  /** Fetch now; resolves true when fresh material is held. */
  refresh(): Promise<boolean>;
  status(): ProviderStatus;
  close(): void;
}

/** The admin's helpers a provider may offer (see Provider.inspect and Provider.oauthClient). */
export interface Helpers {
  readonly inspect?: (token: string) => Promise<unknown>;
  readonly oauthClient?: () => Promise<OAuthClient | undefined>;
}

export interface ProviderParts {
  readonly id: string;
  readonly kind: string;
  /** Issuers whose JWTs are routed here; none: the provider sees credentials in configured order. */
  readonly issuers?: readonly string[];
  /** Asked in order; the first that owns the credential answers. */
  readonly judges: readonly Judge[];
  /** Absent: always ready, nothing to start. */
  readonly keys?: KeySource;
}

/** A composed provider: `close` is always there. */
export type ComposedProvider = Provider & { close(): Promise<void> };

/** A composed provider with a key source; `refresh()` refetches the keys. */
export type JwksProvider = ComposedProvider & {
  start(signal?: AbortSignal): Promise<void>;
  refresh(): Promise<boolean>;
};

const READY: ProviderStatus = Object.freeze({ ready: true });

/**
 * Build the Provider contract from its parts; the helpers given are the ones it offers.
 *
 * @example
 * ```ts
 * composeProvider({ id: deps.id, kind: 'acme', judges: [(c) => (ownsToken(c) ? validate(c.secret) : undefined)] }, { inspect });
 * ```
 */
export function composeProvider<H extends Helpers>(parts: ProviderParts & { readonly keys: KeySource }, helpers: H): JwksProvider & H;
export function composeProvider<H extends Helpers>(parts: ProviderParts, helpers: H): ComposedProvider & H;
export function composeProvider<H extends Helpers>(parts: ProviderParts, helpers: H): (ComposedProvider | JwksProvider) & H {
  const { judges, keys } = parts;
  const authenticate = (credential: Credential): Answer => {
    for (const judge of judges) {
      const result = judge(credential);
      if (result !== undefined) return result;
    }
    return NOT_RESPONSIBLE;
  };
  const shape = {
    id: parts.id,
    kind: parts.kind,
    ...(parts.issuers === undefined || parts.issuers.length === 0 ? {} : { issuers: Object.freeze([...parts.issuers]) }),
    authenticate,
    ...helpers,
  };
  if (keys === undefined) return { ...shape, status: () => READY, close: async () => {} };
  return {
    ...shape,
    start: (signal?: AbortSignal) => keys.start(signal),
    refresh: () => keys.refresh(),
    status: () => keys.status(),
    close: async () => keys.close(),
  };
}

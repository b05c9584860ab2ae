// A provider assembled from a JWKS verifier plus optional opaque-token, userinfo and OAuth-client parts.
import type { Credential } from '../../core/access.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, HttpFetch, OAuthClient, Provider, ProviderStatus } from '../../core/provider.js';
import type { JwksVerifier } from './jwt.js';

const NOT_RESPONSIBLE: AuthResult = Object.freeze({ outcome: 'not_responsible' });

export interface JwksProviderParts {
  readonly id: string;
  readonly kind: string;
  readonly verifier: JwksVerifier;
  /**
   * Credentials the JWT half does not own: answer them (opaque tokens the provider validates
   * remotely) or leave them with `not_responsible` (the default).
   */
  readonly other?: (credential: Credential) => Promise<AuthResult>;
  /** Replaces JWT verification for some of our issuer's JWTs (Entra tokens for Microsoft Graph). */
  readonly ownJwt?: (token: string) => Promise<AuthResult> | undefined;
  readonly inspect?: (token: string) => Promise<unknown>;
  readonly oauthClient?: () => Promise<OAuthClient | undefined>;
}

/** The Provider contract over {@link JwksProviderParts}; `refresh()` refetches the keys. */
export class JwksProvider implements Provider {
  readonly id: string;
  readonly kind: string;
  readonly issuers: readonly string[];
  readonly inspect?: (token: string) => Promise<unknown>;
  readonly oauthClient?: () => Promise<OAuthClient | undefined>;

  constructor(private readonly parts: JwksProviderParts) {
    this.id = parts.id;
    this.kind = parts.kind;
    this.issuers = parts.verifier.issuers;
    if (parts.inspect) this.inspect = parts.inspect;
    if (parts.oauthClient) this.oauthClient = parts.oauthClient;
  }

  start(signal?: AbortSignal): Promise<void> {
    return this.parts.verifier.start(signal);
  }

  refresh(): Promise<boolean> {
    return this.parts.verifier.refresh();
  }

  status(): ProviderStatus {
    return this.parts.verifier.status();
  }

  async authenticate(credential: Credential): Promise<AuthResult> {
    const token = this.parts.verifier.owns(credential);
    if (token === undefined) return this.parts.other ? this.parts.other(credential) : NOT_RESPONSIBLE;
    return this.parts.ownJwt?.(token) ?? this.parts.verifier.verify(token);
  }

  async close(): Promise<void> {
    this.parts.verifier.close();
  }
}

export interface Limits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** Outbound limits for userinfo, introspection and token checks (5 s, 512 KiB unless a test says otherwise). */
export const limitsOf = (options: { timeoutMs?: number; maxBytes?: number }): Limits => ({
  timeoutMs: options.timeoutMs ?? 5_000,
  maxBytes: options.maxBytes ?? 512 * 1024,
});

/** GET a bearer-protected JSON endpoint (userinfo, Graph /me): the raw answer. */
export function getWithBearer(fetch: HttpFetch, url: string, token: string, limits: Limits): Promise<unknown> {
  return fetchJson(fetch, url, { ...limits, headers: { authorization: `Bearer ${token}` } });
}

/** The answer as a plain object, or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

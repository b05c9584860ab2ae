// What crosses from the server into the pipeline and back: plain data, no Koa objects.

/** The credential found on a request. The secret is never logged nor stored in an event. */
export interface Credential {
  /** `api_key`: the header named by settings `credentials.apiKeyHeader` (gateway tokens only). */
  readonly scheme: 'bearer' | 'basic' | 'api_key';
  /** Bearer token, the Basic password, or the API-key header's value. */
  readonly secret: string;
  /** Basic user name. */
  readonly username?: string;
  /** For `api_key`: the header it came in (lower case), which the proxy removes once the gateway consumed it. */
  readonly header?: string;
}

export interface AccessRequest {
  /** Request id, echoed in error bodies and audit events. */
  readonly id: string;
  readonly method: string;
  /** Path as received, without the query string. */
  readonly rawPath: string;
  /**
   * The normalised path (core/path.ts): what policies match and what the proxy forwards (with
   * the master switch off, nothing is judged and the target goes as received). When
   * normalisation refused the path (then `pathError` says why), the form the audit records:
   * `rawPath` cut before `;` or `#` and at 512 characters (server/access-request.ts
   * `refusedPathForRecord`), which is never forwarded.
   */
  readonly path: string;
  /** Why the raw path was refused by normalisation; the paths stage answers 400 `invalid_path`. */
  readonly pathError?: string;
  /** Query string without the leading `?` ('' when none). */
  readonly query: string;
  /**
   * The host asked for, normalised (core/host.ts: lower case, no trailing dot, no `:80`/`:443`):
   * the Host header, a trusted proxy's X-Forwarded-Host, or forward auth's named host header.
   * The proxy forwards this same value as X-Forwarded-Host.
   */
  readonly host: string;
  /** Client address after trusted-proxy resolution. */
  readonly clientIp: string;
  /** Address of the direct TCP peer. */
  readonly peerIp: string;
  /**
   * The method a method-override header names (`X-HTTP-Method-Override`, `X-HTTP-Method`,
   * `X-Method-Override`, in any `_` spelling), upper case; several are joined with `,`. Upstream
   * frameworks may act on it instead of `method`, so read-only checks judge it too.
   */
  readonly methodOverride?: string;
  readonly credential?: Credential;
  /** Set when the Authorization header was present but unusable (malformed, unknown scheme). */
  readonly credentialError?: string;
  /** Milliseconds since the epoch. */
  readonly time: number;
}

/** Who the caller is, as a provider established it. */
export interface Identity {
  readonly subject: string;
  readonly username: string;
  readonly email?: string;
  readonly groups: readonly string[];
  /** Id of the configured provider that established this identity. */
  readonly provider: string;
  /** Gateway token id, or the JWT `jti`, when there is one. */
  readonly tokenId?: string;
  readonly scopes: readonly string[];
  /** Milliseconds since the epoch at which the credential stops being valid. */
  readonly expiresAt?: number;
  /** Selected claims, for policies and the test-token helper. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** Stable, snake_case reason codes. Stages add their own. */
export type ReasonCode =
  | 'authenticated'
  | 'anonymous'
  | 'auth_disabled'
  | 'missing_credential'
  | 'invalid_request'
  | 'invalid_token'
  | 'unsupported_credential'
  | 'provider_unavailable'
  | 'pass_through'
  | (string & {});

export interface TraceEntry {
  readonly stage: string;
  readonly outcome: 'pass' | 'allow' | 'deny';
  readonly reason?: string;
  readonly detail?: string;
}

/** What a stage returns when it decides. The pipeline adds the deciding stage and trace. */
export interface Verdict {
  readonly allow: boolean;
  readonly status: number;
  readonly reason: ReasonCode;
  /** Human text for the error body; never contains a secret. */
  readonly description?: string;
  /** Name of the stage that decided; filled in by the pipeline. */
  readonly stage?: string;
  /** Ask the server to add a `WWW-Authenticate: Bearer` challenge (RFC 6750). */
  readonly challenge?: boolean;
  /** Response headers to send with the answer, allowed or denied (rate-limit headers). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Decision extends Verdict {
  readonly stage: string;
  readonly identity?: Identity;
  readonly trace: readonly TraceEntry[];
  /** The credential was consumed by the gateway (do not forward it upstream). */
  readonly credentialConsumed: boolean;
  /** Name of the per-route rule that matched, if one did. */
  readonly route?: string;
}

export function allow(reason: ReasonCode, description?: string): Verdict {
  return { allow: true, status: 200, reason, ...(description ? { description } : {}) };
}

export function deny(
  status: number,
  reason: ReasonCode,
  description: string,
  options: { challenge?: boolean; headers?: Readonly<Record<string, string>> } = {},
): Verdict {
  return {
    allow: false,
    status,
    reason,
    description,
    ...(options.challenge ? { challenge: true } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  };
}

/** A per-route rule as the pipeline carries it: matched before authentication, enforced after. */
export interface MatchedRoute {
  /** The rule's name, or `route-<n>`. */
  readonly name: string;
  readonly anonymous?: boolean;
  readonly readOnly?: boolean;
  readonly providers?: ReadonlySet<string>;
  readonly groups?: readonly string[];
  readonly scopes?: readonly string[];
  /** Own limit (its own counters), or false: not rate limited. */
  readonly rateLimit?: { readonly limit: number; readonly windowSeconds: number } | false;
}

/**
 * The methods a method-override header names besides the request's own, or undefined when it
 * names none (the common case). An upstream may run the request as any of them, so a rule that
 * depends on the method must hold for each.
 */
export function overrideMethods(request: Pick<AccessRequest, 'method' | 'methodOverride'>): readonly string[] | undefined {
  if (request.methodOverride === undefined) return undefined;
  const others = request.methodOverride
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '' && m !== request.method);
  return others.length ? others : undefined;
}

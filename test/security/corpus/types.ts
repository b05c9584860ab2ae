// The shape of an attack-corpus entry: a request (as data) and what the gateway must answer.
import type { TokenSpec } from '../forge.js';

/**
 * Placeholders usable in paths, header values, bodies and raw text:
 * {{VALID}} a valid JWT of the test issuer, {{OPAQUE}} a valid opaque token (static provider),
 * {{GATEWAY}} a valid gateway token (owner `ci`), {{GATEWAY_FLIPPED}} it with one character changed,
 * {{ADMIN}} the admin token, {{CLIENT_SECRET}} the oidc client secret, {{ISSUER}} the issuer URL,
 * {{ATTACKER}} a listener that records every hit (it must see none), {{ADMIN_ADDR}} host:port of
 * the admin listener, {{BASIC_VALID}} base64 of `alice:<opaque>`.
 */
export interface AttackRequest {
  readonly method?: string;
  /** Request target as sent on the wire (default `/api/resource`). */
  readonly path?: string;
  /** In order; duplicates allowed. `Host` and `Connection: close` are added unless given. */
  readonly headers?: readonly (readonly [string, string])[];
  /** Sent as `Authorization: Bearer <forged token>`. */
  readonly token?: TokenSpec;
  readonly body?: string;
  /** The whole request as wire text (framing attacks); replaces method/path/headers/body. */
  readonly raw?: string;
  /** Which listener receives it (default the gateway). */
  readonly target?: 'gateway' | 'admin';
}

export interface Expectation {
  readonly status: number;
  /**
   * The JSON body's `error` and the recorded decision's reason (`authenticated`, `anonymous`, `bypass`
   * for allowed requests). `parser`: Node's HTTP parser refuses the framing before the gateway runs.
   */
  readonly error: string;
  /** Exact error_description, where the exact refusal matters (which JWT check fired). */
  readonly description?: string;
  /** False when the gateway answers before the pipeline (no recorded decision is due). Default true. */
  readonly audited?: boolean;
  /** Allowed requests: the path (and query) the upstream must receive. */
  readonly upstreamPath?: string;
  /** Allowed requests: the body the upstream must receive. */
  readonly upstreamBody?: string;
  /** Allowed requests: header values the upstream must receive (null: a header it must not receive). */
  readonly upstreamHeaders?: Readonly<Record<string, string | null>>;
  /** Header values the answer must carry (null: a header it must not carry). */
  readonly answerHeaders?: Readonly<Record<string, string | null>>;
  /** False for an allowed request the gateway answers itself (forward auth): nothing reaches the upstream. */
  readonly proxied?: boolean;
  /** The client address the recorded decision must hold. */
  readonly clientIp?: string;
  /** Fields the recorded decision must hold exactly (as the decision log keeps them: cut past its limits). */
  readonly recorded?: { readonly host?: string; readonly path?: string };
  /** A pipelined second response on the same connection, judged on its own. */
  readonly second?: Expectation;
  /** Other statuses acceptable for a parser refusal (Node answers 400 or 431 depending on the limit hit). */
  readonly orStatus?: readonly number[];
}

export interface AttackCase {
  readonly name: string;
  readonly request: AttackRequest;
  readonly expect: Expectation;
}

/** A named group of cases run under one settings patch. */
export interface AttackCategory {
  readonly name: string;
  /** Settings merge patch applied before the category and undone after it. */
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly cases: readonly AttackCase[];
}

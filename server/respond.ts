// The one place errors and denials become HTTP: JSON body with a stable code, RFC 6750 challenges, no secrets.
import type { ServerResponse } from 'node:http';
import type { Decision } from '../core/access.js';
import { StoreUnavailableError } from '../core/store/port.js';
import { GatewayError, ValidationError, type FieldError } from '../core/errors.js';

export const REALM = 'portcullis';

export interface ErrorBody {
  readonly error: string;
  readonly error_description: string;
  readonly request_id: string;
  readonly fields?: readonly FieldError[];
}

/** Quoted-string safe text for a WWW-Authenticate parameter (RFC 6750 limits it to printable ASCII without `"` and `\`). */
const quotable = (text: string): string => text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '');

/**
 * RFC 6750 §3: no error parameter when the request carried no credential, `invalid_token` when
 * a presented token was refused, `invalid_request` when the request was malformed.
 */
export function bearerChallenge(realm: string, error?: string, description?: string): string {
  if (!error) return `Bearer realm="${realm}"`;
  const desc = description ? `, error_description="${quotable(description)}"` : '';
  return `Bearer realm="${realm}", error="${error}"${desc}`;
}

/** The challenge a client that may use Basic (settings `credentials.basic` other than `deny`) gets next to Bearer's. */
export const BASIC_CHALLENGE = `Basic realm="${REALM}"`;

export interface DecisionErrorOptions {
  /** Add a Basic challenge to a 401 (when Basic is accepted in some form). */
  readonly basicChallenge?: boolean;
}

export function decisionError(
  decision: Decision,
  requestId: string,
  options: DecisionErrorOptions = {},
): { status: number; headers: Record<string, string | string[]>; body: ErrorBody } {
  const headers: Record<string, string | string[]> = { ...decision.headers, 'cache-control': 'no-store' };
  if (decision.challenge) {
    const error = decision.reason === 'missing_credential' ? undefined : decision.reason === 'invalid_request' ? 'invalid_request' : 'invalid_token';
    const bearer = bearerChallenge(REALM, error, decision.description);
    headers['www-authenticate'] = options.basicChallenge && decision.status === 401 ? [bearer, BASIC_CHALLENGE] : bearer;
  }
  return {
    status: decision.status,
    headers,
    body: { error: decision.reason, error_description: decision.description ?? decision.reason, request_id: requestId },
  };
}

const BODY_ERRORS: Record<number, [string, string]> = {
  400: ['invalid_request', 'the request body is not valid JSON'],
  413: ['payload_too_large', 'the request body is too large'],
  415: ['unsupported_media_type', 'the request body must be JSON (application/json)'],
};

/** Map any thrown value to status + body. Unexpected errors become a generic 500; the caller logs the detail. */
export function errorResponse(err: unknown, requestId: string): { status: number; body: ErrorBody; expected: boolean } {
  if (err instanceof GatewayError && err.expose) {
    return {
      status: err.status,
      expected: true,
      body: {
        error: err.code,
        error_description: err.message,
        request_id: requestId,
        ...(err instanceof ValidationError && err.fields.length ? { fields: err.fields } : {}),
      },
    };
  }
  if (err instanceof StoreUnavailableError) {
    return {
      status: 503,
      expected: true,
      body: { error: 'store_unavailable', error_description: 'the event store cannot answer right now', request_id: requestId },
    };
  }
  const status = (err as { status?: unknown }).status;
  const expose = (err as { expose?: unknown }).expose;
  // Body-parser errors (malformed JSON, too large, wrong type). Their messages can quote the body,
  // so the client gets a fixed description instead.
  if (typeof status === 'number' && status >= 400 && status < 500 && (expose === true || err instanceof SyntaxError)) {
    const [code, description] = BODY_ERRORS[status] ?? ['invalid_request', 'the request is not valid'];
    return { status, expected: true, body: { error: code, error_description: description, request_id: requestId } };
  }
  return {
    status: 500,
    expected: false,
    body: { error: 'internal_error', error_description: 'internal error; see the gateway log for this request id', request_id: requestId },
  };
}

/** Write a JSON error straight to a raw response (used where Koa no longer owns it). */
export function writeJsonError(res: ServerResponse, status: number, body: ErrorBody, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

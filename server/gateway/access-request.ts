// toAccessRequest: the one place where an HTTP request becomes the plain AccessRequest the pipeline judges.
import type { IncomingMessage } from 'node:http';
import type { AccessRequest, Credential } from '../../core/access.js';
import { normalisePath } from '../../core/path.js';

const MAX_AUTHORIZATION = 16 * 1024;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

export interface CredentialParse {
  readonly credential?: Credential;
  readonly error?: string;
}

/** Parse the Authorization header. Errors describe the problem without repeating the header. */
export function parseAuthorization(header: string | undefined): CredentialParse {
  if (header === undefined || header === '') return {};
  if (header.length > MAX_AUTHORIZATION) return { error: 'authorization header too large' };
  const bearer = BEARER.exec(header);
  if (bearer) return { credential: { scheme: 'bearer', secret: bearer[1]! } };
  const basic = BASIC.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0 || decoded.includes('\uFFFD') || /[\x00-\x1f\x7f]/.test(decoded)) {
      return { error: 'malformed basic credentials' };
    }
    return { credential: { scheme: 'basic', username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) } };
  }
  const scheme = /^(Bearer|Basic)\b/i.exec(header)?.[1];
  if (scheme) return { error: `malformed ${scheme.toLowerCase()} credentials` };
  return { error: 'unsupported authorization scheme' };
}

/**
 * A refused path is recorded (audit) without what follows `;` or `#`, where clients put
 * credentials (`;jsessionid=`, `#access_token=`), and at most 512 characters.
 */
export function refusedPathForRecord(rawPath: string): string {
  const cut = rawPath.search(/[;#]|%3b|%23/i);
  const kept = (cut === -1 ? rawPath : rawPath.slice(0, cut)).slice(0, 512);
  return kept.length < rawPath.length ? `${kept}…` : kept;
}

/** Headers that upstream frameworks (Rails, Laravel, Symfony, Express method-override, ASP.NET) let override the method. */
const METHOD_OVERRIDES: ReadonlySet<string> = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);

/**
 * The method named by method-override headers, in any `_` spelling (CGI-style servers read
 * `X_HTTP_Method_Override` as the dashed name), upper case; several are joined with `,`.
 */
export function methodOverrideOf(headers: IncomingMessage['headers']): string | undefined {
  let named: string | undefined;
  for (const name in headers) {
    // Cheap filter first: every override name starts with `x` and is 13 to 22 characters long.
    if (name.length < 13 || name.length > 22 || name.charCodeAt(0) !== 0x78) continue;
    if (!METHOD_OVERRIDES.has(name.includes('_') ? name.replaceAll('_', '-') : name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : value;
    named = named === undefined ? text : `${named},${text}`;
  }
  return named?.trim().toUpperCase();
}

export interface RequestTarget {
  readonly method: string;
  /** Request target as received: path plus optional query. */
  readonly url: string;
  readonly host: string;
}

/**
 * The credential of a request: the Authorization header, or the API-key header (settings
 * `credentials.apiKeyHeader`) when one is configured. Both at once is ambiguous and refused.
 */
export function findCredential(headers: IncomingMessage['headers'], apiKeyHeader?: string | null): CredentialParse {
  const raw = apiKeyHeader ? headers[apiKeyHeader] : undefined;
  if (raw === undefined) return parseAuthorization(headers.authorization);
  if (headers.authorization !== undefined && headers.authorization !== '') {
    return { error: `send one credential: the Authorization header or ${apiKeyHeader}, not both` };
  }
  const value = (Array.isArray(raw) ? raw.join(',') : raw).trim();
  if (value === '') return {};
  if (value.length > MAX_AUTHORIZATION || !/^[\x21-\x7e]+$/.test(value)) return { error: `malformed ${apiKeyHeader} header` };
  return { credential: { scheme: 'api_key', secret: value, header: apiKeyHeader! } };
}

export function toAccessRequest(
  req: IncomingMessage,
  id: string,
  target: RequestTarget,
  clientIp: string,
  peerIp: string,
  time: number,
  apiKeyHeader?: string | null,
): AccessRequest {
  const q = target.url.indexOf('?');
  const rawPath = q === -1 ? target.url : target.url.slice(0, q);
  const { credential, error } = findCredential(req.headers, apiKeyHeader);
  // Policies judge, and the proxy forwards, the normalised path. A refused one is denied by the
  // paths stage and recorded shortened; only with the master switch off is it forwarded, as received.
  const normal = normalisePath(rawPath);
  const methodOverride = methodOverrideOf(req.headers);
  // Built field by field: optional fields are set only when present, and no object is spread.
  const request: { -readonly [K in keyof AccessRequest]: AccessRequest[K] } = {
    id,
    method: target.method.toUpperCase(),
    rawPath,
    path: normal.ok ? normal.path : refusedPathForRecord(rawPath),
    query: q === -1 ? '' : target.url.slice(q + 1),
    host: target.host,
    clientIp,
    peerIp,
    time,
  };
  if (!normal.ok) request.pathError = normal.error;
  if (methodOverride !== undefined) request.methodOverride = methodOverride;
  if (credential) request.credential = credential;
  if (error) request.credentialError = error;
  return request;
}

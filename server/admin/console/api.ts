// The admin API, typed from its OpenAPI document (generated/admin-api.d.ts): every call the console makes goes through here.
import type { paths } from './generated/admin-api.js';

export type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';
export type Path = keyof paths;
type Op<P extends Path, M extends Method> = paths[P][M];
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : undefined;
/** The JSON a successful call answers with, as the document describes it. */
export type Ok<P extends Path, M extends Method> =
  Op<P, M> extends { responses: infer R } ? (R extends { 200: infer A } ? JsonOf<A> : R extends { 201: infer A } ? JsonOf<A> : undefined) : never;
export type BodyOf<P extends Path, M extends Method> = Op<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

export type Provider = Ok<'/api/v1/providers/{id}', 'get'>;
export type Token = Ok<'/api/v1/tokens/{id}', 'get'>;
export type AuditPage = Ok<'/api/v1/audit', 'get'>;
export type AuditRow = AuditPage['decisions'][number];
export type TraceEntry = AuditRow['trace'][number];

export type Session = Ok<'/api/v1/session', 'get'>;

/**
 * The signed-in session as GET /api/v1/session describes it. The credential itself is the HttpOnly
 * cookie, out of reach of scripts; only its CSRF token is held here, in memory, for changes.
 */
export const session = {
  current: undefined as Session | undefined,
  set(value: Session | undefined): void {
    this.current = value;
  },
};

/** An answer other than 2xx, with the API's stable code and description. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly fields: readonly { path: string; message: string }[] = [],
    readonly requestId?: string,
  ) {
    super(`${code}: ${description}`);
  }
}

/** Called when the admin token is refused: back to sign-in. */
let onUnauthorized: (why: string) => void = () => undefined;
export const whenUnauthorized = (fn: (why: string) => void): void => void (onUnauthorized = fn);

export interface CallOptions {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  /** The revision last seen: a stale one is 412. */
  readonly ifMatch?: number | string;
  readonly accept?: string;
  readonly contentType?: string;
  /** The admin token, sent once as Bearer to sign in (POST /api/v1/session); never kept. */
  readonly bearer?: string;
}

export function url(path: Path, options: Pick<CallOptions, 'params' | 'query'> = {}): string {
  let out = String(path).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(options.params?.[name] ?? ''));
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== '') query.set(k, v);
  if ([...query].length) out += `?${query}`;
  return out;
}

/** The raw response of a call; throws ApiError for an error answer. */
export async function request(method: Method, path: Path, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
  // Changes made with the session cookie carry its CSRF token (the API refuses them without: 403 csrf_token_invalid).
  const csrf = session.current?.csrfToken;
  if (method !== 'get' && csrf) headers['x-csrf-token'] = csrf;
  if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(url(path, options), {
    method: method.toUpperCase(),
    headers,
    credentials: 'same-origin',
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  if (res.ok) return res;
  const error = (await res.json().catch(() => ({}))) as { error?: string; error_description?: string; fields?: { path: string; message: string }[]; request_id?: string };
  const failure = new ApiError(res.status, error.error ?? `http_${res.status}`, error.error_description ?? res.statusText, error.fields ?? [], error.request_id);
  if (res.status === 401) onUnauthorized(failure.description);
  throw failure;
}

/** A call answered with JSON, typed by its operation in the document. */
export async function call<P extends Path, M extends Method>(method: M, path: P, options: CallOptions & { body?: BodyOf<P, M> } = {}): Promise<{ data: Ok<P, M>; etag: string | null }> {
  const res = await request(method, path, options);
  const data = res.status === 204 ? undefined : await res.json();
  return { data: data as Ok<P, M>, etag: res.headers.get('etag') };
}

/** `"12"` → 12. */
export const revisionOf = (etag: string | null): number | undefined => (etag ? Number(etag.replace(/\D/g, '')) : undefined);

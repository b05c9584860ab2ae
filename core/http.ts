// Outbound JSON over HTTP for providers: bounded in time and size, no redirects, typed errors.
import type { HttpFetch } from './provider.js';

/** Why an outbound call failed; stable, so callers branch on it and never on messages. */
export type UpstreamErrorCode = 'timeout' | 'unreachable' | 'http_status' | 'too_large' | 'malformed';

/**
 * An outbound call failed. The message names the method and the URL's origin and path only:
 * no query string, no header, no body, so it is safe to log.
 */
export class UpstreamHttpError extends Error {
  override readonly name = 'UpstreamHttpError';
  readonly code: UpstreamErrorCode;
  /** HTTP status, when a response arrived. */
  readonly status?: number;

  constructor(code: UpstreamErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
  }
}

export interface FetchJsonOptions {
  readonly timeoutMs: number;
  /** Largest body accepted, in bytes; the transfer is aborted beyond it. */
  readonly maxBytes: number;
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | URLSearchParams;
  /** Caller's cancellation (for example: provider closing). Reported as `unreachable`. */
  readonly signal?: AbortSignal;
}

/** Media types accepted as JSON: `application/json` and any `+json` suffix (`jwk-set+json`). */
const JSON_TYPE = /^application\/(?:json|[\w.+-]+\+json)\s*(?:;|$)/i;

/** `https://host/path` without query, fragment or credentials: safe to put in messages and logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * Call `url` and parse the response as JSON.
 *
 * A 3xx is an error (never followed), as is any status outside 2xx; the body is read with a
 * byte limit and must be declared as JSON when a content type is given.
 *
 * @throws {UpstreamHttpError} with `code` `timeout`, `unreachable`, `http_status`, `too_large`
 *   or `malformed`.
 * @throws {TypeError} when the options are unusable (a programming error).
 */
export async function fetchJson(fetch: HttpFetch, url: string, opts: FetchJsonOptions): Promise<unknown> {
  if (!(opts.timeoutMs > 0) || !(opts.maxBytes > 0)) {
    throw new TypeError('fetchJson: timeoutMs and maxBytes must be positive');
  }
  const method = (opts.method ?? 'GET').toUpperCase();
  const where = `${method} ${safeUrl(url)}`;
  // One controller per call, its timer cleared and the caller's listener removed as soon as the
  // call ends. AbortSignal.timeout() (and any()) stay alive with their listeners until the timer
  // fires, and undici's listener holds the whole exchange: under a userinfo load that kept
  // thousands of finished calls in memory for the full timeout.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${opts.timeoutMs} ms`, 'TimeoutError'));
  }, opts.timeoutMs);
  const callerAborted = () => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) callerAborted();
  else opts.signal?.addEventListener('abort', callerAborted, { once: true });
  try {
    return await exchange(fetch, url, method, where, opts, controller.signal, () => timedOut);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', callerAborted);
  }
}

/** One bounded call: `signal` aborts it (timeout or caller), `timedOut` tells which. */
async function exchange(
  fetch: HttpFetch,
  url: string,
  method: string,
  where: string,
  opts: FetchJsonOptions,
  signal: AbortSignal,
  timedOut: () => boolean,
): Promise<unknown> {
  const failure = (err: unknown): UpstreamHttpError =>
    err instanceof UpstreamHttpError
      ? err
      : timedOut()
        ? new UpstreamHttpError('timeout', `${where}: no answer within ${opts.timeoutMs} ms`)
        : new UpstreamHttpError('unreachable', `${where}: ${signal.aborted ? 'aborted' : 'unreachable'}`, { cause: err });

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { accept: 'application/json', ...opts.headers },
      ...(opts.body === undefined ? {} : { body: opts.body }),
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    throw failure(err);
  }

  try {
    if (response.type === 'opaqueredirect' || response.status < 200 || response.status > 299) {
      const status = response.status;
      throw new UpstreamHttpError('http_status', `${where}: answered HTTP ${status}`, { status });
    }
    const type = response.headers.get('content-type');
    if (type !== null && !JSON_TYPE.test(type)) {
      throw new UpstreamHttpError('malformed', `${where}: answered a non-JSON content type`, { status: response.status });
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (declared > opts.maxBytes) {
      throw new UpstreamHttpError('too_large', `${where}: body larger than ${opts.maxBytes} bytes`, { status: response.status });
    }
    const text = await readLimited(response, opts.maxBytes, where);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UpstreamHttpError('malformed', `${where}: body is not valid JSON`, { status: response.status });
    }
  } catch (err) {
    await response.body?.cancel().catch(() => {});
    throw failure(err);
  }
}

/** Read the whole body as UTF-8, stopping (and cancelling the transfer) past `maxBytes`. */
async function readLimited(response: Response, maxBytes: number, where: string): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new UpstreamHttpError('too_large', `${where}: body larger than ${maxBytes} bytes`, { status: response.status });
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
}

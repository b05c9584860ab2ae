// Bounded outbound HTTP for providers: fetchJson (time, size, no redirects, typed errors), the limits, and answer checks.
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { HttpFetch } from '../../core/provider.js';

export { fetchJson, safeUrl, UpstreamHttpError, type FetchJsonOptions, type UpstreamErrorCode } from '../../core/http.js';

/** How long an outbound call may take and how much of its answer is read. */
export interface Limits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/** Discovery, key sets and the JWT kinds' userinfo calls: 5 s, 512 KiB. */
export const DEFAULT_LIMITS: Limits = Object.freeze({ timeoutMs: 5_000, maxBytes: 512 * 1024 });

/** Largest answer about an opaque token accepted (userinfo, introspection, org lists): 256 KiB. */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** Userinfo and introspection answers of the opaque-token kinds: 5 s unless configured, 256 KiB. */
export const ANSWER_LIMITS: Limits = Object.freeze({ timeoutMs: 5_000, maxBytes: MAX_ANSWER_BYTES });

/**
 * The limits given (a validated `timeoutMs` config field, or test options), the rest from `fallback`.
 * @example
 * ```ts
 * limitsOf(config, ANSWER_LIMITS); // { timeoutMs: config.timeoutMs, maxBytes: 256 KiB }
 * ```
 */
export function limitsOf(given: { readonly timeoutMs?: number; readonly maxBytes?: number }, fallback: Limits = DEFAULT_LIMITS): Limits {
  return { timeoutMs: given.timeoutMs ?? fallback.timeoutMs, maxBytes: given.maxBytes ?? fallback.maxBytes };
}

/** The Authorization header of a bearer call. */
export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** GET a bearer-protected JSON endpoint (userinfo, Graph /me): the raw answer. */
export function getWithBearer(fetch: HttpFetch, url: string, token: string, limits: Limits): Promise<unknown> {
  return fetchJson(fetch, url, { ...limits, headers: bearer(token) });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The answer as a plain object, or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return isRecord(value) ? value : undefined;
}

/**
 * The answer as a JSON object.
 * @throws {UpstreamHttpError} `malformed` (a provider problem: 503) when it is anything else.
 */
export function asObject(answer: unknown, where: string): Record<string, unknown> {
  if (isRecord(answer)) return answer;
  throw new UpstreamHttpError('malformed', `${where}: answer is not a JSON object`);
}

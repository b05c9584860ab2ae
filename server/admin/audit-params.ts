// The audit views' filter parameters, checked strictly (shared by GET /api/v1/audit, its export and stats, and `portcullis audit`).
import { parseIsoTime } from '../../core/as-of.js';
import type { AuditFilter } from '../../core/audit/filter.js';
import { ValidationError } from '../../core/errors.js';
import { compileAddresses } from '../../core/net.js';

/** A range not given ends now and starts 24 hours before its end: a view never scans the whole log by default. */
export const DEFAULT_RANGE_MS = 24 * 3_600_000;

/** The filter parameters every audit route takes, one value each. */
export const AUDIT_FILTER_QUERY = {
  from: 'one',
  to: 'one',
  user: 'one',
  token: 'one',
  provider: 'one',
  ip: 'one',
  method: 'one',
  path: 'one',
  status: 'one',
  decision: 'one',
  reason: 'one',
} as const;

export type AuditFilterValues = { readonly [K in keyof typeof AUDIT_FILTER_QUERY]?: string };

const fail = (path: string, message: string, why: string): never => {
  throw new ValidationError(message, [{ path, message: why }]);
};

function time(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseIsoTime(value.trim());
  if (!parsed.ok) return fail(name, `${name} must be an ISO 8601 time`, parsed.why);
  return parsed.time;
}

function text(name: string, value: string | undefined, max = 256): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > max) return fail(name, `${name} is too long`, `at most ${max} characters`);
  return value;
}

/**
 * The filter the parameters name.
 * @throws ValidationError (400 invalid_request, `fields[0].path` naming the parameter)
 */
export function parseAuditFilter(values: AuditFilterValues, now: number): AuditFilter {
  const end = time('to', values.to) ?? now;
  const start = time('from', values.from) ?? end - DEFAULT_RANGE_MS;
  if (start >= end) fail('from', 'from must be before to', 'not before to');
  let clientIp;
  if (values.ip !== undefined) {
    try {
      clientIp = compileAddresses([values.ip.trim()]);
    } catch {
      fail('ip', 'ip must be an address or a CIDR', 'not an address or CIDR');
    }
  }
  const method = text('method', values.method, 16);
  if (method !== undefined && !/^[A-Za-z]{1,16}$/.test(method)) fail('method', 'method must be an HTTP method', 'letters only');
  const path = text('path', values.path, 1024);
  if (path !== undefined && !path.startsWith('/')) fail('path', 'path must be a path prefix starting with /', 'must start with /');
  let status: number | undefined;
  if (values.status !== undefined) {
    if (!/^[1-5]\d\d$/.test(values.status)) fail('status', 'status must be an HTTP status from 100 to 599', 'not a status');
    status = Number(values.status);
  }
  if (values.decision !== undefined && values.decision !== 'allow' && values.decision !== 'deny') fail('decision', 'decision must be allow or deny', 'one of: allow, deny');
  const username = text('user', values.user);
  const tokenId = text('token', values.token);
  const provider = text('provider', values.provider);
  const reason = text('reason', values.reason);
  return {
    from: start,
    to: end,
    ...(username !== undefined ? { username } : {}),
    ...(tokenId !== undefined ? { tokenId } : {}),
    ...(provider !== undefined ? { provider } : {}),
    ...(clientIp !== undefined ? { clientIp } : {}),
    ...(method !== undefined ? { method: method.toUpperCase() } : {}),
    ...(path !== undefined ? { pathPrefix: path } : {}),
    ...(status !== undefined ? { status } : {}),
    ...(values.decision !== undefined ? { allow: values.decision === 'allow' } : {}),
    ...(reason !== undefined ? { reason } : {}),
  };
}

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Buckets one stats answer has at most. */
export const MAX_BUCKETS = 1000;

/**
 * `bucket`: a width such as 5m, 1h or 1d; absent, the smallest of 1m 5m 15m 1h 6h 1d giving at most 100 buckets.
 * @throws ValidationError for another form, or a width giving more than MAX_BUCKETS buckets over the range
 */
export function parseBucket(value: string | undefined, rangeMs: number): number {
  if (value === undefined) {
    const widths = [1, 5, 15, 60, 360, 1440].map((m) => m * 60_000);
    return widths.find((w) => rangeMs / w <= 100) ?? Math.ceil(rangeMs / 100 / 86_400_000) * 86_400_000;
  }
  const m = /^([1-9]\d{0,3})([mhd])$/.exec(value);
  if (!m) return fail('bucket', 'bucket must be a width such as 5m, 1h or 1d', 'minutes (m), hours (h) or days (d)');
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (rangeMs / ms > MAX_BUCKETS) return fail('bucket', `bucket gives more than ${MAX_BUCKETS} buckets over the range`, 'too narrow for the range');
  return ms;
}

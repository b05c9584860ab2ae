// Rate limit: count requests per token, user or client address through the injected limiter; 429 with Retry-After and RateLimit headers.
import { deny, type AccessRequest, type Identity, type Verdict } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { tokenDigest } from '../core/jwt.js';
import { parseIp, type AddressList } from '../core/net.js';
import type { Stage } from '../core/pipeline.js';
import type { RateLimiter, RateLimitResult } from '../core/rate-limit.js';

export interface RateLimitConfig {
  /** The global limit applies (per-route limits apply regardless). */
  readonly enabled: boolean;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly key: 'token' | 'user' | 'ip';
  readonly exempt: {
    readonly users: readonly string[];
    readonly groups: readonly string[];
    readonly ips: AddressList;
  };
}

export interface RateLimitDeps {
  readonly limiter: RateLimiter;
  readonly clock: Clock;
}

/** The counted key: never a raw secret (a credential counts by its hash or its token id). */
function keyOf(kind: RateLimitConfig['key'], request: AccessRequest, identity: Identity | undefined): string {
  if (kind === 'user' && identity) return `u:${identity.provider}:${identity.subject}`;
  if (kind === 'token') {
    if (identity?.tokenId) return `t:${identity.provider}:${identity.tokenId}`;
    if (request.credential) return `c:${tokenDigest(request.credential.secret)}`;
  }
  return `ip:${request.clientIp}`;
}

/**
 * Headers for one counted request: the IETF draft (draft-ietf-httpapi-ratelimit-headers-08+)
 * `RateLimit-Policy`/`RateLimit`, and the `X-RateLimit-*` trio Atlassian clients read
 * (`X-RateLimit-Reset` as an ISO 8601 instant, as Atlassian Cloud sends it).
 */
export function rateLimitHeaders(policy: string, windowSeconds: number, result: RateLimitResult, now: number): Record<string, string> {
  const reset = Math.max(1, Math.ceil((result.resetAt - now) / 1000));
  return {
    'ratelimit-policy': `"${policy}";q=${result.limit};w=${windowSeconds}`,
    ratelimit: `"${policy}";r=${result.remaining};t=${reset}`,
    'x-ratelimit-limit': String(result.limit),
    'x-ratelimit-remaining': String(result.remaining),
    'x-ratelimit-reset': isoInstant(result.resetAt),
  };
}

/** Windows end together for every key, so the last instant formatted is nearly always the next one asked for. */
let lastInstant = { ms: Number.NaN, iso: '' };
function isoInstant(ms: number): string {
  if (lastInstant.ms !== ms) lastInstant = { ms, iso: new Date(ms).toISOString() };
  return lastInstant.iso;
}

export function rateLimit(config: RateLimitConfig, deps: RateLimitDeps): Stage {
  const exemptUsers = new Set(config.exempt.users);
  const exemptGroups = new Set(config.exempt.groups);
  const global = { name: 'default', limit: config.limit, windowSeconds: config.windowSeconds, windowMs: config.windowSeconds * 1000, bucket: 'g' };

  const exempt = (request: AccessRequest, identity: Identity | undefined): boolean => {
    if (identity && (exemptUsers.has(identity.username) || identity.groups.some((g) => exemptGroups.has(g)))) return true;
    if (config.exempt.ips.size === 0) return false;
    const ip = parseIp(request.clientIp);
    return ip !== undefined && config.exempt.ips.has(ip);
  };

  return {
    name: 'rate_limit',
    async run(request, state, next): Promise<Verdict> {
      const override = state.route?.rateLimit;
      if (override === false) return next('route not limited');
      const policy = override
        ? { name: state.route!.name, limit: override.limit, windowSeconds: override.windowSeconds, windowMs: override.windowSeconds * 1000, bucket: `r:${state.route!.name}` }
        : config.enabled
          ? global
          : undefined;
      if (!policy) return next();
      if (exempt(request, state.identity)) return next('exempt');

      const key = `${policy.bucket}|${keyOf(config.key, request, state.identity)}`;
      const result = await deps.limiter.consume(key, policy);
      const now = deps.clock.now();
      const headers = rateLimitHeaders(policy.name, policy.windowSeconds, result, now);
      if (!result.allowed) {
        const retry = Math.max(1, Math.ceil((result.resetAt - now) / 1000));
        return deny(429, 'rate_limited', `more than ${policy.limit} requests in ${policy.windowSeconds} s; retry after ${retry} s`, {
          headers: { ...headers, 'retry-after': String(retry) },
        });
      }
      const verdict = await next(`remaining=${result.remaining}`);
      return { ...verdict, headers: verdict.headers ? { ...verdict.headers, ...headers } : headers };
    },
  };
}

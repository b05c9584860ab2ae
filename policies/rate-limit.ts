// Rate limit: count requests per token, user or client address through the injected limiter; 429 with Retry-After and RateLimit headers.
import { deny, type AccessRequest, type Identity } from '../core/access.js';
import type { Clock } from '../core/clock.js';
import { tokenDigest } from '../core/jwt.js';
import { parseIp, type AddressList } from '../core/net.js';
import type { Next, Outcome, PipelineState, Stage } from '../core/pipeline.js';
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

/** A limit as the stage counts it, with the parts of its headers that never change. */
interface Policy {
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly windowMs: number;
  /** Prefix of its counters' keys: `g` for the global limit, `r:<route>` for a route's own. */
  readonly bucket: string;
  /** `RateLimit-Policy` and `X-RateLimit-Limit`, formatted once. */
  readonly policyHeader: string;
  readonly limitHeader: string;
}

function policyOf(name: string, limit: number, windowSeconds: number, bucket: string): Policy {
  return { name, limit, windowSeconds, windowMs: windowSeconds * 1000, bucket, policyHeader: `"${name}";q=${limit};w=${windowSeconds}`, limitHeader: String(limit) };
}

/**
 * Headers for one counted request: the IETF draft (draft-ietf-httpapi-ratelimit-headers-08+)
 * `RateLimit-Policy`/`RateLimit`, and the `X-RateLimit-*` trio Atlassian clients read
 * (`X-RateLimit-Reset` as an ISO 8601 instant, as Atlassian Cloud sends it).
 */
function rateLimitHeaders(policy: Policy, result: RateLimitResult, now: number): Record<string, string> {
  const reset = Math.max(1, Math.ceil((result.resetAt - now) / 1000));
  return {
    'ratelimit-policy': policy.policyHeader,
    ratelimit: `"${policy.name}";r=${result.remaining};t=${reset}`,
    'x-ratelimit-limit': result.limit === policy.limit ? policy.limitHeader : String(result.limit),
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
  const global = config.enabled ? policyOf('default', config.limit, config.windowSeconds, 'g') : undefined;
  /** Routes' own limits, by route name (a compiled pipeline's routes are fixed). */
  const routePolicies = new Map<string, Policy>();
  const routePolicy = (name: string, own: { readonly limit: number; readonly windowSeconds: number }): Policy => {
    let policy = routePolicies.get(name);
    if (policy === undefined || policy.limit !== own.limit || policy.windowSeconds !== own.windowSeconds) {
      policy = policyOf(name, own.limit, own.windowSeconds, `r:${name}`);
      routePolicies.set(name, policy);
    }
    return policy;
  };

  const exempt = (request: AccessRequest, identity: Identity | undefined): boolean => {
    if (identity && (exemptUsers.has(identity.username) || identity.groups.some((g) => exemptGroups.has(g)))) return true;
    if (config.exempt.ips.size === 0) return false;
    const ip = parseIp(request.clientIp);
    return ip !== undefined && config.exempt.ips.has(ip);
  };

  /** The count's verdict: 429, or the request passed on with the headers for its answer. */
  const judged = (policy: Policy, result: RateLimitResult, state: PipelineState, next: Next): Outcome => {
    const now = deps.clock.now();
    const headers = rateLimitHeaders(policy, result, now);
    if (!result.allowed) {
      const retry = Math.max(1, Math.ceil((result.resetAt - now) / 1000));
      return deny(429, 'rate_limited', `more than ${policy.limit} requests in ${policy.windowSeconds} s; retry after ${retry} s`, {
        headers: { ...headers, 'retry-after': String(retry) },
      });
    }
    state.headers = state.headers ? { ...state.headers, ...headers } : headers;
    return next(state.detailed ? `remaining=${result.remaining}` : undefined);
  };

  return {
    name: 'rate_limit',
    run(request, state, next): Outcome {
      const override = state.route?.rateLimit;
      if (override === false) return next('route not limited');
      const policy = override ? routePolicy(state.route!.name, override) : global;
      if (!policy) return next();
      if (exempt(request, state.identity)) return next('exempt');

      const key = `${policy.bucket}|${keyOf(config.key, request, state.identity)}`;
      const result = deps.limiter.consume(key, policy);
      // A per-node count answers at once; a shared one (Redis) is waited for.
      return result instanceof Promise ? result.then((r) => judged(policy, r, state, next)) : judged(policy, result, state, next);
    },
  };
}

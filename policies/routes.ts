// Per-route rules: matched once before authentication (first match wins), their requirements enforced after it.
import { deny, type AccessRequest, type MatchedRoute } from '../core/access.js';
import { hostName } from '../core/host.js';
import { matchForm } from '../core/path.js';
import { compilePattern, patternMatches, SegmentIndex, type CompiledPattern } from '../core/path-pattern.js';
import type { Outcome, Stage } from '../core/pipeline.js';
import { routeName, type RouteSettings } from '../core/settings/schema.js';
import { methodOverrideRefused, overridesToWrite, READ_METHODS } from './read-only.js';

/** The compiled rules: the first that matches method, path and host, or undefined. */
export interface RouteTable {
  readonly size: number;
  match(request: AccessRequest): MatchedRoute | undefined;
}

interface CompiledRoute {
  readonly pattern: CompiledPattern;
  readonly methods: ReadonlySet<string> | undefined;
  readonly host: ((host: string) => boolean) | undefined;
  readonly route: MatchedRoute;
}

const hostMatcher = (pattern: string): ((host: string) => boolean) =>
  pattern.startsWith('*.') ? ((suffix) => (h: string) => h.endsWith(suffix) && h.length > suffix.length)(pattern.slice(1)) : (h) => h === pattern;

export function compileRoutes(rules: readonly RouteSettings[]): RouteTable {
  const compiled: CompiledRoute[] = rules.map((rule, i) => {
    const methods = rule.methods?.length ? new Set(rule.methods) : undefined;
    if (methods?.has('GET')) methods.add('HEAD');
    const route: MatchedRoute = Object.freeze({
      name: routeName(rule, i),
      ...(rule.anonymous !== undefined ? { anonymous: rule.anonymous } : {}),
      ...(rule.readOnly !== undefined ? { readOnly: rule.readOnly } : {}),
      ...(rule.providers ? { providers: new Set(rule.providers) } : {}),
      ...(rule.groups ? { groups: rule.groups } : {}),
      ...(rule.scopes ? { scopes: rule.scopes } : {}),
      ...(rule.rateLimit !== undefined ? { rateLimit: rule.rateLimit } : {}),
    });
    return { pattern: compilePattern(rule.path), methods, host: rule.host ? hostMatcher(rule.host) : undefined, route };
  });
  const anyHost = compiled.some((c) => c.host);
  const index = new SegmentIndex(compiled.map((c) => c.pattern));
  return {
    size: compiled.length,
    match(request) {
      const form = matchForm(request.path);
      // The gateway normalised the host (core/host.ts): lower case, no trailing dot; routes ignore the port.
      const host = anyHost ? hostName(request.host) : '';
      for (const i of index.candidates(form)) {
        const c = compiled[i]!;
        if (c.methods && !c.methods.has(request.method)) continue;
        if (c.host && !c.host(host)) continue;
        if (patternMatches(c.pattern, request.method, form)) return c.route;
      }
      return undefined;
    },
  };
}

/** Enforce the matched route's requirements on the caller the earlier stages established. */
export function routes(): Stage {
  const readOnlyRoute = deny(403, 'read_only', 'this route is read-only (GET, HEAD, OPTIONS)');
  const overrideRefused = methodOverrideRefused('this route');
  return {
    name: 'routes',
    run(request, state, next): Outcome {
      const route = state.route;
      if (!route) return next();
      if (route.readOnly === true) {
        if (!READ_METHODS.has(request.method)) return readOnlyRoute;
        if (overridesToWrite(request)) return overrideRefused;
      }
      const identity = state.identity;
      if (!route.providers && !route.groups && !route.scopes) return next(`route=${route.name}`);
      if (!identity) return deny(401, 'missing_credential', 'this route requires authentication', { challenge: true });
      if (route.providers && !route.providers.has(identity.provider)) {
        return deny(403, 'provider_not_allowed', `route ${route.name} does not accept identities from this provider`);
      }
      if (route.groups && !identity.groups.some((g) => route.groups!.includes(g))) {
        return deny(403, 'group_not_allowed', `route ${route.name} requires membership of one of its groups`);
      }
      if (route.scopes && !route.scopes.every((s) => identity.scopes.includes(s))) {
        return deny(403, 'insufficient_scope', `route ${route.name} requires the scopes: ${route.scopes.join(' ')}`);
      }
      return next(`route=${route.name}`);
    },
  };
}

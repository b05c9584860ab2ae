// Paths: refuse a path that does not normalise, let bypass paths through untouched, and mark public paths and the matching route before authentication.
import { allow, deny, overrideMethods, type AccessRequest, type MatchedRoute } from '../core/access.js';
import type { PatternList } from '../core/path-pattern.js';
import type { Outcome, Stage } from '../core/pipeline.js';
import type { RouteTable } from './routes.js';

export interface PathsConfig {
  /** No policy at all (reason `bypass`). */
  readonly bypass: PatternList;
  /** Anonymous callers pass; a presented credential is still checked. */
  readonly public: PatternList;
  /** Exceptions to `public`: these must authenticate. */
  readonly restrictPublic: PatternList;
  /** Per-route rules; the first match is carried to the stages after authentication. */
  readonly routes: RouteTable;
}

export function paths(config: PathsConfig): Stage {
  const bypassed = allow('bypass', 'the path is on the bypass list');
  const ambiguous = deny(400, 'method_override_conflict', 'a method-override header names a method that other path rules or routes govern than the request method');
  return {
    name: 'paths',
    run(request, state, next): Outcome {
      if (request.pathError) {
        return deny(400, 'invalid_path', `the request path is not accepted: ${request.pathError}`);
      }
      const { method, path } = request;
      // An upstream may run the request as a method an override header names: the path rules must say the same for each.
      const others = overrideMethods(request);
      const inList = (list: PatternList): boolean =>
        list.size > 0 && list.match(method, path) !== -1 && (others === undefined || others.every((m) => list.match(m, path) !== -1));
      const inAny = (list: PatternList): boolean =>
        list.size > 0 && (list.match(method, path) !== -1 || (others !== undefined && others.some((m) => list.match(m, path) !== -1)));
      if (inList(config.bypass)) return bypassed;

      const route = config.routes.size > 0 ? config.routes.match(request) : undefined;
      if (others !== undefined && config.routes.size > 0 && !sameRouteFor(config.routes, request, others, route)) return ambiguous;
      const listedPublic = inList(config.public) && !inAny(config.restrictPublic);
      // A route that says whether it is anonymous wins over the path lists; otherwise they decide.
      const anonymous = route?.anonymous ?? listedPublic;
      if (route) state.route = route;
      state.anonymousAllowed = anonymous;
      const detail = route ? (anonymous ? `route=${route.name} public` : `route=${route.name}`) : anonymous ? 'public' : undefined;
      return next(detail);
    },
  };
}

/** Whether the request would match the same route (or none) as each overriding method too. */
function sameRouteFor(routes: RouteTable, request: AccessRequest, methods: readonly string[], route: MatchedRoute | undefined): boolean {
  return methods.every((m) => routes.match({ ...request, method: m }) === route);
}

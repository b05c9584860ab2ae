// Paths: refuse a path that does not normalise, let bypass paths through untouched, and mark public paths and the matching route before authentication.
import { allow, deny, type Verdict } from '../core/access.js';
import type { PatternList } from '../core/path-pattern.js';
import type { Stage } from '../core/pipeline.js';
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
  return {
    name: 'paths',
    run(request, state, next): Promise<Verdict> {
      if (request.pathError) {
        return Promise.resolve(deny(400, 'invalid_path', `the request path is not accepted: ${request.pathError}`));
      }
      const { method, path } = request;
      if (config.bypass.size > 0 && config.bypass.match(method, path) !== -1) return Promise.resolve(bypassed);

      const route = config.routes.size > 0 ? config.routes.match(request) : undefined;
      const listedPublic =
        config.public.size > 0 && config.public.match(method, path) !== -1 && config.restrictPublic.match(method, path) === -1;
      // A route that says whether it is anonymous wins over the path lists; otherwise they decide.
      const anonymous = route?.anonymous ?? listedPublic;
      if (route) state.route = route;
      state.anonymousAllowed = anonymous;
      const detail = route ? (anonymous ? `route=${route.name} public` : `route=${route.name}`) : anonymous ? 'public' : undefined;
      return next(detail);
    },
  };
}

// Read-only groups: their members may only read (GET, HEAD, OPTIONS), unless the matched route lifts it.
import { deny, type Verdict } from '../core/access.js';
import type { Stage } from '../core/pipeline.js';

/** Methods that do not change anything (RFC 9110 safe methods the gateway lets read-only callers use). */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ReadOnlyConfig {
  readonly readOnly: readonly string[];
}

export function readOnly(config: ReadOnlyConfig): Stage {
  const groups = new Set(config.readOnly);
  const refused = deny(403, 'read_only', 'your group may only read (GET, HEAD, OPTIONS)');
  return {
    name: 'read_only',
    run(request, state, next): Promise<Verdict> {
      const identity = state.identity;
      if (groups.size === 0 || !identity || READ_METHODS.has(request.method)) return next();
      // Read-only wins over every other group the caller is in; only a route with readOnly: false lifts it.
      if (state.route?.readOnly === false) return next('lifted by route');
      if (identity.groups.some((g) => groups.has(g))) return Promise.resolve(refused);
      return next();
    },
  };
}

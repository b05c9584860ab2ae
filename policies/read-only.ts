// Read-only groups: their members may only read (GET, HEAD, OPTIONS), unless the matched route lifts it.
import { deny, type AccessRequest, type Verdict } from '../core/access.js';
import type { Outcome, Stage } from '../core/pipeline.js';

/** Methods that do not change anything (RFC 9110 safe methods the gateway lets read-only callers use). */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A request whose method-override headers (`X-HTTP-Method-Override` and kin) name anything but
 * reads: the upstream framework may run it as that method, so read-only callers are refused it.
 * Rare, so the split costs nothing on the common path.
 */
export const overridesToWrite = (request: AccessRequest): boolean =>
  request.methodOverride !== undefined && !request.methodOverride.split(',').every((m) => READ_METHODS.has(m.trim()));

/** The refusal shared by every read-only check (group, token, route): the reason names the header, not the method. */
export const methodOverrideRefused = (who: string): Verdict =>
  deny(403, 'method_override_read_only', `${who} may only read: a method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) may name only GET, HEAD or OPTIONS`);

export interface ReadOnlyConfig {
  readonly readOnly: readonly string[];
}

export function readOnly(config: ReadOnlyConfig): Stage {
  const groups = new Set(config.readOnly);
  const refused = deny(403, 'read_only', 'your group may only read (GET, HEAD, OPTIONS)');
  const overrideRefused = methodOverrideRefused('your group');
  return {
    name: 'read_only',
    run(request, state, next): Outcome {
      const identity = state.identity;
      if (groups.size === 0 || !identity) return next();
      const writes = !READ_METHODS.has(request.method);
      if (!writes && !overridesToWrite(request)) return next();
      // Read-only wins over every other group the caller is in; only a route with readOnly: false lifts it.
      if (state.route?.readOnly === false) return next('lifted by route');
      if (identity.groups.some((g) => groups.has(g))) return writes ? refused : overrideRefused;
      return next();
    },
  };
}

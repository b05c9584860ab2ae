// Token scopes: a gateway token may be read-only, limited to path prefixes, and limited to client addresses.
import { deny } from '../core/access.js';
import { compileAddresses, type AddressList } from '../core/net.js';
import type { Outcome, Stage } from '../core/pipeline.js';
import { methodOverrideRefused, overridesToWrite, READ_METHODS } from './read-only.js';

/** `/rest` covers `/rest` and `/rest/…`, not `/restore`; `/` covers everything. Paths are normalised on both sides. */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || path === prefix) return true;
  return path.startsWith(prefix) && path.charCodeAt(prefix.length) === 0x2f;
}

export function tokenScopes(): Stage {
  const readOnly = deny(403, 'token_read_only', 'this gateway token may only read (GET, HEAD, OPTIONS)');
  const overrideRefused = methodOverrideRefused('this gateway token');
  const outsidePrefixes = deny(403, 'token_path_not_allowed', 'this gateway token may not call this path');
  const otherAddress = deny(403, 'token_ip_not_allowed', 'this gateway token may not be used from this address');
  // Address lists were validated when the token was issued; compiled once per token and kept while it is.
  const compiled = new WeakMap<readonly string[], AddressList>();
  const addresses = (list: readonly string[]): AddressList => {
    let out = compiled.get(list);
    if (!out) compiled.set(list, (out = compileAddresses(list)));
    return out;
  };
  return {
    name: 'token_scopes',
    run(request, state, next): Outcome {
      const token = state.token;
      if (!token) return next();
      if (token.readOnly) {
        if (!READ_METHODS.has(request.method)) return readOnly;
        if (overridesToWrite(request)) return overrideRefused;
      }
      if (token.pathPrefixes.length > 0 && !token.pathPrefixes.some((p) => underPrefix(request.path, p))) {
        return outsidePrefixes;
      }
      if (token.ipAllow.length > 0 && !addresses(token.ipAllow).matches(request.clientIp)) return otherAddress;
      return next(`token=${token.id}`);
    },
  };
}

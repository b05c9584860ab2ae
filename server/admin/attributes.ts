// Every attribute path in a provider's answer, so an admin can pick the username, email and groups paths.
import { isClaimPath } from '../../core/claims.js';

export interface AttributePath {
  /** Dot path as the provider configs take it (`usernameClaim` ...). */
  readonly path: string;
  readonly type: 'string' | 'number' | 'boolean' | 'array';
  readonly value: unknown;
}

const MAX_DEPTH = 8;
const MAX_PATHS = 500;

/** Scalars and arrays of scalars, depth first, in the answer's own key order. */
export function attributePaths(value: unknown): AttributePath[] {
  const out: AttributePath[] = [];
  const walk = (node: unknown, prefix: string, depth: number) => {
    if (out.length >= MAX_PATHS || depth > MAX_DEPTH || typeof node !== 'object' || node === null || Array.isArray(node)) return;
    for (const [key, child] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!isClaimPath(path)) continue;
      if (typeof child === 'string' || typeof child === 'number' || typeof child === 'boolean') {
        out.push({ path, type: typeof child as AttributePath['type'], value: child });
      } else if (Array.isArray(child) && child.every((c) => ['string', 'number', 'boolean'].includes(typeof c))) {
        out.push({ path, type: 'array', value: child });
      } else {
        walk(child, path, depth + 1);
      }
      if (out.length >= MAX_PATHS) return;
    }
  };
  walk(value, '', 0);
  return out;
}

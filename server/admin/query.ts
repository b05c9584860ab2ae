// Query strings of the admin API's read routes, checked strictly: a parameter a route does not take, or one given twice, is a 400.
import type { ParsedUrlQuery } from 'node:querystring';
import { ValidationError } from '../../core/errors.js';
import type { Position } from '../../core/store/port.js';

/** `one`: a single value (given twice is an error); `many`: repeated or comma-separated values. */
export type QueryShape = Readonly<Record<string, 'one' | 'many'>>;

export type QueryValues<S extends QueryShape> = { readonly [K in keyof S]?: S[K] extends 'many' ? readonly string[] : string };

/**
 * The route's parameters by name. An empty value counts as absent (`?after=` is the first page).
 *
 * @throws ValidationError (400 invalid_request) for an unknown parameter (never quoted back) or a repeated one.
 */
export function strictQuery<S extends QueryShape>(query: ParsedUrlQuery, shape: S): QueryValues<S> {
  const out: Record<string, string | readonly string[]> = {};
  const known = Object.keys(shape);
  for (const [name, value] of Object.entries(query)) {
    const kind = Object.hasOwn(shape, name) ? shape[name] : undefined;
    if (kind === undefined) {
      // The name is not quoted back: a credential pasted into a URL must not come back in the answer.
      throw new ValidationError(known.length ? `unknown query parameter: this route takes ${known.join(', ')}` : 'this route takes no query parameters', [
        { path: 'query', message: 'unknown parameter' },
      ]);
    }
    const values = (Array.isArray(value) ? value : [value ?? '']).filter((v) => v !== '');
    if (kind === 'one') {
      if (values.length > 1) throw new ValidationError(`${name} may be given once`, [{ path: name, message: 'given more than once' }]);
      if (values[0] !== undefined) out[name] = values[0];
    } else {
      const items = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
      if (items.length) out[name] = items;
    }
  }
  return out as QueryValues<S>;
}

/** A position as the store hands them out (decimal, no leading zero); else 400 naming `name`. */
export function positionParam(name: string, value: string | undefined): Position | undefined {
  if (value === undefined) return undefined;
  if (!/^(0|[1-9]\d{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new ValidationError(`${name} must be a position from an earlier page`, [{ path: name, message: 'not a position' }]);
  }
  return value as Position;
}

/** `limit`: an integer from 1 to `max`, `fallback` when absent. */
export function limitParam(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const limit = /^\d{1,7}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ValidationError(`limit must be an integer from 1 to ${max}`, [{ path: 'limit', message: 'out of range' }]);
  }
  return limit;
}

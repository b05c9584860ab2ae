// The one JSON body parser of every endpoint that takes a body (admin API, self-service tokens): size, type and nesting limits.
import type Koa from 'koa';
import { koaBody } from 'koa-body';
import { ValidationError } from '../core/errors.js';

/**
 * Objects and arrays nest at most this deep (the top-level value is depth 1). The deepest
 * document the gateway accepts (settings, a provider) is well under 10; handlers that walk a
 * body recursively (the settings merge patch) would overflow the stack on thousands.
 */
export const MAX_JSON_DEPTH = 32;

/** True when `value` nests objects or arrays deeper than `max`; an explicit stack, so no depth can overflow it. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

export interface JsonBodyOptions {
  /** Largest body accepted, in koa-body's notation (`'64kb'`, `'1mb'`): more gets 413. */
  readonly limit: string;
  /** Media types read as JSON; koa-body's list (application/json and a few `+json` types) when not given. */
  readonly types?: readonly string[];
}

/**
 * Middleware that parses a JSON body into `ctx.request.body`: objects and arrays only (koa-body's
 * strict mode), at most `limit` bytes, at most {@link MAX_JSON_DEPTH} levels deep (else 400
 * `invalid_request`). Errors reach the caller's error handler (server/respond.ts maps them).
 */
export function jsonBody(options: JsonBodyOptions): Koa.Middleware {
  const parse = koaBody({
    json: true,
    jsonStrict: true,
    jsonLimit: options.limit,
    multipart: false,
    urlencoded: false,
    text: false,
    ...(options.types ? { jsonTypes: [...options.types] } : {}),
  });
  return async function parseJsonBody(ctx, next) {
    await parse(ctx, async () => undefined);
    if (nestedDeeperThan(ctx.request.body, MAX_JSON_DEPTH)) {
      throw new ValidationError(`the request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`);
    }
    await next();
  };
}

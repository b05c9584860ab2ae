// Admin route for the signed checkpoints: what an operator copies somewhere the store's writers cannot reach.
import type Router from '@koa/router';
import { readCheckpoints } from '../../core/checkpoints/stored.js';
import { ValidationError } from '../../core/errors.js';
import type { EventStore } from '../../core/store/port.js';
import type { AdminState } from './context.js';

export interface CheckpointRoutesDeps {
  readonly store: Pick<EventStore, 'readStream'>;
}

/** A whole number from `min` to `max` in the query, or `fallback` when absent. */
function wholeNumber(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new ValidationError(`${name} must be a whole number from ${min} to ${max}`, [{ path: name, message: 'out of range' }]);
  return n;
}

export function registerCheckpointRoutes(api: Router<AdminState>, { store }: CheckpointRoutesDeps): void {
  // Oldest first, `from` counting checkpoints (0-based): `next` is the `from` of the next page, null after the last.
  api.get('/checkpoints', async (ctx) => {
    const from = wholeNumber(ctx.query.from, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = wholeNumber(ctx.query.limit, 'limit', 1000, 1, 10_000);
    const page = await readCheckpoints(store, from, limit);
    ctx.body = { checkpoints: page.checkpoints, next: page.next ?? null };
  });
}

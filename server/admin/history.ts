// GET /api/v1/history: configuration changes and token events, newest first, with cursor paging and filters on time, actor and type.
import type Router from '@koa/router';
import { parseIsoTime } from '../../core/as-of.js';
import { ValidationError } from '../../core/errors.js';
import { HISTORY_TYPES, readHistory } from '../../core/history.js';
import type { SecretFieldsOf } from '../../core/state-document.js';
import type { EventStore } from '../../core/store/port.js';
import type { AdminState } from './context.js';
import { limitParam, positionParam, strictQuery } from './query.js';

export interface HistoryRoutesDeps {
  readonly store: EventStore;
  readonly secretFieldsOf: SecretFieldsOf;
}

const HISTORY_QUERY = { before: 'one', limit: 'one', from: 'one', to: 'one', actor: 'one', type: 'many' } as const;

function timeParam(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseIsoTime(value.trim());
  if (!parsed.ok) throw new ValidationError(`${name} must be an ISO 8601 time`, [{ path: name, message: parsed.why }]);
  return parsed.time;
}

export function registerHistoryRoutes(api: Router<AdminState>, { store, secretFieldsOf }: HistoryRoutesDeps): void {
  api.get('/history', async (ctx) => {
    const query = strictQuery(ctx.query, HISTORY_QUERY);
    const before = positionParam('before', query.before);
    const limit = limitParam(query.limit, 50, 500);
    const from = timeParam('from', query.from);
    const to = timeParam('to', query.to);
    if (from !== undefined && to !== undefined && from > to) throw new ValidationError('from must not be after to', [{ path: 'from', message: 'after to' }]);
    const unknown = query.type?.find((t) => !HISTORY_TYPES.includes(t));
    if (unknown !== undefined) {
      throw new ValidationError('a value of type is not an event type of the history', [{ path: 'type', message: `one of: ${HISTORY_TYPES.join(', ')}` }]);
    }
    if (query.actor !== undefined && query.actor.length > 256) throw new ValidationError('actor is too long', [{ path: 'actor', message: 'at most 256 characters' }]);
    ctx.body = await readHistory(
      store,
      {
        limit,
        ...(before !== undefined ? { before } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(query.actor !== undefined ? { actor: query.actor } : {}),
        ...(query.type !== undefined ? { types: query.type } : {}),
      },
      secretFieldsOf,
    );
  });
}

// GET /api/v1/events: the raw event feed in global order, filtered by position, type and stream prefix.
import type Router from '@koa/router';
import { ValidationError } from '../../core/errors.js';
import type { EventStore, Position, RecordedEvent } from '../../core/store/port.js';
import type { AdminState } from './context.js';
import { limitParam, positionParam, strictQuery, type QueryValues } from './query.js';

/** The parameters the feed takes; a new one (say, expanding decision blocks) is one entry here. */
export const EVENTS_QUERY = { after: 'one', limit: 'one', type: 'many', stream: 'many' } as const;

export type EventsQuery = QueryValues<typeof EVENTS_QUERY>;

/**
 * What the feed shows for a page of stored events. Today each event as stored; the seam where a
 * block of recorded decisions becomes one entry per decision (it may look at the query's own
 * parameters). `next` stays the position of the last stored event read, so paging is unchanged.
 */
export type FeedEntries = (events: readonly RecordedEvent[], query: EventsQuery) => readonly unknown[] | Promise<readonly unknown[]>;

export const storedEvents: FeedEntries = (events) => events;

export interface EventRoutesDeps {
  readonly store: EventStore;
  readonly entries?: FeedEntries;
}

/** Names event types and stream prefixes are made of; anything else cannot match and is a typo. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:$-]{0,199}$/;
const MAX_NAMES = 20;

function names(param: string, values: readonly string[] | undefined): readonly string[] | undefined {
  if (values === undefined) return undefined;
  if (values.length > MAX_NAMES) throw new ValidationError(`at most ${MAX_NAMES} values of ${param}`, [{ path: param, message: 'too many values' }]);
  const bad = values.find((v) => !NAME.test(v));
  if (bad !== undefined) throw new ValidationError(`a value of ${param} is not a name`, [{ path: param, message: 'letters, digits and _ . : $ -' }]);
  return values;
}

export function registerEventRoutes(api: Router<AdminState>, { store, entries = storedEvents }: EventRoutesDeps): void {
  api.get('/events', async (ctx) => {
    const query = strictQuery(ctx.query, EVENTS_QUERY);
    const after = positionParam('after', query.after);
    const limit = limitParam(query.limit, 100, 1000);
    const types = names('type', query.type);
    const streamPrefixes = names('stream', query.stream);
    const events = await store.readAll({
      ...(after !== undefined ? { after } : {}),
      ...(types ? { types } : {}),
      ...(streamPrefixes ? { streamPrefixes } : {}),
      maxCount: limit,
    });
    const next: Position | null = events.at(-1)?.position ?? after ?? null;
    ctx.body = { events: await entries(events, query), next };
  });
}

// GET /api/v1/events: the raw event feed in global order, filtered by position, type and stream prefix.
import type Router from '@koa/router';
import { ValidationError } from '../../core/errors.js';
import { expandBlocks } from '../../core/decision-log/reader.js';
import { BLOCK_EVENT } from '../../core/decision-log/record.js';
import { LEGACY_DECISION_EVENT } from '../../core/decision-log/legacy.js';
import type { EventStore, Position } from '../../core/store/port.js';
import type { AdminState } from './context.js';
import { limitParam, positionParam, strictQuery, type QueryValues } from './query.js';

/** The parameters the feed takes. `expand=decisions` shows a decision block as one entry per decision. */
export const EVENTS_QUERY = { after: 'one', limit: 'one', type: 'many', stream: 'many', expand: 'one' } as const;

export type EventsQuery = QueryValues<typeof EVENTS_QUERY>;

export interface EventRoutesDeps {
  readonly store: EventStore;
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

export function registerEventRoutes(api: Router<AdminState>, { store }: EventRoutesDeps): void {
  api.get('/events', async (ctx) => {
    const query = strictQuery(ctx.query, EVENTS_QUERY);
    const after = positionParam('after', query.after);
    const limit = limitParam(query.limit, 100, 1000);
    const types = names('type', query.type);
    const streamPrefixes = names('stream', query.stream);
    if (query.expand !== undefined && query.expand !== 'decisions') {
      throw new ValidationError('expand takes one value: decisions', [{ path: 'expand', message: 'unknown value' }]);
    }
    const expand = query.expand === 'decisions';
    // Expanded, a decision reads as an AccessDecided entry: asking for that type reads the blocks that hold them.
    const storedTypes = expand && types?.includes(LEGACY_DECISION_EVENT) ? [...types, BLOCK_EVENT] : types;
    const events = await store.readAll({
      ...(after !== undefined ? { after } : {}),
      ...(storedTypes ? { types: storedTypes } : {}),
      ...(streamPrefixes ? { streamPrefixes } : {}),
      maxCount: limit,
    });
    if (!expand) {
      ctx.body = { events, next: events.at(-1)?.position ?? after ?? null };
      return;
    }
    // `limit` counts entries; a block is never split, so `next` is the last event whose entries were all given.
    const page = await expandBlocks(store, events, limit);
    const entries = types ? page.entries.filter((e) => types.includes(e.type)) : page.entries;
    const next: Position | null = page.last ?? after ?? null;
    ctx.body = { events: entries, next };
  });
}

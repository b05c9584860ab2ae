// Reading the decision log back: a block's decisions, every decision of a query page by page, and blocks expanded in an event feed.
import type { EventStore, Position, RecordedEvent } from '../store/port.js';
import { LEGACY_DECISION_EVENT } from './legacy.js';
import { BLOCK_EVENT, type DecisionQuery, type DecisionRecord, type StoredDecision } from './record.js';

/** A block's decisions in block order. */
export async function readBlock(store: Pick<EventStore, 'decisions'>, block: Position): Promise<DecisionRecord[]> {
  return (await store.decisions.read({ block })).map((s) => s.decision);
}

/**
 * Every decision a query selects, read `pageSize` at a time with the address as cursor, so a
 * month of decisions never sits in memory at once. The query's own `limit` still caps the total.
 */
export async function* readDecisions(
  store: Pick<EventStore, 'decisions'>,
  query: Omit<DecisionQuery, 'after'> = {},
  pageSize = 1000,
): AsyncGenerator<StoredDecision> {
  let left = query.limit ?? Number.POSITIVE_INFINITY;
  let after: StoredDecision | undefined;
  while (left > 0) {
    const page = await store.decisions.read({ ...query, ...(after ? { after } : {}), limit: Math.min(pageSize, left) });
    for (const stored of page) yield stored;
    if (page.length < Math.min(pageSize, left)) return;
    left -= page.length;
    after = page.at(-1);
  }
}

/** One decision as an event feed shows it when asked to expand blocks: shaped like the AccessDecided events of older stores. */
export interface DecisionEntry {
  readonly type: typeof LEGACY_DECISION_EVENT;
  readonly stream: string;
  /** The block's position: the feed's cursor (`after`) moves block by block. */
  readonly position: Position;
  /** The decision's index in its block. */
  readonly index: number;
  /** ISO 8601 time of the request. */
  readonly time: string;
  readonly data: DecisionRecord;
}

/**
 * A page of events with each block replaced by one entry per decision. Blocks are never split:
 * events are taken in order until `limit` entries are reached (always at least one event), and
 * `last` is the position of the last event taken, the next page's cursor.
 */
export async function expandBlocks(
  store: Pick<EventStore, 'decisions'>,
  events: readonly RecordedEvent[],
  limit: number,
): Promise<{ entries: (RecordedEvent | DecisionEntry)[]; last?: Position }> {
  const entries: (RecordedEvent | DecisionEntry)[] = [];
  let last: Position | undefined;
  for (const event of events) {
    if (last !== undefined && entries.length >= limit) break;
    if (event.type !== BLOCK_EVENT) entries.push(event);
    else {
      for (const { index, decision } of await store.decisions.read({ block: event.position })) {
        entries.push({ type: LEGACY_DECISION_EVENT, stream: event.stream, position: event.position, index, time: new Date(decision.time).toISOString(), data: decision });
      }
    }
    last = event.position;
  }
  return last === undefined ? { entries } : { entries, last };
}

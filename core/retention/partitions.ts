// The decision log's day partitions, oldest first, each with what dropping it would take: its events, their positions and decisions.
import { BLOCK_EVENT, type BlockEventData } from '../decision-log/record.js';
import { accessStream, ACCESS_STREAM_PREFIX } from '../events.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import type { Position } from '../store/position.js';

export const DAY_MS = 86_400_000;

export interface DayPartition {
  readonly stream: string;
  /** Days since the epoch (UTC). */
  readonly day: number;
  readonly first: Position;
  readonly last: Position;
  readonly events: number;
  readonly decisions: number;
}

/** Decisions an access event stands for: a block's count, or one for an event of the single-decision form. */
function decisionsIn(e: RecordedEvent): number {
  if (e.type !== BLOCK_EVENT) return 1;
  const count = (e.data as Partial<BlockEventData> | null)?.count;
  return Number.isSafeInteger(count) && (count as number) > 0 ? (count as number) : 0;
}

/** One day's partition, or undefined when the store holds no such stream. */
async function partitionOf(store: Pick<EventStore, 'readStream'>, day: number): Promise<DayPartition | undefined> {
  const stream = accessStream(day * DAY_MS);
  let first: Position | undefined;
  let last: Position | undefined;
  let events = 0;
  let decisions = 0;
  for (let from = 0; ; from += PAGE) {
    const page = await store.readStream(stream, { fromRevision: from, maxCount: PAGE });
    for (const e of page) {
      if (first === undefined || Number(e.position) < Number(first)) first = e.position;
      if (last === undefined || Number(e.position) > Number(last)) last = e.position;
      events += 1;
      decisions += decisionsIn(e);
    }
    if (page.length < PAGE) break;
  }
  return first === undefined || last === undefined ? undefined : { stream, day, first, last, events, decisions };
}

/**
 * Every day partition from the oldest stored up to `lastDay` (inclusive), oldest first. The
 * oldest is the day of the first access event in the global order; days without a stream are
 * skipped.
 */
export async function dayPartitions(store: Pick<EventStore, 'readAll' | 'readStream'>, lastDay: number): Promise<DayPartition[]> {
  const [oldest] = await store.readAll({ streamPrefixes: [ACCESS_STREAM_PREFIX], maxCount: 1 });
  const match = oldest && /^access-(\d{4}-\d{2}-\d{2})$/.exec(oldest.stream);
  if (!match) return [];
  const found: DayPartition[] = [];
  for (let day = Math.floor(Date.parse(`${match[1]}T00:00:00Z`) / DAY_MS); day <= lastDay; day++) {
    const partition = await partitionOf(store, day);
    if (partition) found.push(partition);
  }
  return found;
}

const PAGE = 1000;

// The decision log on KurrentDB: each block an event of its day's access stream, its decisions in that event's metadata; reads scan the access streams.
import { BatchView } from '../decision-log/batch-view.js';
import { blockEvent } from '../decision-log/block-event.js';
import { decodeBatch } from '../decision-log/decode.js';
import { addressKey, BLOCK_EVENT, type DecisionQuery, type DecisionRecord, type SealedBlock, type StoredDecision } from '../decision-log/record.js';
import { ACCESS_STREAM_PREFIX } from '../events.js';
import { limitOf, parsePosition } from './checks.js';
import { serializeEvent } from './hash.js';
import { matchesDecisionQuery } from './memory-decisions.js';
import type { AppendOptions, AppendResult, DecisionLogStore, Position, ReadAllOptions, SerializedEvent } from './port.js';
import type { MappedEvent } from './kurrentdb-mapping.js';

/** Events for one stream, to be written in one multi-stream append with the chain record. */
export interface StreamWrite {
  readonly stream: string;
  readonly events: readonly SerializedEvent[];
  readonly expected: AppendOptions['expectedRevision'];
  /** Decisions of each event, by id (blocks). */
  readonly decisions?: ReadonlyMap<string, readonly DecisionRecord[]>;
}

export interface KurrentDecisionHost {
  /** Write the streams' events with one chain record, atomically. */
  write(writes: readonly StreamWrite[]): Promise<AppendResult>;
  readAllWithDecisions(options: ReadAllOptions): Promise<readonly MappedEvent[]>;
}

const PAGE = 500;

/**
 * Blocks are events like any other (in the chain, in `access-YYYY-MM-DD`), so deleting a day's
 * stream takes its decisions with it. There is no index beside them: a read walks the block
 * events in position order and filters in memory, which suits the audit views' paging over
 * recent decisions, not large searches over months.
 */
export class KurrentDecisionLog implements DecisionLogStore {
  constructor(private readonly host: KurrentDecisionHost) {}

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (blocks.length === 0) throw new TypeError('appendBlocks needs at least one block');
    const decoded = blocks.map(({ id, batch }) => ({ ...blockEvent(id, new BatchView(batch)), decisions: decodeBatch(batch) }));
    // One write per day stream, blocks in order within it; the result is the last block's.
    const byStream = new Map<string, { events: SerializedEvent[]; decisions: Map<string, readonly DecisionRecord[]> }>();
    for (const { stream, event, decisions } of decoded) {
      const write = byStream.get(stream) ?? { events: [] as SerializedEvent[], decisions: new Map<string, readonly DecisionRecord[]>() };
      if (!write.decisions.has(event.id)) write.events.push(serializeEvent(event));
      write.decisions.set(event.id, decisions);
      byStream.set(stream, write);
    }
    const last = decoded.at(-1)!.stream;
    const writes: StreamWrite[] = [...byStream].map(([stream, w]) => ({ stream, events: w.events, expected: 'any', decisions: w.decisions }));
    // The last block's stream goes last, so the result is its.
    writes.sort((a, b) => Number(a.stream === last) - Number(b.stream === last));
    return this.host.write(writes);
  }

  async read(query: DecisionQuery = {}): Promise<StoredDecision[]> {
    const limit = limitOf(query.limit);
    if (limit === 0) return [];
    const backwards = query.direction === 'backwards';
    const after = query.after === undefined ? undefined : addressKey(parsePosition(query.after.block), query.after.index);
    const block = query.block === undefined ? undefined : parsePosition(query.block);
    const found: StoredDecision[] = [];
    let cursor: Position | undefined;
    for (;;) {
      const page = await this.host.readAllWithDecisions({
        streamPrefixes: [ACCESS_STREAM_PREFIX],
        types: [BLOCK_EVENT],
        direction: backwards ? 'backwards' : 'forwards',
        maxCount: PAGE,
        ...(cursor !== undefined ? (backwards ? { before: cursor } : { after: cursor }) : {}),
      });
      for (const { event, decisions = [] } of page) {
        const position = Number(event.position);
        if (block !== undefined && position !== block) continue;
        for (let k = 0; k < decisions.length && found.length < limit; k++) {
          const index = backwards ? decisions.length - 1 - k : k;
          const key = addressKey(position, index);
          if (after !== undefined && (backwards ? key >= after : key <= after)) continue;
          const decision = decisions[index]!;
          if (matchesDecisionQuery(decision, query)) found.push({ block: event.position, index, decision });
        }
        if (found.length >= limit) return found;
      }
      if (page.length < PAGE) return found;
      cursor = page.at(-1)!.event.position;
    }
  }
}

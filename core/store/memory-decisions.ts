// The decision log in the in-memory store: blocks' decisions by block position, beside their events.
import { BatchView } from '../decision-log/batch-view.js';
import { blockEvent } from '../decision-log/block-event.js';
import { decodeBatch } from '../decision-log/decode.js';
import { addressKey, type DecisionQuery, type DecisionRecord, type SealedBlock, type StoredDecision } from '../decision-log/record.js';
import { limitOf, parsePosition, toPosition } from './checks.js';
import { deepFreeze } from './freeze.js';
import type { AppendResult, DecisionLogStore, NewEvent, Position } from './port.js';

export interface MemoryBlockHost {
  /** Append the block's event (a no-op for an id already stored), call `store` with its position, then wake subscribers. */
  appendEvent(stream: string, event: NewEvent, store: (position: number) => void): AppendResult;
}

export class MemoryDecisionLog implements DecisionLogStore {
  /** Decisions by block position; inserted in position order, so iteration is address order. */
  readonly #blocks = new Map<number, readonly DecisionRecord[]>();

  constructor(private readonly host: MemoryBlockHost) {}

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (blocks.length === 0) throw new TypeError('appendBlocks needs at least one block');
    // Every block checked and decoded before the first is stored, as one transaction would.
    const decoded = blocks.map(({ id, batch }) => ({ ...blockEvent(id, new BatchView(batch)), decisions: deepFreeze(decodeBatch(batch)) }));
    let result: AppendResult | undefined;
    for (const { stream, event, decisions } of decoded) {
      result = this.host.appendEvent(stream, event, (position) => {
        if (!this.#blocks.has(position)) this.#blocks.set(position, decisions);
      });
    }
    return result!;
  }

  async read(query: DecisionQuery = {}): Promise<StoredDecision[]> {
    const limit = limitOf(query.limit);
    const backwards = query.direction === 'backwards';
    const after = query.after === undefined ? undefined : addressKey(parsePosition(query.after.block), query.after.index);
    const positions = query.block === undefined ? [...this.#blocks.keys()] : [parsePosition(query.block)];
    if (backwards) positions.reverse();
    const found: StoredDecision[] = [];
    for (const position of positions) {
      const decisions = this.#blocks.get(position) ?? [];
      for (let k = 0; k < decisions.length && found.length < limit; k++) {
        const index = backwards ? decisions.length - 1 - k : k;
        const key = addressKey(position, index);
        if (after !== undefined && (backwards ? key >= after : key <= after)) continue;
        const decision = decisions[index]!;
        if (matchesDecisionQuery(decision, query)) found.push({ block: toPosition(position), index, decision });
      }
    }
    return found;
  }

  /** Forget a block's decisions (its stream was deleted). */
  drop(position: Position): void {
    this.#blocks.delete(Number(position));
  }
}

/** The query's filters other than block and cursor (the KurrentDB store filters in memory too). */
export function matchesDecisionQuery(d: DecisionRecord, q: DecisionQuery): boolean {
  if (q.from !== undefined && d.time < q.from) return false;
  if (q.to !== undefined && d.time >= q.to) return false;
  if (q.username !== undefined && d.identity?.username !== q.username) return false;
  if (q.tokenId !== undefined && d.identity?.tokenId !== q.tokenId) return false;
  if (q.provider !== undefined && d.identity?.provider !== q.provider) return false;
  return true;
}

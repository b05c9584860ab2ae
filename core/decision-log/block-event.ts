// A block's event: what enters the hash chain for a batch of decisions (their count, times and digest), built by every store alike.
import { accessStream } from '../events.js';
import type { NewEvent } from '../store/port.js';
import { blockDigest } from './digest.js';
import { BLOCK_EVENT, MAX_BLOCK_DECISIONS, type BlockEventData, type DecisionBlock } from './record.js';

const DAY_MS = 86_400_000;

/**
 * The AccessDecisionsRecorded event of a block, and its stream (the access stream of the block's
 * UTC day, so retention can drop whole days).
 * @throws TypeError for an empty block, one of more than 4096 decisions, or one spanning two UTC days
 */
export function blockEvent(block: DecisionBlock): { stream: string; event: NewEvent<typeof BLOCK_EVENT, BlockEventData> } {
  const { decisions } = block;
  if (decisions.length === 0 || decisions.length > MAX_BLOCK_DECISIONS) {
    throw new TypeError(`a block holds 1 to ${MAX_BLOCK_DECISIONS} decisions, not ${decisions.length}`);
  }
  let first = decisions[0]!.time;
  let last = first;
  for (const d of decisions) {
    if (d.time < first) first = d.time;
    if (d.time > last) last = d.time;
  }
  if (Math.floor(first / DAY_MS) !== Math.floor(last / DAY_MS)) throw new TypeError('a block holds the decisions of one UTC day');
  return {
    stream: accessStream(first),
    event: {
      id: block.id,
      type: BLOCK_EVENT,
      // Keys in code-unit order: the canonical JSON the chain hashes is then the native serialisation.
      data: { count: decisions.length, digest: blockDigest(decisions), first: new Date(first).toISOString(), last: new Date(last).toISOString() },
      metadata: { actor: 'gateway' },
    },
  };
}

// A block's event: what enters the hash chain for a batch of decisions (their count, times and digest), built by every store alike.
import { accessStream } from '../events.js';
import type { NewEvent } from '../store/port.js';
import type { BatchView } from './batch-view.js';
import { batchDigest } from './digest.js';
import { BLOCK_EVENT, MAX_BLOCK_DECISIONS, type BlockEventData } from './record.js';

const DAY_MS = 86_400_000;

export interface BlockEvent {
  /** The access stream of the block's UTC day, so retention can drop whole days. */
  readonly stream: string;
  readonly event: NewEvent<typeof BLOCK_EVENT, BlockEventData>;
}

/**
 * The AccessDecisionsRecorded event of a sealed batch, read from its bytes.
 * @throws TypeError for an empty batch, or one spanning two UTC days (the writer never seals one)
 */
export function blockEvent(id: string, view: BatchView): BlockEvent {
  return eventOf(id, view.count, (i) => view.time(i), () => batchDigest(view));
}


function eventOf(id: string, count: number, time: (i: number) => number, digest: () => string): BlockEvent {
  if (count === 0 || count > MAX_BLOCK_DECISIONS) throw new TypeError(`a block holds 1 to ${MAX_BLOCK_DECISIONS} decisions, not ${count}`);
  let first = time(0);
  let last = first;
  for (let i = 1; i < count; i++) {
    const t = time(i);
    if (t < first) first = t;
    if (t > last) last = t;
  }
  if (Math.floor(first / DAY_MS) !== Math.floor(last / DAY_MS)) throw new TypeError('a block holds the decisions of one UTC day');
  return {
    stream: accessStream(first),
    event: {
      id,
      type: BLOCK_EVENT,
      // Keys in code-unit order: the canonical JSON the chain hashes is then the native serialisation.
      data: { count, digest: digest(), first: new Date(first).toISOString(), last: new Date(last).toISOString() },
      metadata: { actor: 'gateway' },
    },
  };
}

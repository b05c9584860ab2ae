// Checking a block against its event: the chain vouches for the event, the event's count and digest vouch for the decisions.
import type { EventStore, RecordedEvent } from '../store/port.js';
import { blockDigest } from './digest.js';
import type { BlockEventData } from './record.js';

/** Why a block's stored decisions do not match its AccessDecisionsRecorded event, or undefined when they do. */
export async function checkBlock(store: Pick<EventStore, 'decisions'>, event: RecordedEvent): Promise<string | undefined> {
  const data = event.data as BlockEventData;
  let stored;
  try {
    stored = await store.decisions.read({ block: event.position });
  } catch (err) {
    // A row edited into something no writer makes (a user without its identity, say) cannot even be decoded.
    return `the block’s decisions cannot be read: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (stored.length !== data.count) return `the block holds ${stored.length} decisions, its event ${data.count}`;
  if (stored.some((s, i) => s.index !== i)) return 'the block’s decisions are not numbered from 0 without gaps';
  if (blockDigest(stored.map((s) => s.decision)) !== data.digest) return 'the block’s decisions do not match its digest';
  return undefined;
}

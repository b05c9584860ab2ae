// Reading the signed checkpoints back from the store, in the order they were signed: for export and the admin API.
import type { EventStore } from '../store/port.js';
import { CHECKPOINT_STREAM, parseSignedCheckpoint, type SignedCheckpoint } from './checkpoint.js';

export interface CheckpointPage {
  readonly checkpoints: readonly SignedCheckpoint[];
  /** The `from` of the next page; undefined when this one reached the last checkpoint. */
  readonly next?: number;
}

/**
 * Up to `limit` checkpoints from the `from`-th one (0-based, in signing order). An event of the
 * stream that is not a checkpoint is left out here: `verify` is what reports it.
 */
export async function readCheckpoints(store: Pick<EventStore, 'readStream'>, from: number, limit: number): Promise<CheckpointPage> {
  const events = await store.readStream(CHECKPOINT_STREAM, { fromRevision: from, maxCount: limit });
  const checkpoints: SignedCheckpoint[] = [];
  for (const event of events) {
    const checkpoint = parseSignedCheckpoint(event.data);
    if (checkpoint) checkpoints.push(checkpoint);
  }
  return events.length === limit ? { checkpoints, next: from + limit } : { checkpoints };
}

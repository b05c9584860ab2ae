// Copying a history into a store as it was recorded, hash chain intact: what `portcullis store migrate` needs of its target.
import type { DecisionRecord } from '../decision-log/record.js';
import type { EventStore, Position, RecordedEvent } from './port.js';

/** The decisions of a decision block in the store the history is copied from. */
export type BlockDecisions = (block: RecordedEvent) => Promise<readonly DecisionRecord[]>;

/** A store that can take events recorded elsewhere, verbatim. */
export interface HistoryImport {
  /**
   * Append `events`, in their order, keeping their ids, streams, revisions, times, data,
   * metadata and hashes; positions are the target's own. Atomic: all or nothing.
   * Each decision block's decisions, from `decisionsOf`, are copied with it, so the target's
   * blocks still match their digests.
   * @throws HistoryImportError when an event does not continue the target's chain (its prevHash
   * is not the hash of the target's last event), its hash does not match its content, or its id is stored already
   */
  importRecorded(events: readonly RecordedEvent[], decisionsOf?: BlockDecisions): Promise<void>;
}

export function canImport(store: EventStore): store is EventStore & HistoryImport {
  return typeof (store as Partial<HistoryImport>).importRecorded === 'function';
}

/** An event that would not continue the chain where it was to be copied. */
export class HistoryImportError extends Error {
  readonly code = 'history_import_refused' as const;
  constructor(
    message: string,
    /** The event's position in the store it was read from. */
    readonly position: Position,
  ) {
    super(message);
    this.name = 'HistoryImportError';
  }
}

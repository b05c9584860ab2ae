// `serve` signs checkpoints in one process per store (the single process, or the cluster primary), never per request.
import { CheckpointSigner } from '../../core/checkpoints/signer.js';
import { systemClock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { EventStore } from '../../core/store/port.js';
import { loadCheckpointKey } from '../checkpoint-key.js';
import type { ProcessConfig } from '../config.js';

/** Load (or create) the key and start signing; `stop()` the signer after the last audit flush, before the store closes. */
export function startCheckpointSigner(config: ProcessConfig, store: EventStore, logger: Logger): CheckpointSigner {
  const key = loadCheckpointKey(config.checkpointKey, config.store, logger);
  const every = { everyEvents: config.checkpointEveryEvents, everySeconds: config.checkpointEverySeconds };
  const signer = new CheckpointSigner(store, key, systemClock, logger, every);
  signer.start();
  logger.info({ keyId: key.keyId, ...every }, 'signing checkpoints of the event history');
  return signer;
}

// The decision log's writer: records each decision into the open batch, seals it on a timer or when full, and hands blocks to a sink.
import type { AccessRequest, Decision } from '../access.js';
import { timeOrderedId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { DecisionLogStore, EventStore } from '../store/port.js';
import { DecisionBatch } from './batch.js';
import { MAX_BLOCK_DECISIONS, type SealedBlock } from './record.js';

/**
 * Where sealed batches go: a store's decision log, directly or through its append thread. The
 * blocks of one call are stored in one transaction, in order. The batches stay the caller's and
 * readable (a failed call is made again).
 */
export interface BlockSink extends Pick<DecisionLogStore, 'appendBlocks'> {
  close(): Promise<void>;
}

/** The store's own decision log as a sink, on this thread (the memory store, tests). */
export function storeSink(store: Pick<EventStore, 'decisions'>): BlockSink {
  return { appendBlocks: (blocks) => store.decisions.appendBlocks(blocks), close: () => Promise.resolve() };
}

/**
 * Decisions sent in one call at most. When the store falls behind, the blocks sealed meanwhile
 * go together and share one commit (its cost is mostly the index pages it rewrites, whatever
 * the number of rows); the cap bounds one transaction.
 */
const MAX_DECISIONS_PER_CALL = 16_384;

export interface DecisionLogOptions {
  /**
   * A decision waits at most this long in the open batch before the batch is sealed and written
   * (default 50 ms): what a crash can lose while the store keeps up.
   */
  readonly flushIntervalMs?: number;
  /** Decisions per block at most (1 to 4096, default 4096): a full batch is sealed at once. */
  readonly batchSize?: number;
  /** Decisions held while the store cannot take them (default 100,000); past it new ones are dropped and counted. */
  readonly maxBuffered?: number;
}

interface Queued extends SealedBlock {
  readonly count: number;
}

export class DecisionLogWriter {
  readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly batch: DecisionBatch;
  /** Sealed blocks waiting for the store, oldest first. */
  private readonly queue: Queued[] = [];
  private queued = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Decisions dropped because the buffer was full. */
  dropped = 0;
  /** Decisions stored. */
  written = 0;

  constructor(
    private readonly sink: BlockSink,
    private readonly logger: Logger,
    options: DecisionLogOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.batchSize = options.batchSize ?? MAX_BLOCK_DECISIONS;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > MAX_BLOCK_DECISIONS) {
      throw new TypeError(`batchSize must be an integer from 1 to ${MAX_BLOCK_DECISIONS}`);
    }
    this.batch = new DecisionBatch(this.batchSize);
  }

  /** Decisions recorded and not stored yet: the open batch and the sealed blocks. */
  get pending(): number {
    return this.batch.count + this.queued;
  }

  /** Decisions held at most before new ones are dropped. */
  get capacity(): number {
    return this.maxBuffered;
  }

  /** Write one decision into the open batch: no allocation, no I/O (batch.ts). */
  record(request: AccessRequest, decision: Decision): void {
    if (this.pending >= this.maxBuffered) {
      this.dropped += 1;
      return;
    }
    if (!this.batch.add(request, decision)) {
      this.seal();
      this.batch.add(request, decision);
    }
    if (this.batch.count >= this.batchSize) {
      this.seal();
      // While the store refuses writes, the backoff timer decides when to retry.
      if (this.failures === 0) void this.flush();
    } else {
      this.schedule(this.flushIntervalMs);
    }
  }

  /**
   * Seal the open batch and write every sealed block, oldest first. Resolves once all of them
   * are stored, or once the store refused (they stay queued; the backoff timer retries).
   * Concurrent calls share the one running write.
   */
  async flush(): Promise<void> {
    this.seal();
    do {
      this.flushing ??= this.writeQueue().finally(() => {
        this.flushing = undefined;
        // Back off while the store refuses writes, so a full disk does not become a busy loop.
        if (this.failures > 0) this.schedule(Math.min(5000, this.flushIntervalMs * 2 ** this.failures));
        else if (this.pending > 0) this.schedule(this.flushIntervalMs);
      });
      await this.flushing;
      // A write that was ending when this call came may have left this call's block queued.
    } while (this.queue.length > 0 && this.failures === 0);
  }

  /** Flush until nothing is left, or until `timeoutMs` passes (at shutdown); what is left is logged as lost. */
  async close(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.failures > 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending > 0) this.logger.error({ lost: this.pending }, 'decisions not written at shutdown');
  }

  private seal(): void {
    if (this.batch.count === 0) return;
    const count = this.batch.count;
    this.queue.push({ id: timeOrderedId(), batch: this.batch.seal(), count });
    this.queued += count;
  }

  /** At most one timer; it forgets itself when it fires, so a later flush can always set the next one. */
  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs).unref();
  }

  private async writeQueue(): Promise<void> {
    while (this.queue.length > 0) {
      let blocks = 0;
      let decisions = 0;
      while (blocks < this.queue.length && (blocks === 0 || decisions + this.queue[blocks]!.count <= MAX_DECISIONS_PER_CALL)) {
        decisions += this.queue[blocks]!.count;
        blocks += 1;
      }
      try {
        await this.sink.appendBlocks(this.queue.slice(0, blocks));
      } catch (err) {
        // The blocks' ids make the retry a no-op if this attempt was stored after all.
        this.failures += 1;
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.logger.error({ err, pending: this.pending }, 'decisions could not be written; keeping them buffered');
        }
        return;
      }
      this.failures = 0;
      this.queue.splice(0, blocks);
      this.queued -= decisions;
      this.written += decisions;
    }
  }
}

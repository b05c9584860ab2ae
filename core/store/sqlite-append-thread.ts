// Stores decision blocks in a SQLite store from a worker thread: decoding, hashing and inserting leave the event loop that serves requests.
import { Worker } from 'node:worker_threads';

import type { SealedBlock } from '../decision-log/record.js';
import type { BlockSink } from '../decision-log/writer.js';
import { StoreUnavailableError, type AppendResult } from './port.js';

export interface BlockRequest {
  readonly id: number;
  /** Sealed batches (core/decision-log/layout.ts) with their block ids: copies travel, the writer keeps its own until they are stored. */
  readonly blocks: readonly SealedBlock[];
}

export type BlockReply =
  | { readonly id: number; readonly result: AppendResult }
  | { readonly id: number; readonly error: { readonly message: string; readonly unavailable: boolean } };

export interface AppendThreadOptions {
  readonly busyTimeoutMs?: number;
}

/**
 * A {@link BlockSink} whose blocks are stored by a second connection in a worker thread. The
 * store's guarantees hold across the two connections (each block is one IMMEDIATE transaction
 * that reads the chain head under the write lock). A worker that dies fails the blocks it held,
 * and the next block starts a new one.
 */
export class SqliteAppendThread implements BlockSink {
  #worker: Promise<Worker> | undefined;
  #nextId = 0;
  #closed = false;
  readonly #pending = new Map<number, { resolve: (r: AppendResult) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly file: string,
    private readonly options: AppendThreadOptions = {},
  ) {}

  /**
   * Start the worker and open its connection now rather than at the first block: a gateway that
   * starts serving at once would otherwise hold its first decisions for as long as that takes.
   * @throws StoreUnavailableError when the worker cannot open the store
   */
  async start(): Promise<void> {
    await this.#start();
  }

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    if (this.#closed) throw new StoreUnavailableError('the append thread is closed');
    const worker = await this.#start();
    const id = this.#nextId++;
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, blocks } satisfies BlockRequest);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = await this.#worker?.catch(() => undefined);
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('close');
    await exited;
  }

  #start(): Promise<Worker> {
    this.#worker ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(new URL('./sqlite-append-worker.js', import.meta.url), {
        workerData: { file: this.file, busyTimeoutMs: this.options.busyTimeoutMs },
        // It holds one call's blocks at a time (at most 16k decisions, some MB): a small heap keeps the process's RSS down.
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      });
      worker.on('message', (message: BlockReply | 'ready') => {
        if (message === 'ready') return resolve(worker);
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        if ('result' in message) {
          pending.resolve(message.result);
        } else {
          pending.reject(message.error.unavailable ? new StoreUnavailableError(message.error.message) : new Error(message.error.message));
        }
      });
      const fail = (err: Error) => {
        this.#worker = undefined;
        reject(new StoreUnavailableError(`the append thread stopped: ${err.message}`, { cause: err }));
        for (const { reject: rejectPending } of this.#pending.values()) {
          rejectPending(new StoreUnavailableError('the append thread stopped before answering', { cause: err }));
        }
        this.#pending.clear();
      };
      worker.once('error', fail);
      worker.once('exit', (code) => {
        if (!this.#closed || this.#pending.size > 0) fail(new Error(`exit code ${code}`));
      });
    });
    return this.#worker;
  }
}

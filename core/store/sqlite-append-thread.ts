// Appends to a SQLite store from a worker thread: serialising, hashing and inserting leave the event loop that serves requests.
import { Worker } from 'node:worker_threads';

import { serializeEvent } from './hash.js';
import { StoreUnavailableError, type AppendOptions, type AppendResult, type EventStore, type NewEvent, type SerializedEvent } from './port.js';

/**
 * What the audit writer needs from a store: appending, and closing at shutdown. An appender
 * that keeps events as text may also take them already serialised (`appendSerialized`), so a
 * writer can serialise each event once, as it records it.
 */
export type Appender = Pick<EventStore, 'append' | 'close'> & {
  appendSerialized?(stream: string, events: readonly SerializedEvent[], options?: AppendOptions): Promise<AppendResult>;
};

export interface AppendRequest {
  readonly id: number;
  readonly stream: string;
  /** The events in one string ({@link encodeEvents}): cheaper to send than objects, and parsed by nobody. */
  readonly events: string;
  readonly options: AppendOptions;
}

/**
 * Serialised events as one string: their fields one after another, separated by newlines.
 * Canonical JSON never holds a raw newline (JSON.stringify escapes it); ids and types are refused
 * if they do.
 */
export function encodeEvents(events: readonly SerializedEvent[]): string {
  const fields: string[] = [];
  for (const e of events) {
    if (e.id.includes('\n') || e.type.includes('\n')) throw new TypeError('event id and type must not contain a newline');
    fields.push(e.id, e.type, e.data, e.metadata);
  }
  return fields.join('\n');
}

/** The events {@link encodeEvents} wrote. */
export function decodeEvents(text: string): SerializedEvent[] {
  const fields = text.split('\n');
  const events: SerializedEvent[] = [];
  for (let i = 0; i + 3 < fields.length; i += 4) events.push({ id: fields[i]!, type: fields[i + 1]!, data: fields[i + 2]!, metadata: fields[i + 3]! });
  return events;
}

export type AppendReply =
  | { readonly id: number; readonly result: AppendResult }
  | { readonly id: number; readonly error: { readonly message: string; readonly unavailable: boolean } };

export interface AppendThreadOptions {
  readonly busyTimeoutMs?: number;
}

/**
 * An {@link Appender} whose appends run on a second connection in a worker thread. The store's
 * own guarantees hold across the two connections (each append is one IMMEDIATE transaction
 * that reads the chain head under the write lock). A worker that dies fails the appends it
 * held, and the next append starts a new one.
 */
export class SqliteAppendThread implements Appender {
  #worker: Promise<Worker> | undefined;
  #nextId = 0;
  #closed = false;
  readonly #pending = new Map<number, { resolve: (r: AppendResult) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly file: string,
    private readonly options: AppendThreadOptions = {},
  ) {}

  append(stream: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    return this.appendSerialized(stream, events.map(serializeEvent), options);
  }

  /** Append events already serialised; the worker checks them as `append` would, and parses nothing. */
  async appendSerialized(stream: string, events: readonly SerializedEvent[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.#closed) throw new StoreUnavailableError('the append thread is closed');
    const text = encodeEvents(events);
    const worker = await this.#start();
    const id = this.#nextId++;
    return new Promise<AppendResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, stream, events: text, options } satisfies AppendRequest);
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
        // It holds one batch at a time (at most a few MB): a small heap keeps the process's RSS down.
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 },
      });
      worker.on('message', (message: AppendReply | 'ready') => {
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

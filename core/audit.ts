// The audit writer: records every decision as an AccessDecided event, batched off the request path.
import { accessStream } from './events.js';
import type { AccessRequest, Credential, Decision } from './access.js';
import type { Logger } from './logger.js';
import { serializeEvent } from './store/hash.js';
import type { NewEvent, SerializedEvent } from './store/port.js';
import type { Appender } from './store/sqlite-append-thread.js';

/** What an AccessDecided event records: request facts, identity and reason; never a credential. */
export interface AccessDecidedData {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly clientIp: string;
  readonly peerIp: string;
  readonly credential?: Credential['scheme'];
  readonly allow: boolean;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly description?: string;
  readonly identity?: {
    readonly subject: string;
    readonly username: string;
    readonly provider: string;
    readonly groups: readonly string[];
    readonly tokenId?: string;
  };
  readonly trace: Decision['trace'];
}

export interface AuditOptions {
  /** Flush at least this often. */
  readonly flushIntervalMs?: number;
  /** Flush as soon as this many events wait. */
  readonly batchSize?: number;
  /** Events kept while the store cannot take them; beyond it the oldest are dropped and counted. */
  readonly maxBuffered?: number;
}

/**
 * Keys are written in code-unit order on purpose: the store hashes the canonical (sorted) JSON of
 * every event, and an object already in order is serialised as is instead of copied sorted.
 */
export function accessDecided(request: AccessRequest, decision: Decision): NewEvent<'AccessDecided', AccessDecidedData> {
  const id = decision.identity;
  return {
    id: request.id,
    type: 'AccessDecided',
    data: {
      allow: decision.allow,
      clientIp: request.clientIp,
      ...(request.credential ? { credential: request.credential.scheme } : {}),
      ...(decision.description ? { description: decision.description } : {}),
      host: request.host,
      ...(id
        ? {
            identity: {
              groups: id.groups,
              provider: id.provider,
              subject: id.subject,
              ...(id.tokenId ? { tokenId: id.tokenId } : {}),
              username: id.username,
            },
          }
        : {}),
      method: request.method,
      path: request.path,
      peerIp: request.peerIp,
      reason: decision.reason,
      requestId: request.id,
      stage: decision.stage,
      status: decision.status,
      trace: decision.trace,
    },
    metadata: { actor: 'gateway', time: isoTime(request.time) },
  };
}

/** Requests decided in the same millisecond share their formatted time. */
let lastTime = { ms: Number.NaN, iso: '' };
function isoTime(ms: number): string {
  if (ms !== lastTime.ms) lastTime = { ms, iso: new Date(ms).toISOString() };
  return lastTime.iso;
}

export class AuditWriter {
  /**
   * Events waiting for their batch: serialised as they are recorded when the appender takes text
   * (so what waits, and survives young collections, is two strings, not an object tree).
   */
  private buffer: { stream: string; event: NewEvent | SerializedEvent }[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Events dropped because the buffer was full. */
  dropped = 0;
  written = 0;

  private readonly flushIntervalMs: number;
  private readonly batchSize: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly store: Pick<Appender, 'append' | 'appendSerialized'>,
    private readonly logger: Logger,
    options: AuditOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 100_000;
  }

  get pending(): number {
    return this.buffer.length;
  }

  /** Events held at most before new ones are dropped. */
  get capacity(): number {
    return this.maxBuffered;
  }

  record(request: AccessRequest, decision: Decision): void {
    if (this.buffer.length >= this.maxBuffered) {
      // Dropping the newest keeps the batch a running flush holds aligned with the buffer.
      this.dropped += 1;
      return;
    }
    const event = accessDecided(request, decision);
    this.buffer.push({ stream: accessStream(request.time), event: this.store.appendSerialized ? serializeEvent(event) : event });
    // While the store refuses writes, the backoff timer set after the failure decides when to retry.
    if (this.failures > 0) return;
    if (this.buffer.length >= this.batchSize) void this.flush();
    else this.schedule(this.flushIntervalMs);
  }

  /**
   * Write what is buffered when the flush starts; one append per day stream. Concurrent calls
   * share the running flush. Events recorded meanwhile wait for the next timer (or a full
   * batch): an append per few events would cost a transaction, and its page writes, each.
   */
  flush(): Promise<void> {
    this.flushing ??= this.writeAll(this.buffer.length).finally(() => {
      this.flushing = undefined;
      // Back off while the store refuses writes, so a full disk does not become a busy loop.
      if (this.failures > 0) this.schedule(Math.min(5000, this.flushIntervalMs * 2 ** this.failures));
      else if (this.buffer.length >= this.batchSize) void this.flush();
      else if (this.buffer.length > 0) this.schedule(this.flushIntervalMs);
    });
    return this.flushing;
  }

  /** At most one timer; it forgets itself when it fires, so a later flush can always set the next one. */
  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs).unref();
  }

  /** Flush until nothing is left, or until `timeoutMs` passes (at shutdown). */
  async close(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.failures > 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length > 0) this.logger.error({ lost: this.buffer.length }, 'audit events not written at shutdown');
  }

  private appendBatch(stream: string, events: readonly (NewEvent | SerializedEvent)[]): Promise<unknown> {
    // Serialised events are buffered only for an appender that takes them (record()).
    if (this.store.appendSerialized) return this.store.appendSerialized(stream, events as SerializedEvent[], { durable: false });
    return this.store.append(stream, events as NewEvent[], { durable: false });
  }

  private async writeAll(due: number): Promise<void> {
    while (due > 0 && this.buffer.length > 0) {
      const batch = this.buffer.slice(0, Math.min(this.batchSize, due));
      const byStream = new Map<string, (NewEvent | SerializedEvent)[]>();
      for (const { stream, event } of batch) {
        const events = byStream.get(stream);
        if (events) events.push(event);
        else byStream.set(stream, [event]);
      }
      try {
        for (const [stream, events] of byStream) await this.appendBatch(stream, events);
      } catch (err) {
        // Ids make a retried append idempotent, so a partly written batch is simply sent again.
        this.failures += 1;
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.logger.error({ err, pending: this.buffer.length }, 'audit events could not be written; keeping them buffered');
        }
        return;
      }
      this.failures = 0;
      this.buffer.splice(0, batch.length);
      this.written += batch.length;
      due -= batch.length;
    }
  }
}

// Signs a checkpoint of the chain every N events or T seconds, off the request path, and appends it to the chain durably.
import { randomUUID } from 'node:crypto';

import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { WrongExpectedRevisionError, type EventStore, type Position } from '../store/port.js';
import { CHECKPOINT_SIGNED, CHECKPOINT_STREAM, parseSignedCheckpoint, signCheckpoint, type CheckpointKey, type SignedCheckpoint } from './checkpoint.js';
import { recordedGaps } from '../retention/bridge.js';

export interface CheckpointSignerOptions {
  /** Sign once this many events were appended since the last checkpoint. */
  readonly everyEvents: number;
  /** Sign once this long has passed since the last checkpoint, if anything was appended. */
  readonly everySeconds: number;
  /** How often to look for new events. Default 1000 ms. */
  readonly pollMs?: number;
}

/** What the signer needs from a store: its own stream, and the chain's length and head. */
export type CheckpointStore = Pick<EventStore, 'append' | 'readStream' | 'countEvents'>;

/** Counted a chunk at a time, yielding between chunks, so a long stretch never holds the event loop. */
const COUNT_CHUNK = 10_000;

interface Anchor {
  /** The position and chain length the last checkpoint signed. */
  readonly position: Position;
  readonly count: number;
  /** Where that checkpoint's own event is. */
  readonly eventPosition: Position;
  readonly signedAtMs: number;
}

/** Events counted since the anchor: how many, and the last of them. */
interface Tally {
  count: number;
  last?: { readonly position: Position; readonly hash: string };
}

/**
 * One per store: in `serve`, the single process or the cluster primary. {@link tick} is one
 * round (count what is new, sign when due); {@link start} runs it on a timer, {@link stop}
 * signs what is left.
 *
 * A checkpoint must never name a position a crash could still take back (a store that
 * reused it would then look rewritten). So its event is appended durably: on SQLite the
 * write-ahead log is synced through the checkpoint, and with it through every event before
 * it, the signed one included, before any reader can see the checkpoint.
 */
export class CheckpointSigner {
  #anchor: Anchor | undefined;
  /** Revision of the checkpoint stream's last event: the next append expects it, so no second signer interleaves. */
  #revision: number | undefined;
  #tally: Tally = { count: 0 };
  readonly #startedMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #inFlight = 0;
  #failing = false;
  #loaded = false;

  constructor(
    private readonly store: CheckpointStore,
    private readonly key: CheckpointKey,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: CheckpointSignerOptions,
  ) {
    if (!Number.isSafeInteger(options.everyEvents) || options.everyEvents < 1) throw new TypeError('everyEvents must be a whole number of at least 1');
    if (!(options.everySeconds > 0)) throw new TypeError('everySeconds must be positive');
    this.#startedMs = clock.now();
  }

  /** The last checkpoint this signer knows of, signed by it or found in the store. */
  get last(): { readonly position: Position; readonly count: number } | undefined {
    return this.#anchor && { position: this.#anchor.position, count: this.#anchor.count };
  }

  /** Poll: a first round at once (it resumes from the last stored checkpoint), then one every pollMs. */
  start(): void {
    const pollMs = Math.min(this.options.pollMs ?? 1000, this.options.everySeconds * 1000);
    // A round still running (a long first count) is not queued behind again.
    this.#timer = setInterval(() => void (this.#inFlight === 0 && this.tick()), pollMs);
    this.#timer.unref();
    void this.tick();
  }

  /** One round: count the events appended since the last round, and sign if N events or T seconds are reached. */
  tick(): Promise<SignedCheckpoint | undefined> {
    return this.#exclusive(() => this.#round(false));
  }

  /**
   * Stop polling, and sign whatever was appended since the last checkpoint (call it after the
   * last append, before the store closes). Never throws: a failure is logged.
   */
  async stop(): Promise<SignedCheckpoint | undefined> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#exclusive(() => this.#round(true));
  }

  /** Rounds never overlap (the timer, a test's tick and stop may all ask at once). */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight += 1;
    const next = this.#running.then(work).finally(() => (this.#inFlight -= 1));
    this.#running = next.catch(() => undefined);
    return next;
  }

  async #round(final: boolean): Promise<SignedCheckpoint | undefined> {
    try {
      if (!this.#loaded) await this.#load();
      await this.#catchUp();
      const signed = this.#due(final) ? await this.#sign() : undefined;
      if (this.#failing) this.logger.info('checkpoint signing works again');
      this.#failing = false;
      return signed;
    } catch (err) {
      if (err instanceof WrongExpectedRevisionError) {
        // Another signer wrote to the stream: take its checkpoint as the anchor and count on from there.
        this.logger.warn({ stream: CHECKPOINT_STREAM }, 'another process signed a checkpoint; continuing from it');
        this.#loaded = false;
        return undefined;
      }
      // Logged once per run of failures: a store that is down would otherwise log every poll.
      if (!this.#failing || final) this.logger.error({ err }, final ? 'could not sign the last checkpoint' : 'could not sign a checkpoint; retrying');
      this.#failing = true;
      return undefined;
    }
  }

  async #load(): Promise<void> {
    const [event] = await this.store.readStream(CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 });
    const checkpoint = event && parseSignedCheckpoint(event.data);
    this.#revision = event?.revision;
    this.#anchor = event && checkpoint
      ? { position: checkpoint.position, count: checkpoint.count, eventPosition: event.position, signedAtMs: Date.parse(checkpoint.time) }
      : undefined;
    if (event && !checkpoint) {
      // Counting from the first event gives the right count all the same; verify reports the event.
      this.logger.warn({ position: event.position }, `the last event of stream ${CHECKPOINT_STREAM} is not a checkpoint; counting the chain from its first event`);
    }
    // With no checkpoint to count on from, the count starts at the first stored event: the events
    // retention dropped before it are part of the chain's length all the same (verify counts them).
    this.#tally = { count: this.#anchor ? 0 : (await recordedGaps(this.store)).reduce((sum, g) => sum + g.events, 0) };
    this.#loaded = true;
  }

  /** Count every event appended since the last round. */
  async #catchUp(): Promise<void> {
    for (;;) {
      const after = this.#tally.last?.position ?? this.#anchor?.position;
      const chunk = await this.store.countEvents({ ...(after !== undefined ? { after } : {}), maxCount: COUNT_CHUNK });
      if (chunk.last) {
        this.#tally.count += chunk.count;
        this.#tally.last = chunk.last;
      }
      if (chunk.count < COUNT_CHUNK) return;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Events since the last checkpoint, leaving out that checkpoint's own event. */
  #fresh(): number {
    const anchor = this.#anchor;
    const last = this.#tally.last;
    const ownEventCounted = anchor !== undefined && last !== undefined && Number(last.position) >= Number(anchor.eventPosition);
    return this.#tally.count - (ownEventCounted ? 1 : 0);
  }

  #due(final: boolean): boolean {
    const fresh = this.#fresh();
    if (fresh <= 0) return false;
    if (final || fresh >= this.options.everyEvents) return true;
    const since = this.#anchor?.signedAtMs ?? this.#startedMs;
    return this.clock.now() - since >= this.options.everySeconds * 1000;
  }

  async #sign(): Promise<SignedCheckpoint> {
    const last = this.#tally.last!;
    const now = this.clock.now();
    const checkpoint = signCheckpoint(
      { position: last.position, count: (this.#anchor?.count ?? 0) + this.#tally.count, hash: last.hash, time: new Date(now).toISOString() },
      this.key,
    );
    const result = await this.store.append(
      CHECKPOINT_STREAM,
      [{ id: randomUUID(), type: CHECKPOINT_SIGNED, data: checkpoint, metadata: { actor: 'system' } }],
      // Durable: see the class comment. The expected revision keeps a second signer from interleaving.
      { expectedRevision: this.#revision ?? 'no_stream', durable: true },
    );
    this.#anchor = { position: last.position, count: checkpoint.count, eventPosition: result.position, signedAtMs: now };
    this.#revision = result.nextRevision;
    this.#tally = { count: 0 };
    this.logger.debug({ position: checkpoint.position, count: checkpoint.count, keyId: checkpoint.keyId }, 'signed a checkpoint');
    return checkpoint;
  }
}

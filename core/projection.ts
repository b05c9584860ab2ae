// A checkpointed projection: folds a store's events into state, catches up at start, then follows live.
import type { Logger } from './logger.js';
import type { DataEquals, EventStore, Position, RecordedEvent } from './store/port.js';

export interface ProjectionOptions<S, L = undefined> {
  /** Checkpoint name; also what logs call it. */
  readonly name: string;
  /** Bump when the state's shape or the fold changes: older checkpoints are then ignored. */
  readonly version: number;
  readonly streamPrefixes: readonly string[];
  /** Only the events of those streams whose data matches (filtered in the store where it can). */
  readonly dataEquals?: DataEquals;
  readonly initial: S;
  readonly evolve: (state: S, event: RecordedEvent, loaded: L | undefined) => S;
  /** Read what an event stands for before it is folded (a decision block's decisions); evolve's third argument. */
  readonly load?: (event: RecordedEvent) => Promise<L>;
  readonly logger: Logger;
  /** Save a checkpoint after this many folded events (and at start and stop). */
  readonly checkpointEvery?: number;
  /** The state as a checkpoint stores it (JSON); default: the state itself. For states holding Maps. */
  readonly snapshot?: (state: S) => unknown;
  /** The state from what `snapshot` returned; default: taken as is. */
  readonly restore?: (saved: unknown) => S;
  /** false: resume from the checkpoint but never write one, for a store opened read-only (default true). */
  readonly saveCheckpoints?: boolean;
}

/** Positions are decimal strings in every adapter; compare them as integers. */
export const positionAfter = (a: Position, b: Position | undefined): boolean =>
  b === undefined || BigInt(a) > BigInt(b);

export class Projection<S, L = undefined> {
  private current: S;
  private at: Position | undefined;
  private sinceCheckpoint = 0;
  private readonly listeners = new Set<(state: S, event: RecordedEvent) => void>();
  private waiters: { position: Position; resolve: () => void }[] = [];
  private readonly abort = new AbortController();
  private following: Promise<void> | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly options: ProjectionOptions<S, L>,
  ) {
    this.current = options.initial;
  }

  get state(): S {
    return this.current;
  }

  get position(): Position | undefined {
    return this.at;
  }

  /** Resume from the checkpoint, catch up with the store, then follow it in the background. */
  async start(): Promise<{ replayed: number }> {
    const checkpoint = await this.store.loadCheckpoint(this.options.name);
    const saved = checkpoint?.state as { version?: number; state?: unknown } | undefined;
    if (checkpoint && saved?.version === this.options.version && saved.state !== undefined) {
      // A checkpoint is only a shortcut: one that cannot be read is replaced by a full replay.
      try {
        this.current = this.options.restore ? this.options.restore(saved.state) : (saved.state as S);
        this.at = checkpoint.position;
      } catch (err) {
        this.options.logger.warn({ err, projection: this.options.name }, 'checkpoint unreadable; replaying every event');
      }
    }
    let replayed = 0;
    // Everything up to this head is read below; remembering it spares the next start (and the
    // live subscription) a rescan of the other streams' events since our last matching one.
    const head = await this.store.headPosition();
    for (;;) {
      const page = await this.store.readAll({
        ...(this.at !== undefined ? { after: this.at } : {}),
        streamPrefixes: this.options.streamPrefixes,
        ...(this.options.dataEquals ? { dataEquals: this.options.dataEquals } : {}),
        maxCount: 1000,
      });
      for (const event of page) this.fold(event, this.options.load ? await this.load(event) : undefined);
      replayed += page.length;
      if (page.length < 1000) break;
    }
    const skipped = head !== undefined && positionAfter(head, this.at);
    if (skipped) this.at = head;
    // Nothing new since the checkpoint: saving the same state again would only cost time and memory.
    if (replayed > 0 || skipped) await this.saveCheckpoint();
    this.following = this.follow();
    return { replayed };
  }

  onChange(listener: (state: S, event: RecordedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the projection has folded the event at `position` (read-your-writes for commands). */
  waitFor(position: Position): Promise<void> {
    if (!positionAfter(position, this.at)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ position, resolve }));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.following;
    await this.saveCheckpoint().catch((err: unknown) =>
      this.options.logger.warn({ err, projection: this.options.name }, 'checkpoint not saved at stop'),
    );
  }

  /** Events already folded (a checkpoint overlaps a page) load nothing. */
  private async load(event: RecordedEvent): Promise<L | undefined> {
    return this.options.load && positionAfter(event.position, this.at) ? this.options.load(event) : undefined;
  }

  private fold(event: RecordedEvent, loaded: L | undefined): void {
    if (!positionAfter(event.position, this.at)) return;
    this.current = this.options.evolve(this.current, event, loaded);
    this.at = event.position;
    this.sinceCheckpoint += 1;
    for (const listener of this.listeners) listener(this.current, event);
  }

  private async follow(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const live = this.store.subscribe({
          ...(this.at !== undefined ? { after: this.at } : {}),
          streamPrefixes: this.options.streamPrefixes,
          ...(this.options.dataEquals ? { dataEquals: this.options.dataEquals } : {}),
          signal,
          // Events the filter skips still move the projection on, so waitFor() ends for them too.
          onSkipped: (position) => {
            if (!positionAfter(position, this.at)) return;
            this.at = position;
            this.releaseWaiters();
          },
        });
        for await (const event of live) {
          this.fold(event, this.options.load ? await this.load(event) : undefined);
          this.releaseWaiters();
          if (this.sinceCheckpoint >= (this.options.checkpointEvery ?? 100)) await this.saveCheckpoint();
        }
      } catch (err) {
        if (signal.aborted) break;
        this.options.logger.error({ err, projection: this.options.name }, 'subscription failed; retrying in 1 s');
        await new Promise((r) => setTimeout(r, 1000).unref());
      }
    }
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const pending: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (positionAfter(w.position, this.at)) pending.push(w);
      else w.resolve();
    }
    this.waiters = pending;
  }

  private async saveCheckpoint(): Promise<void> {
    if (this.at === undefined || this.options.saveCheckpoints === false) return;
    this.sinceCheckpoint = 0;
    await this.store.saveCheckpoint(this.options.name, {
      position: this.at,
      state: { version: this.options.version, state: this.options.snapshot ? this.options.snapshot(this.current) : this.current },
    });
  }
}

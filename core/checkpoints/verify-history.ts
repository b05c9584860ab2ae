// `verify`'s whole check: the hash chain, every stored checkpoint's signature, and that the store still holds the events each checkpoint (stored or exported) names.
import { verifyChain, type GapBridge } from '../store/hash.js';
import type { EventStore, Position, RecordedEvent } from '../store/port.js';
import { CHECKPOINT_STREAM, hasValidSignature, parseSignedCheckpoint, type SignedCheckpoint } from './checkpoint.js';

/** Where a checkpoint came from: an event in the store, or entry n (1-based) of a file kept elsewhere. */
export type CheckpointSource = { readonly kind: 'stored'; readonly eventPosition: Position } | { readonly kind: 'file'; readonly entry: number };

export type HistoryProblem =
  /** A link or a hash does not check out at `position`: the first bad position. */
  | { readonly kind: 'chain'; readonly position: Position; readonly reason: string }
  /** A checkpoint whose signature does not verify (or that is not a checkpoint at all). */
  | { readonly kind: 'bad_signature'; readonly source: CheckpointSource; readonly reason: string }
  /**
   * The chain checks out, but not against this checkpoint: the event it names is gone, or has
   * another hash or another place in the chain. The change lies after `since` (the last
   * position a checkpoint still matched), at or before the checkpoint's position.
   */
  | {
      readonly kind: 'checkpoint_mismatch';
      readonly source: CheckpointSource;
      readonly checkpoint: SignedCheckpoint;
      /** What the store holds there; undefined when it holds no event at that position. */
      readonly found?: { readonly hash: string; readonly count: number };
      readonly since?: Position;
    };

export interface HistoryVerification {
  readonly ok: boolean;
  /** Events checked (up to and including the one where a problem was found). */
  readonly events: number;
  readonly head?: string;
  readonly checkpoints: {
    /** Checkpoints in the store, and in the file given. */
    readonly stored: number;
    readonly file: number;
    /** Checkpoints found to match the store (a checkpoint in both places counts twice). */
    readonly matched: number;
    /** Checkpoints naming an event retention dropped (bridged in the chain), so not checked against it; absent when none. */
    readonly retired?: number;
    /** The keys that signed the stored checkpoints. */
    readonly keyIds: readonly string[];
    /** The highest position a checkpoint anchors and the store still matches. */
    readonly anchoredThrough?: Position;
  };
  readonly problem?: HistoryProblem;
}

export interface HistoryVerifyOptions {
  /** Checkpoints kept outside the store (an export), each checked against it. */
  readonly exported?: readonly SignedCheckpoint[];
  readonly onProgress?: (checked: number) => void;
  /** Retention's seam, handed to {@link verifyChain}. */
  readonly acceptGap?: GapBridge;
}

interface Anchor {
  readonly at: number;
  readonly checkpoint: SignedCheckpoint;
  readonly source: CheckpointSource;
}

export async function verifyHistory(store: Pick<EventStore, 'readAll' | 'readStream' | 'decisions'>, options: HistoryVerifyOptions = {}): Promise<HistoryVerification> {
  const exported = options.exported ?? [];
  const stored = await storedCheckpoints(store);
  const keyIds = [...new Set(stored.valid.map((a) => a.checkpoint.keyId))];
  const summary = { stored: stored.valid.length + stored.bad.size, file: exported.length, keyIds };

  // A copy that does not verify cannot vouch for anything: say so before reading the store.
  const badEntry = exported.findIndex((c) => !hasValidSignature(c));
  if (badEntry >= 0) {
    const problem: HistoryProblem = { kind: 'bad_signature', source: { kind: 'file', entry: badEntry + 1 }, reason: 'the signature does not verify' };
    return { ok: false, events: 0, checkpoints: { ...summary, matched: 0 }, problem };
  }

  const anchors: Anchor[] = [
    ...stored.valid,
    ...exported.map((checkpoint, i): Anchor => ({ at: Number(checkpoint.position), checkpoint, source: { kind: 'file', entry: i + 1 } })),
  ].sort((a, b) => a.at - b.at);
  let next = 0;
  let matched = 0;
  let retired = 0;
  let anchoredThrough: Position | undefined;
  let problem: HistoryProblem | undefined;

  const mismatch = (anchor: Anchor, found?: { hash: string; count: number }): string => {
    problem = { kind: 'checkpoint_mismatch', source: anchor.source, checkpoint: anchor.checkpoint, ...(found ? { found } : {}), ...(anchoredThrough !== undefined ? { since: anchoredThrough } : {}) };
    return found ? 'the event does not match a signed checkpoint' : 'an event a signed checkpoint names is gone';
  };

  // Where the walk last crossed a gap retention bridged: checkpoints naming a dropped event lie in it.
  let bridgedAfter: number | undefined;
  const acceptGap: GapBridge | undefined = options.acceptGap && ((gap) => {
    const accepted = options.acceptGap!(gap);
    if (accepted !== undefined) bridgedAfter = gap.before === undefined ? 0 : Number(gap.before.position);
    return accepted;
  });

  const onEvent = (e: RecordedEvent, length: number): string | undefined => {
    const at = Number(e.position);
    // Their events went with the drop: nothing is left to match them against. The count they
    // vouch for still holds, as later checkpoints' counts include the dropped events.
    if (bridgedAfter !== undefined) {
      while (next < anchors.length && anchors[next]!.at > bridgedAfter && anchors[next]!.at < at) {
        next += 1;
        retired += 1;
      }
      bridgedAfter = undefined;
    }
    const bad = stored.bad.get(e.position);
    if (bad !== undefined) {
      problem = { kind: 'bad_signature', source: { kind: 'stored', eventPosition: e.position }, reason: bad };
      return bad;
    }
    // Positions only grow: a checkpoint below this event names one the walk passed without meeting.
    if (next < anchors.length && anchors[next]!.at < at) return mismatch(anchors[next]!);
    const before = matched;
    for (; next < anchors.length && anchors[next]!.at === at; next++) {
      const { checkpoint } = anchors[next]!;
      if (checkpoint.hash !== e.hash || checkpoint.count !== length) return mismatch(anchors[next]!, { hash: e.hash, count: length });
      matched += 1;
    }
    // Only once every checkpoint naming this position agreed with it.
    if (matched > before) anchoredThrough = e.position;
    return undefined;
  };

  const chain = await verifyChain(store, { onEvent, ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(acceptGap ? { acceptGap } : {}) });
  // Past the last event: a checkpoint still ahead names events that were cut from the end.
  if (chain.ok && next < anchors.length) mismatch(anchors[next]!);
  if (!chain.ok && problem === undefined) problem = { kind: 'chain', position: chain.position, reason: chain.reason };
  const checkpoints = { ...summary, matched, ...(retired > 0 ? { retired } : {}), ...(anchoredThrough !== undefined ? { anchoredThrough } : {}) };
  const head = chain.ok && chain.head !== undefined ? { head: chain.head } : {};
  return problem ? { ok: false, events: chain.count, ...head, checkpoints, problem } : { ok: true, events: chain.count, ...head, checkpoints };
}

/** The store's checkpoints: those that verify, and (by event position) why the others do not. */
async function storedCheckpoints(store: Pick<EventStore, 'readStream'>): Promise<{ valid: Anchor[]; bad: Map<Position, string> }> {
  const valid: Anchor[] = [];
  const bad = new Map<Position, string>();
  for (let from = 0; ; from += PAGE) {
    const page = await store.readStream(CHECKPOINT_STREAM, { fromRevision: from, maxCount: PAGE });
    for (const event of page) {
      const checkpoint = parseSignedCheckpoint(event.data);
      if (!checkpoint) bad.set(event.position, 'a checkpoint event that holds no checkpoint');
      else if (!hasValidSignature(checkpoint)) bad.set(event.position, 'the signature of a stored checkpoint does not verify');
      else if (Number(checkpoint.position) >= Number(event.position)) bad.set(event.position, 'a stored checkpoint names a position after its own');
      else valid.push({ at: Number(checkpoint.position), checkpoint, source: { kind: 'stored', eventPosition: event.position } });
    }
    if (page.length < PAGE) return { valid, bad };
  }
}

const PAGE = 1000;

// Replay: settings, providers and tokens as of a point in the history — the live projections' own folds, run from the first event and stopped there.
import { AsOfError, describeAsOf, type AsOf } from './as-of.js';
import { CONFIG_STREAM_PREFIXES, TOKEN_STREAM_PREFIXES } from './events.js';
import { evolve, initialConfigState, type ConfigState } from './settings/config-state.js';
import { matchesPrefixes } from './store/checks.js';
import type { EventStore, Position, RecordedEvent } from './store/port.js';
import { evolveTokens, TokenIndex } from './tokens/token-index.js';

/** The streams a replay reads: exactly those the configuration projection and the token index follow. */
export const REPLAY_STREAM_PREFIXES: readonly string[] = [...CONFIG_STREAM_PREFIXES, ...TOKEN_STREAM_PREFIXES];

export interface ReplayedState {
  readonly config: ConfigState;
  readonly tokens: TokenIndex;
  /** The last configuration or token event folded in; absent when there was none by then. */
  readonly lastChange?: { readonly position: Position; readonly time: string };
  /** The instant the state is judged at (is a token expired?): the time asked for, or that of the event at the position asked for. */
  readonly at: number;
}

const PAGE = 1000;

/**
 * Fold every configuration and token event up to `asOf` (inclusive; the whole history when
 * absent) with `evolve` and the token index's fold, exactly as the live projections fold them.
 *
 * @param now the clock's time: a time after it has not happened yet
 * @throws AsOfError `as_of_before_history` (before the first stored event, or an empty store) or
 *   `as_of_after_head` (a position past the last event, or a time in the future)
 */
export async function replayState(store: EventStore, asOf: AsOf | undefined, now: number): Promise<ReplayedState> {
  const { before, until, at } = await bounds(store, asOf, now);
  let config = initialConfigState;
  const tokens = new TokenIndex();
  let lastChange: RecordedEvent | undefined;
  let after: Position | undefined;
  for (;;) {
    const page = await store.readAll({
      ...(after !== undefined ? { after } : {}),
      ...(before !== undefined ? { before } : {}),
      streamPrefixes: REPLAY_STREAM_PREFIXES,
      maxCount: PAGE,
    });
    for (const event of page) {
      // A fold that stops at T: the first event recorded after it ends the replay.
      if (until !== undefined && Date.parse(event.time) > until) return finish(config, tokens, lastChange, at);
      // Each event goes to the fold whose projection follows its stream, as live.
      if (matchesPrefixes(event.stream, CONFIG_STREAM_PREFIXES)) config = evolve(config, event);
      else evolveTokens(tokens, event);
      lastChange = event;
    }
    if (page.length < PAGE) return finish(config, tokens, lastChange, at);
    after = page.at(-1)!.position;
  }
}

function finish(config: ConfigState, tokens: TokenIndex, last: RecordedEvent | undefined, at: number): ReplayedState {
  return { config, tokens, at, ...(last ? { lastChange: { position: last.position, time: last.time } } : {}) };
}

/** Where the fold stops (an exclusive position, or a time), and the instant the state is judged at. */
async function bounds(store: EventStore, asOf: AsOf | undefined, now: number): Promise<{ before?: Position; until?: number; at: number }> {
  const head = await store.headPosition();
  if (asOf === undefined) return head === undefined ? { at: now } : { before: next(head), at: now };
  const [first] = await store.readAll({ maxCount: 1 });
  if (first === undefined || head === undefined) throw new AsOfError('as_of_before_history', `the history is empty: nothing happened by ${describeAsOf(asOf)}`);
  if (asOf.kind === 'time') {
    if (asOf.time > now) throw new AsOfError('as_of_after_head', `${describeAsOf(asOf)} is in the future`);
    if (asOf.time < Date.parse(first.time)) {
      throw new AsOfError('as_of_before_history', `${describeAsOf(asOf)} is before the first event (${first.time})`);
    }
    return { until: asOf.time, at: asOf.time };
  }
  const wanted = BigInt(asOf.position);
  if (wanted > BigInt(head)) throw new AsOfError('as_of_after_head', `position ${asOf.position} is past the last event (${head})`);
  if (wanted < BigInt(first.position)) {
    throw new AsOfError('as_of_before_history', `position ${asOf.position} is before the first event (${first.position})`);
  }
  // The event at that position, or the last one before it when its stream was deleted (retention).
  const [atOrBefore] = await store.readAll({ before: next(asOf.position), direction: 'backwards', maxCount: 1 });
  return { before: next(asOf.position), at: atOrBefore ? Date.parse(atOrBefore.time) : now };
}

const next = (position: Position): Position => String(BigInt(position) + 1n) as Position;

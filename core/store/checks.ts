// Argument rules every adapter applies the same way, so the contract suite sees one behaviour.
import { STREAM_NAME, WrongExpectedRevisionError, type ExpectedRevision, type Position } from './port.js';

export function checkStreamName(stream: string): void {
  if (!STREAM_NAME.test(stream)) throw new TypeError(`invalid stream name: ${JSON.stringify(stream.slice(0, 200))}`);
}

/** An empty append has no position to report, and one id twice in a batch is a writer bug. */
export function checkNewEvents(events: readonly { readonly id: string; readonly type: string }[]): void {
  if (events.length === 0) throw new TypeError('append needs at least one event');
  const ids = new Set<string>();
  for (const e of events) {
    if (typeof e.id !== 'string' || e.id === '') throw new TypeError('event id must be a non-empty string');
    if (typeof e.type !== 'string' || e.type === '') throw new TypeError('event type must be a non-empty string');
    if (ids.has(e.id)) throw new TypeError(`event id ${e.id} appears twice in one append`);
    ids.add(e.id);
  }
}

/** `current` is the revision of the stream's last event, -1 when the stream does not exist. */
export function checkExpectedRevision(stream: string, expected: ExpectedRevision, current: number): void {
  let ok: boolean;
  if (expected === 'any') ok = true;
  else if (expected === 'no_stream') ok = current === -1;
  else if (expected === 'stream_exists') ok = current >= 0;
  else if (Number.isSafeInteger(expected) && expected >= -1) ok = current === expected;
  else throw new TypeError(`invalid expected revision: ${String(expected)}`);
  if (!ok) throw new WrongExpectedRevisionError(stream, expected, current);
}

/** maxCount as a number; no limit when omitted. */
export function limitOf(maxCount: number | undefined): number {
  if (maxCount === undefined) return Number.POSITIVE_INFINITY;
  if (!Number.isSafeInteger(maxCount) || maxCount < 0) throw new TypeError(`invalid maxCount: ${maxCount}`);
  return maxCount;
}

/** No filter matches everything; an empty prefix list matches nothing. */
export function matchesPrefixes(stream: string, prefixes: readonly string[] | undefined): boolean {
  return prefixes === undefined || prefixes.some((p) => stream.startsWith(p));
}

/** No filter matches every type; an empty list matches nothing. */
export function matchesTypes(type: string, types: readonly string[] | undefined): boolean {
  return types === undefined || types.includes(type);
}

export function toPosition(sequence: number): Position {
  return String(sequence) as Position;
}

/** Positions are decimal strings of a global sequence; anything else did not come from a store. */
export function parsePosition(position: Position): number {
  if (typeof position !== 'string' || !/^(0|[1-9]\d{0,15})$/.test(position)) {
    throw new TypeError(`invalid position: ${JSON.stringify(String(position).slice(0, 40))}`);
  }
  const n = Number(position);
  if (!Number.isSafeInteger(n)) throw new TypeError(`invalid position: ${position}`);
  return n;
}

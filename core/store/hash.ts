// The hash chain over the global order: any edit or deletion in the middle of the history breaks it.
import { hash } from 'node:crypto';

import { checkBlock } from '../decision-log/verify.js';
import { BLOCK_EVENT } from '../decision-log/record.js';
import type { EventStore, NewEvent, Position, RecordedEvent, SerializedEvent } from './port.js';

/**
 * JSON with object keys sorted recursively and no whitespace.
 * Follows JSON.stringify otherwise (toJSON, undefined members dropped, non-finite numbers as
 * null), so a value hashes the same before it is stored and after it is read back.
 */
export function canonicalJson(value: unknown): string {
  // Values built with their keys in order (the audit events are) need no replacer at all: the
  // native serializer alone writes them canonically, several times faster than with one.
  if (value !== null && typeof value === 'object' && inCanonicalOrder(value, 0)) return JSON.stringify(value);
  // Otherwise the native serializer still does the work; the replacer only hands it objects whose keys are in
  // order. An object with array-index keys ("9", "10") cannot be handed over in code-unit order
  // (V8 always puts such keys first, in numeric order), so those values take the slow path.
  indexKeysSeen = false;
  const fast = JSON.stringify(value, sortKeys) as string | undefined;
  const out = indexKeysSeen ? encode(value) : fast;
  if (out === undefined) throw new TypeError('canonicalJson: value is not representable as JSON');
  return out;
}

/**
 * True when JSON.stringify alone writes `value` canonically: every object's keys already in
 * code-unit order, none of them an array index, no toJSON to call. Gives up (false) on deep
 * nesting, where the general path is as good.
 */
function inCanonicalOrder(value: object, depth: number): boolean {
  if (depth > 32 || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) {
    for (const item of value) if (item !== null && typeof item === 'object' && !inCanonicalOrder(item, depth + 1)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    if ((key.charCodeAt(0) <= 0x39 && ARRAY_INDEX.test(key)) || (previous !== undefined && previous > key)) return false;
    const member = (value as Record<string, unknown>)[key];
    if (member !== null && typeof member === 'object' && !inCanonicalOrder(member, depth + 1)) return false;
    previous = key;
  }
  return true;
}

let indexKeysSeen = false;
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/** JSON.stringify replacer: an object as is when its keys are already in code-unit order, else a sorted copy. */
function sortKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  let ordered = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    if (key.charCodeAt(0) <= 0x39 && ARRAY_INDEX.test(key)) indexKeysSeen = true;
    if (i > 0 && keys[i - 1]! > key) ordered = false;
  }
  if (ordered) return value;
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of keys.sort()) copy[key] = record[key];
  return copy;
}

function encode(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt is not representable as JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return `[${value.map((item) => encode(item) ?? 'null').join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  // Default sort compares UTF-16 code units: stable across engines and languages that mimic it.
  for (const key of Object.keys(record).sort()) {
    const encoded = encode(record[key]);
    if (encoded !== undefined) members.push(`${JSON.stringify(key)}:${encoded}`);
  }
  return `{${members.join(',')}}`;
}

/**
 * The event as a store keeps it: data and metadata as their canonical JSON, the very text the
 * hash covers and a reader parses back.
 */
export function serializeEvent(e: NewEvent): SerializedEvent {
  return { id: e.id, type: e.type, data: canonicalJson(e.data ?? null), metadata: canonicalJson(e.metadata ?? {}) };
}

/** The parts of an event the chain covers; the position is the store's, not the writer's. */
export type HashedContent = Pick<RecordedEvent, 'id' | 'type' | 'stream' | 'revision' | 'time' | 'data' | 'metadata'>;

/** sha256 (hex) over the canonical JSON of `[prevHash, id, type, stream, revision, time, data, metadata]`. */
export function hashEvent(prevHash: string, e: HashedContent): string {
  return hashCanonicalEvent(prevHash, e, canonicalJson(e.data), canonicalJson(e.metadata));
}

/**
 * {@link hashEvent} for a writer that already holds the canonical JSON of data and metadata
 * (and stores that text): the same hash, without serialising them a second time.
 */
export function hashCanonicalEvent(prevHash: string, e: Omit<HashedContent, 'data' | 'metadata'>, data: string, metadata: string): string {
  // The canonical JSON of an array is its items' canonical JSON, comma-separated, in brackets.
  const head = JSON.stringify([prevHash, e.id, e.type, e.stream, e.revision, e.time]);
  return hash('sha256', `${head.slice(0, -1)},${data},${metadata}]`, 'hex');
}

export type ChainVerification =
  | { readonly ok: true; readonly count: number; readonly head?: string }
  | { readonly ok: false; readonly count: number; readonly position: Position; readonly reason: string };

/**
 * The seam for retention: an event whose prevHash is not the hash of the event stored before it
 * is a break, unless a recorded drop accounts for exactly that gap. `before` is the last event
 * checked (undefined at the start of the store), `after` the event whose link does not meet it.
 * Returns how many dropped events the gap stands for when a drop bridges it, else undefined.
 */
export type GapBridge = (gap: { readonly before: RecordedEvent | undefined; readonly after: RecordedEvent }) => { readonly dropped: number } | undefined;

/** No drop is recorded: every gap is a break. */
export const noBridgedGaps: GapBridge = () => undefined;

export interface ChainVerifyOptions {
  /** Called after each page with the number of events checked so far. */
  readonly onProgress?: (checked: number) => void;
  /** Accepts the gaps retention left (see {@link GapBridge}); by default none. */
  readonly acceptGap?: GapBridge;
  /**
   * Called with each event whose link and hash check out, and the chain's length through it
   * (the events stored so far plus those bridged gaps stand for). A returned reason stops the
   * walk and fails it at that event, as a broken link would.
   */
  readonly onEvent?: (e: RecordedEvent, length: number) => string | undefined;
}

const PAGE_SIZE = 1000;

/**
 * Read the whole global order and check every link and every hash, and every decision block's
 * decisions against its event (core/decision-log/verify.ts).
 * `count` is the number of events checked, including the failing one.
 */
export async function verifyChain(store: Pick<EventStore, 'readAll' | 'decisions'>, opts: ChainVerifyOptions = {}): Promise<ChainVerification> {
  const acceptGap = opts.acceptGap ?? noBridgedGaps;
  let previous: RecordedEvent | undefined;
  let after: Position | undefined;
  let count = 0;
  let bridged = 0;
  for (;;) {
    const page = await store.readAll({ after, maxCount: PAGE_SIZE });
    for (const e of page) {
      count += 1;
      if (e.prevHash !== (previous?.hash ?? '')) {
        const gap = acceptGap({ before: previous, after: e });
        if (gap === undefined) {
          const reason = previous === undefined ? 'first event does not start the chain' : 'prevHash does not match the previous event';
          return { ok: false, count, position: e.position, reason };
        }
        bridged += gap.dropped;
      }
      if (hashEvent(e.prevHash, e) !== e.hash) {
        return { ok: false, count, position: e.position, reason: 'hash does not match the event content' };
      }
      const badBlock = e.type === BLOCK_EVENT ? await checkBlock(store, e) : undefined;
      if (badBlock !== undefined) return { ok: false, count, position: e.position, reason: badBlock };
      const problem = opts.onEvent?.(e, count + bridged);
      if (problem !== undefined) return { ok: false, count, position: e.position, reason: problem };
      previous = e;
      after = e.position;
    }
    opts.onProgress?.(count);
    if (page.length < PAGE_SIZE) break;
  }
  return previous === undefined ? { ok: true, count } : { ok: true, count, head: previous.hash };
}

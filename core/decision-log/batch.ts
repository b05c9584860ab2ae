// The event loop's side of the decision log: each decision becomes one fixed-size record in a preallocated buffer.
//
// Nothing here builds JSON, hashes or allocates per decision: fields go into typed arrays, strings
// into the batch's byte section. Low-cardinality strings (method, reason, stage, host, identity
// fields, groups, stage names) are interned per batch, so the table is emptied at every seal and
// never outgrows one batch, whatever a flood of distinct values; paths, request ids and addresses
// are copied as bytes into the record's own slice of the byte section.
import type { AccessRequest, Decision } from '../access.js';
import {
  ALLOW_BIT,
  CREDENTIAL_SHIFT,
  FLAGS,
  FORMAT,
  HEADER_WORDS,
  LENGTHS_ID_PATH,
  LENGTHS_IPS,
  MAX_CHARS,
  MAX_RECORD_BYTES,
  MAX_RECORD_STRINGS,
  MAX_TRACE,
  METHOD_REASON,
  OUTCOMES,
  OWN_STRINGS,
  PROVIDER_GROUPS,
  RECORD_BYTES,
  RECORD_WORDS,
  STAGE_HOST,
  SUBJECT_USERNAME,
  TOKEN,
  TRACE_LENGTH_SHIFT,
  TRACE_STAGES,
  regions,
} from './layout.js';
import { MAX_BLOCK_DECISIONS, type DecisionRecord, type TraceStep } from './record.js';

/** What a record takes from a request: an AccessRequest is one. */
export type RecordedRequest = Pick<AccessRequest, 'id' | 'method' | 'path' | 'host' | 'clientIp' | 'peerIp' | 'time'> & {
  readonly credential?: { readonly scheme: NonNullable<AccessRequest['credential']>['scheme'] };
};

/** What a record takes from a decision: a Decision is one. */
export type RecordedDecision = Pick<Decision, 'allow' | 'status' | 'reason' | 'stage'> & {
  readonly trace: readonly TraceStep[];
  readonly identity?: Pick<NonNullable<Decision['identity']>, 'subject' | 'username' | 'provider' | 'groups' | 'tokenId'>;
};

const DAY_MS = 86_400_000;

/** A string cut to `max` UTF-16 units, the last one `…`. */
export const cut = (s: string, max: number): string => `${s.slice(0, max - 1)}…`;

/** Groups as the JSON array the log interns; past MAX_CHARS.groups, the groups that fit and then `…`. */
export function groupsText(groups: readonly string[]): string {
  const text = JSON.stringify(groups);
  if (text.length <= MAX_CHARS.groups) return text;
  const kept: string[] = [];
  let size = 2 + 4; // brackets and the `"…"` at the end
  for (const group of groups) {
    const next = JSON.stringify(group).length + 1;
    if (size + next > MAX_CHARS.groups) break;
    kept.push(group);
    size += next;
  }
  kept.push('…');
  return JSON.stringify(kept);
}

const outcomeCode = (step: TraceStep): number => (step.outcome === 'pass' ? 1 : step.outcome === 'allow' ? 2 : 3);

export class DecisionBatch {
  readonly capacity: number;
  private readonly maxStrings: number;
  private readonly byteCapacity: number;
  private readonly buffer: ArrayBuffer;
  private readonly at: ReturnType<typeof regions>;
  private readonly u32: Uint32Array;
  private readonly u16: Uint16Array;
  private readonly f64: Float64Array;
  /** (byte offset, byte length) of each interned string; ref r at 2r-2. */
  private readonly refs: Uint32Array;
  private readonly bytes: Uint8Array;
  /** The same byte section, for strings that are not ASCII. */
  private readonly text: Buffer;
  private readonly interned = new Map<string, number>();
  /** Identities from caches share their groups array: one lookup by reference instead of a JSON text each time. */
  private readonly groupRefs = new Map<readonly string[], number>();
  private n = 0;
  private strings = 0;
  private used = 0;
  private day = Number.NaN;

  /** @param capacity records per batch, 1 to 4096 (a block's size at most) */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_BLOCK_DECISIONS) {
      throw new TypeError(`batch capacity must be an integer from 1 to ${MAX_BLOCK_DECISIONS}`);
    }
    this.capacity = capacity;
    // Typical records define a few strings and use ~100 bytes; a batch of unusual ones seals early.
    this.maxStrings = Math.min(0xffff, capacity * 8 + MAX_RECORD_STRINGS);
    this.byteCapacity = MAX_RECORD_BYTES + capacity * 192;
    this.at = regions(capacity, this.maxStrings);
    this.buffer = new ArrayBuffer(this.at.bytesAt + this.byteCapacity);
    this.u32 = new Uint32Array(this.buffer, this.at.recordsAt, capacity * RECORD_WORDS);
    this.u16 = new Uint16Array(this.buffer, this.at.recordsAt, capacity * RECORD_WORDS * 2);
    this.f64 = new Float64Array(this.buffer, this.at.recordsAt, (capacity * RECORD_WORDS) / 2);
    this.refs = new Uint32Array(this.buffer, this.at.stringsAt, this.maxStrings * 2);
    this.bytes = new Uint8Array(this.buffer, this.at.bytesAt, this.byteCapacity);
    this.text = Buffer.from(this.buffer, this.at.bytesAt, this.byteCapacity);
  }

  /** Records in the batch. */
  get count(): number {
    return this.n;
  }

  /**
   * Write one decision. False when the batch cannot take it (full, or the decision is of another
   * UTC day than the batch's, so that a block never spans two day partitions): seal, then add
   * again. An empty batch always takes it.
   */
  add(request: RecordedRequest, decision: RecordedDecision): boolean {
    const n = this.n;
    const day = Math.floor(request.time / DAY_MS);
    if (n > 0) {
      if (n === this.capacity || day !== this.day) return false;
      if (this.used > this.byteCapacity - MAX_RECORD_BYTES || this.strings > this.maxStrings - MAX_RECORD_STRINGS) return false;
    } else {
      this.day = day;
    }
    const w = n * RECORD_WORDS;
    const u32 = this.u32;
    this.f64[w >>> 1] = request.time;

    const trace = decision.trace;
    const steps = trace.length < MAX_TRACE ? trace.length : MAX_TRACE;
    const stagesAt = (w + TRACE_STAGES) * 2;
    let outcomes = 0;
    for (let i = 0; i < steps; i++) {
      const step = trace[i]!;
      outcomes |= outcomeCode(step) << (2 * i);
      this.u16[stagesAt + i] = this.ref(step.stage, MAX_CHARS.word);
    }
    const scheme = request.credential?.scheme;
    const credential = scheme === undefined ? 0 : scheme === 'bearer' ? 1 : scheme === 'basic' ? 2 : 3;
    u32[w + FLAGS] = (decision.status & 0xffff) | (decision.allow ? ALLOW_BIT : 0) | (credential << CREDENTIAL_SHIFT) | (steps << TRACE_LENGTH_SHIFT);
    u32[w + OUTCOMES] = outcomes;
    u32[w + METHOD_REASON] = this.ref(request.method, MAX_CHARS.word) | (this.ref(decision.reason, MAX_CHARS.word) << 16);
    u32[w + STAGE_HOST] = this.ref(decision.stage, MAX_CHARS.word) | (this.ref(request.host, MAX_CHARS.host) << 16);

    const id = decision.identity;
    if (id === undefined) {
      u32[w + SUBJECT_USERNAME] = 0;
      u32[w + PROVIDER_GROUPS] = 0;
      u32[w + TOKEN] = 0;
    } else {
      u32[w + SUBJECT_USERNAME] = this.ref(id.subject, MAX_CHARS.identity) | (this.ref(id.username, MAX_CHARS.identity) << 16);
      u32[w + PROVIDER_GROUPS] = this.ref(id.provider, MAX_CHARS.identity) | (this.groupsRef(id.groups) << 16);
      u32[w + TOKEN] = id.tokenId === undefined ? 0 : this.ref(id.tokenId, MAX_CHARS.identity);
    }

    // The record's own strings last, one after another from here.
    u32[w + OWN_STRINGS] = this.used;
    const idLength = this.put(request.id, MAX_CHARS.requestId);
    u32[w + LENGTHS_ID_PATH] = idLength | (this.put(request.path, MAX_CHARS.path) << 16);
    const clientLength = this.put(request.clientIp, MAX_CHARS.ip);
    u32[w + LENGTHS_IPS] = clientLength | (this.put(request.peerIp, MAX_CHARS.ip) << 16);
    this.n = n + 1;
    return true;
  }

  /** {@link add} for a decision as the log returns it (tools and tests that store records). */
  addRecord(record: DecisionRecord): boolean {
    const { credential, requestId, ...rest } = record;
    return this.add({ ...rest, id: requestId, ...(credential ? { credential: { scheme: credential } } : {}) }, record);
  }

  /** The records as a compact batch (layout.ts) that the caller owns; this batch is empty again. */
  seal(): ArrayBuffer {
    const { n, strings, used } = this;
    const to = regions(n, strings);
    const wire = new ArrayBuffer(to.bytesAt + used);
    const head = new Uint32Array(wire, 0, HEADER_WORDS);
    head[0] = FORMAT;
    head[1] = n;
    head[2] = strings;
    head[3] = used;
    const out = new Uint8Array(wire);
    out.set(new Uint8Array(this.buffer, this.at.recordsAt, n * RECORD_BYTES), to.recordsAt);
    out.set(new Uint8Array(this.buffer, this.at.stringsAt, strings * 8), to.stringsAt);
    out.set(this.bytes.subarray(0, used), to.bytesAt);
    this.n = 0;
    this.strings = 0;
    this.used = 0;
    this.interned.clear();
    this.groupRefs.clear();
    return wire;
  }

  private ref(s: string, max: number): number {
    const known = this.interned.get(s);
    return known !== undefined ? known : this.define(s, s.length > max ? cut(s, max) : s);
  }

  private groupsRef(groups: readonly string[]): number {
    const known = this.groupRefs.get(groups);
    if (known !== undefined) return known;
    const ref = this.ref(groupsText(groups), MAX_CHARS.groups);
    this.groupRefs.set(groups, ref);
    return ref;
  }

  /** Intern `key`, stored as `text` (`key` itself, or cut). */
  private define(key: string, text: string): number {
    const ref = ++this.strings;
    const at = this.used;
    this.refs[2 * ref - 2] = at;
    this.refs[2 * ref - 1] = this.put(text, Number.POSITIVE_INFINITY);
    this.interned.set(key, ref);
    return ref;
  }

  /** Copy `s` (cut to `max`) into the byte section as UTF-8; its byte length. Room was checked by add(). */
  private put(s: string, max: number): number {
    const text = s.length > max ? cut(s, max) : s;
    const bytes = this.bytes;
    const at = this.used;
    const length = text.length;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) {
        const written = this.text.write(text, at, 'utf8');
        this.used = at + written;
        return written;
      }
      bytes[at + i] = c;
    }
    this.used = at + length;
    return length;
  }
}

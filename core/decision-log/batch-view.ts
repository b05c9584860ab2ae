// Read access to a sealed batch, field by field and without building objects: what decode.ts, the digest and the SQLite rows read from.
import {
  ALLOW_BIT,
  CREDENTIAL_SHIFT,
  FLAGS,
  FORMAT,
  HEADER_WORDS,
  LENGTHS_ID_PATH,
  LENGTHS_IPS,
  METHOD_REASON,
  OUTCOMES,
  OWN_STRINGS,
  PROVIDER_GROUPS,
  RECORD_WORDS,
  STAGE_HOST,
  SUBJECT_USERNAME,
  TOKEN,
  TRACE_LENGTH_SHIFT,
  TRACE_STAGES,
  regions,
} from './layout.js';

/** A record's own strings, in the order they follow each other in the byte section. */
export const enum Own {
  RequestId = 0,
  Path = 1,
  ClientIp = 2,
  PeerIp = 3,
}

export class BatchView {
  readonly count: number;
  /** The byte section: UTF-8 of the interned strings and of each record's own strings. */
  readonly bytes: Buffer;
  readonly #u32: Uint32Array;
  readonly #u16: Uint16Array;
  readonly #f64: Float64Array;
  readonly #refs: Uint32Array;
  readonly #texts: (string | undefined)[];

  /** @throws TypeError when `batch` is not a sealed batch (another format, or cut short) */
  constructor(batch: ArrayBuffer) {
    if (batch.byteLength < HEADER_WORDS * 4) throw new TypeError('not a decision batch: too short');
    const head = new Uint32Array(batch, 0, HEADER_WORDS);
    const [format, count, strings, used] = [head[0]!, head[1]!, head[2]!, head[3]!];
    const at = regions(count, strings);
    if (format !== FORMAT || batch.byteLength !== at.bytesAt + used) throw new TypeError(`not a decision batch of format ${FORMAT}`);
    this.count = count;
    this.#u32 = new Uint32Array(batch, at.recordsAt, count * RECORD_WORDS);
    this.#u16 = new Uint16Array(batch, at.recordsAt, count * RECORD_WORDS * 2);
    this.#f64 = new Float64Array(batch, at.recordsAt, (count * RECORD_WORDS) / 2);
    this.#refs = new Uint32Array(batch, at.stringsAt, strings * 2);
    this.bytes = Buffer.from(batch, at.bytesAt, used);
    this.#texts = new Array<string | undefined>(strings + 1);
  }

  time(i: number): number {
    return this.#f64[(i * RECORD_WORDS) >>> 1]!;
  }

  status(i: number): number {
    return this.#word(i, FLAGS) & 0xffff;
  }

  allow(i: number): boolean {
    return (this.#word(i, FLAGS) & ALLOW_BIT) !== 0;
  }

  /** 0 none, 1 bearer, 2 basic, 3 api_key. */
  credential(i: number): number {
    return (this.#word(i, FLAGS) >>> CREDENTIAL_SHIFT) & 3;
  }

  // String refs (0: none; an identity is present when subject is not 0).
  method = (i: number): number => this.#word(i, METHOD_REASON) & 0xffff;
  reason = (i: number): number => this.#word(i, METHOD_REASON) >>> 16;
  stage = (i: number): number => this.#word(i, STAGE_HOST) & 0xffff;
  host = (i: number): number => this.#word(i, STAGE_HOST) >>> 16;
  subject = (i: number): number => this.#word(i, SUBJECT_USERNAME) & 0xffff;
  username = (i: number): number => this.#word(i, SUBJECT_USERNAME) >>> 16;
  provider = (i: number): number => this.#word(i, PROVIDER_GROUPS) & 0xffff;
  /** The groups as the JSON array batch.ts interned. */
  groups = (i: number): number => this.#word(i, PROVIDER_GROUPS) >>> 16;
  token = (i: number): number => this.#word(i, TOKEN) & 0xffff;

  steps(i: number): number {
    return (this.#word(i, FLAGS) >>> TRACE_LENGTH_SHIFT) & 31;
  }

  /** 2 bits per step: 1 pass, 2 allow, 3 deny. */
  outcomes(i: number): number {
    return this.#word(i, OUTCOMES);
  }

  /** True when records i and j name the same stages, in the same order (their outcomes aside). */
  sameStages(i: number, j: number): boolean {
    const steps = this.steps(i);
    if (steps !== this.steps(j)) return false;
    for (let s = 0; s < steps; s++) if (this.stageOfStep(i, s) !== this.stageOfStep(j, s)) return false;
    return true;
  }

  stageOfStep(i: number, step: number): number {
    return this.#u16[(i * RECORD_WORDS + TRACE_STAGES) * 2 + step]!;
  }

  /** The text of a string ref, decoded once. */
  text(ref: number): string {
    let text = this.#texts[ref];
    if (text === undefined) {
      const [start, end] = this.refRange(ref);
      this.#texts[ref] = text = this.bytes.toString('utf8', start, end);
    }
    return text;
  }

  /** Byte range of a string ref in {@link bytes}. */
  refRange(ref: number): [start: number, end: number] {
    const start = this.#refs[2 * ref - 2]!;
    return [start, start + this.#refs[2 * ref - 1]!];
  }

  /** Byte range of one of a record's own strings in {@link bytes}. */
  ownRange(i: number, which: Own): [start: number, end: number] {
    const idPath = this.#word(i, LENGTHS_ID_PATH);
    const ips = this.#word(i, LENGTHS_IPS);
    const [id, path, client] = [idPath & 0xffff, idPath >>> 16, ips & 0xffff];
    const start = this.#word(i, OWN_STRINGS) + (which > 0 ? id : 0) + (which > 1 ? path : 0) + (which > 2 ? client : 0);
    const length = which === Own.RequestId ? id : which === Own.Path ? path : which === Own.ClientIp ? client : ips >>> 16;
    return [start, start + length];
  }

  own(i: number, which: Own): string {
    const [start, end] = this.ownRange(i, which);
    return this.bytes.toString('utf8', start, end);
  }

  #word(i: number, word: number): number {
    return this.#u32[i * RECORD_WORDS + word]!;
  }
}

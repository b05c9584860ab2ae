// A block's digest: sha256 over its decisions in a canonical binary form, the form `verify` rebuilds from what the store returns.
//
// Per decision, in block order (little-endian):
//   time f64 · status u16 · flags u8 (bit 0 allow, bits 1–2 credential: 0 none, 1 bearer,
//   2 basic, 3 api_key, bit 3 identity, bit 4 token id) · requestId · method · host · path ·
//   clientIp · peerIp · reason · stage · [identity: subject · username · provider · groups
//   (u32 count, then each) · [tokenId]] · trace (u8 steps, then each: stage · outcome u8: 1 pass,
//   2 allow, 3 deny)
// where every string is u32 byte length + UTF-8. Any change to a stored decision, to a string it
// refers to, or to a block's membership or order changes the digest.
//
// Two writers of the same bytes: from DecisionRecords (verify, the memory store) and straight
// from a sealed batch (the append thread, which so builds no object per decision). A test holds
// them equal.
import { hash } from 'node:crypto';

import type { Credential } from '../access.js';
import { Own, type BatchView } from './batch-view.js';
import type { DecisionRecord, TraceOutcome } from './record.js';

const CREDENTIAL: Record<Credential['scheme'], number> = { bearer: 1, basic: 2, api_key: 3 };
const OUTCOME: Record<TraceOutcome, number> = { pass: 1, allow: 2, deny: 3 };

/** sha256 (hex) of decisions in their canonical form. */
export function blockDigest(decisions: readonly DecisionRecord[]): string {
  const out = writer();
  for (const d of decisions) {
    const id = d.identity;
    out.head(d.time, d.status, (d.allow ? 1 : 0) | ((d.credential === undefined ? 0 : CREDENTIAL[d.credential]) << 1) | (id ? 8 : 0) | (id?.tokenId !== undefined ? 16 : 0));
    for (const s of [d.requestId, d.method, d.host, d.path, d.clientIp, d.peerIp, d.reason, d.stage]) out.str(s);
    if (id) {
      out.str(id.subject);
      out.str(id.username);
      out.str(id.provider);
      out.u32(id.groups.length);
      for (const group of id.groups) out.str(group);
      if (id.tokenId !== undefined) out.str(id.tokenId);
    }
    out.u8(d.trace.length);
    for (const step of d.trace) {
      out.str(step.stage);
      out.u8(OUTCOME[step.outcome]);
    }
  }
  return hash('sha256', out.bytes(), 'hex');
}

/** {@link blockDigest} of the decisions a sealed batch holds, read from its bytes. */
export function batchDigest(view: BatchView): string {
  const out = writer();
  const src = view.bytes;
  const ref = (r: number): void => out.utf8(src, ...view.refRange(r));
  const own = (i: number, which: Own): void => out.utf8(src, ...view.ownRange(i, which));
  // Each distinct group list in its canonical form, once per batch.
  const groups = new Map<number, Buffer>();
  for (let i = 0; i < view.count; i++) {
    const subject = view.subject(i);
    const token = view.token(i);
    out.head(view.time(i), view.status(i), (view.allow(i) ? 1 : 0) | (view.credential(i) << 1) | (subject !== 0 ? 8 : 0) | (subject !== 0 && token !== 0 ? 16 : 0));
    own(i, Own.RequestId);
    ref(view.method(i));
    ref(view.host(i));
    own(i, Own.Path);
    own(i, Own.ClientIp);
    own(i, Own.PeerIp);
    ref(view.reason(i));
    ref(view.stage(i));
    if (subject !== 0) {
      ref(subject);
      ref(view.username(i));
      ref(view.provider(i));
      const list = view.groups(i);
      let canonical = groups.get(list);
      if (canonical === undefined) {
        const part = new CanonicalWriter();
        const names = JSON.parse(view.text(list)) as string[];
        part.u32(names.length);
        for (const name of names) part.str(name);
        groups.set(list, (canonical = Buffer.from(part.bytes())));
      }
      out.raw(canonical);
      if (token !== 0) ref(token);
    }
    const steps = view.steps(i);
    const outcomes = view.outcomes(i);
    out.u8(steps);
    for (let s = 0; s < steps; s++) {
      ref(view.stageOfStep(i, s));
      out.u8((outcomes >>> (2 * s)) & 3);
    }
  }
  return hash('sha256', out.bytes(), 'hex');
}

/** One writer per thread, kept with the size it grew to (a block is at most a few MB). */
let shared: CanonicalWriter | undefined;
function writer(): CanonicalWriter {
  shared ??= new CanonicalWriter();
  shared.reset();
  return shared;
}

/** The canonical bytes, written into one growing buffer (no string per decision). */
export class CanonicalWriter {
  #buf = Buffer.allocUnsafe(1 << 16);
  #at = 0;

  bytes(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }

  reset(): void {
    this.#at = 0;
  }

  /** time f64, status u16, flags u8. */
  head(time: number, status: number, flags: number): void {
    this.#room(11);
    this.#buf.writeDoubleLE(time, this.#at);
    this.#buf.writeUInt16LE(status & 0xffff, this.#at + 8);
    this.#buf[this.#at + 10] = flags;
    this.#at += 11;
  }

  u8(n: number): void {
    this.#room(1);
    this.#buf[this.#at++] = n;
  }

  u32(n: number): void {
    this.#room(4);
    this.#buf.writeUInt32LE(n, this.#at);
    this.#at += 4;
  }

  raw(bytes: Buffer): void {
    this.#room(bytes.length);
    bytes.copy(this.#buf, this.#at);
    this.#at += bytes.length;
  }

  /** A string: u32 byte length, then UTF-8; ASCII is copied by hand (most strings), the rest by Buffer.write. */
  str(s: string): void {
    this.#room(4 + s.length * 3);
    const buf = this.#buf;
    const start = this.#at + 4;
    const n = s.length;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[start + i] = c;
    }
    const length = i === n ? n : buf.write(s, start, 'utf8');
    buf.writeUInt32LE(length, this.#at);
    this.#at = start + length;
  }

  /** A string already in UTF-8: `src` from `start` to `end`. */
  utf8(src: Buffer, start: number, end: number): void {
    const length = end - start;
    this.#room(4 + length);
    const buf = this.#buf;
    buf.writeUInt32LE(length, this.#at);
    const to = this.#at + 4;
    if (length < 32) for (let k = 0; k < length; k++) buf[to + k] = src[start + k]!;
    else src.copy(buf, to, start, end);
    this.#at = to + length;
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + bytes));
    this.#buf.copy(bigger, 0, 0, this.#at);
    this.#buf = bigger;
  }
}

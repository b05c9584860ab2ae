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
import { hash } from 'node:crypto';

import type { Credential } from '../access.js';
import type { DecisionRecord, TraceOutcome, TraceStep } from './record.js';

const CREDENTIAL: Record<Credential['scheme'], number> = { bearer: 1, basic: 2, api_key: 3 };
const OUTCOME: Record<TraceOutcome, number> = { pass: 1, allow: 2, deny: 3 };

/** sha256 (hex) of the block's decisions in their canonical form. */
export function blockDigest(decisions: readonly DecisionRecord[]): string {
  // One writer per thread, kept with the size it grew to (a block is at most a few MB).
  const out = (shared ??= new CanonicalWriter());
  out.reset();
  for (const d of decisions) out.decision(d);
  return hash('sha256', out.bytes(), 'hex');
}

let shared: CanonicalWriter | undefined;

/** The canonical bytes of decisions, written into one growing buffer (no string per decision). */
export class CanonicalWriter {
  #buf = Buffer.allocUnsafe(1 << 16);
  #at = 0;

  bytes(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }

  reset(): void {
    this.#at = 0;
  }

  decision(d: DecisionRecord): void {
    this.#room(16);
    this.#buf.writeDoubleLE(d.time, this.#at);
    this.#buf.writeUInt16LE(d.status & 0xffff, this.#at + 8);
    const id = d.identity;
    this.#buf[this.#at + 10] =
      (d.allow ? 1 : 0) | ((d.credential === undefined ? 0 : CREDENTIAL[d.credential]) << 1) | (id ? 8 : 0) | (id?.tokenId !== undefined ? 16 : 0);
    this.#at += 11;
    this.#str(d.requestId);
    this.#str(d.method);
    this.#str(d.host);
    this.#str(d.path);
    this.#str(d.clientIp);
    this.#str(d.peerIp);
    this.#str(d.reason);
    this.#str(d.stage);
    if (id) {
      this.#str(id.subject);
      this.#str(id.username);
      this.#str(id.provider);
      this.#room(4);
      this.#buf.writeUInt32LE(id.groups.length, this.#at);
      this.#at += 4;
      for (const group of id.groups) this.#str(group);
      if (id.tokenId !== undefined) this.#str(id.tokenId);
    }
    this.#trace(d.trace);
  }

  #trace(trace: readonly TraceStep[]): void {
    this.#room(1);
    this.#buf[this.#at++] = trace.length;
    for (const step of trace) {
      this.#str(step.stage);
      this.#room(1);
      this.#buf[this.#at++] = OUTCOME[step.outcome];
    }
  }

  /** u32 byte length, then UTF-8; ASCII is copied by hand (most strings), the rest by Buffer.write. */
  #str(s: string): void {
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

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + bytes));
    this.#buf.copy(bigger, 0, 0, this.#at);
    this.#buf = bigger;
  }
}

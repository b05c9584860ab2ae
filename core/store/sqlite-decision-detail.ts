// The `detail` column of a decision row: the fields no query filters on, packed into one small blob.
//
// flags u8   bits 0–1 credential (0 none, 1 bearer, 2 basic, 3 api_key); bit 2 identity;
//            bit 3 request id as 16 bytes (else text); bit 4 peer address differs from the client's
// varints    host, stage, trace (string ids), outcomes (2 bits per step), then with an identity:
//            subject, groups (string ids)
// request id 16 bytes, or varint length + UTF-8
// peer       when it differs: u8 4 or 16 and the address's bytes, or 0, varint length + UTF-8
import type { Credential } from '../access.js';
import { byteAt, unpackIpHex, unpackRequestIdHex, type Compact } from '../decision-log/compact.js';

export interface Detail {
  readonly credential?: Credential['scheme'];
  readonly host: number;
  readonly stage: number;
  readonly trace: number;
  readonly outcomes: number;
  /** With an identity: its subject's and groups' string ids. */
  readonly subject?: number;
  readonly groups?: number;
  /** As text (unpacked when it was stored as 16 bytes). */
  readonly requestId: string;
  /** As text; absent: the same as the client address. */
  readonly peerIp?: string;
}

const CREDENTIALS: readonly (Credential['scheme'] | undefined)[] = [undefined, 'bearer', 'basic', 'api_key'];

/**
 * Writes details into one scratch buffer; each call's result is valid until the next call (bind
 * it at once). Positional arguments: it runs once per stored decision, and an options object with
 * optional members costs more than the writing.
 */
export class DetailWriter {
  #buf = Buffer.allocUnsafe(1024);
  #at = 0;

  /**
   * @param credential 0 none, 1 bearer, 2 basic, 3 api_key
   * @param subject the subject's string id, 0 without an identity (then `groups` is ignored)
   * @param peerIp undefined when it is the client's address
   */
  write(credential: number, host: number, stage: number, trace: number, outcomes: number, subject: number, groups: number, requestId: Compact, peerIp: Compact | undefined): Buffer {
    const textBytes = (typeof requestId === 'string' ? requestId.length * 3 : 0) + (typeof peerIp === 'string' ? peerIp.length * 3 : 0);
    if (this.#buf.length < 96 + textBytes) this.#buf = Buffer.allocUnsafe(2 * (96 + textBytes));
    const buf = this.#buf;
    const packedId = typeof requestId !== 'string';
    buf[0] = credential | (subject !== 0 ? 4 : 0) | (packedId ? 8 : 0) | (peerIp !== undefined ? 16 : 0);
    this.#at = 1;
    this.#varint(host);
    this.#varint(stage);
    this.#varint(trace);
    this.#varint(outcomes);
    if (subject !== 0) {
      this.#varint(subject);
      this.#varint(groups);
    }
    if (packedId) this.#bytes(requestId);
    else this.#text(requestId);
    if (peerIp !== undefined) {
      if (typeof peerIp === 'string') {
        buf[this.#at++] = 0;
        this.#text(peerIp);
      } else {
        buf[this.#at++] = peerIp.length;
        this.#bytes(peerIp);
      }
    }
    return buf.subarray(0, this.#at);
  }

  #varint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.#buf[this.#at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#at++] = v;
  }

  #bytes(b: Buffer): void {
    b.copy(this.#buf, this.#at);
    this.#at += b.length;
  }

  #text(s: string): void {
    const length = Buffer.byteLength(s);
    this.#varint(length);
    this.#buf.write(s, this.#at, 'utf8');
    this.#at += length;
  }
}

// The reader's cursor over the detail's hex (SQLite's hex(), see readDecisionsSql): module state
// rather than closures, and strings rather than Buffers, since it runs once per decision read (a
// simulation reads a million; a Buffer per row cost more than the rest of the read).
let src = '';
let at = 0;

function byte(): number {
  const b = byteAt(src, at);
  at += 2;
  return b;
}

function varint(): number {
  let n = 0;
  let scale = 1;
  for (;;) {
    const b = byte();
    n += (b & 0x7f) * scale;
    if (b < 0x80) return n;
    scale *= 0x80;
  }
}

function text(): string {
  const length = 2 * varint();
  at += length;
  return Buffer.from(src.slice(at - length, at), 'hex').toString('utf8');
}

/** The detail {@link DetailWriter} wrote, from its hex; addresses and the request id come back as text. */
export function readDetailHex(hex: string): Detail {
  src = hex;
  at = 0;
  const flags = byte();
  const detail: { -readonly [K in keyof Detail]: Detail[K] } = { host: varint(), stage: varint(), trace: varint(), outcomes: varint(), requestId: '' };
  const credential = CREDENTIALS[flags & 3];
  if (credential !== undefined) detail.credential = credential;
  if ((flags & 4) !== 0) {
    detail.subject = varint();
    detail.groups = varint();
  }
  if ((flags & 8) !== 0) {
    detail.requestId = unpackRequestIdHex(src, at);
    at += 32;
  } else {
    detail.requestId = text();
  }
  if ((flags & 16) !== 0) {
    const kind = byte();
    if (kind === 0) {
      detail.peerIp = text();
    } else {
      detail.peerIp = unpackIpHex(src, at, 2 * kind);
      at += 2 * kind;
    }
  }
  return detail;
}

// The binary layout of a batch of decision records: written on the event loop (batch.ts), read on the append thread (decode.ts).
//
// A batch is one ArrayBuffer:
//   header   4 × u32: format, record count, string count, string bytes
//   records  count × 80 bytes, fixed size (word offsets below)
//   strings  count × 2 × u32: (byte offset, byte length) of each interned string, refs 1..n
//   bytes    UTF-8: interned strings once per batch, and each record's own strings
// Refs are per batch (0 = none), so a batch decodes on its own, in any thread, after any restart.

export const FORMAT = 1;
export const HEADER_WORDS = 4;

/** u32 words per record: 80 bytes, a multiple of 8 so the time's f64 stays aligned. */
export const RECORD_WORDS = 20;
export const RECORD_BYTES = RECORD_WORDS * 4;

// Word offsets in a record.
/** f64 over words 0–1: milliseconds since the epoch. */
export const TIME = 0;
/** status (bits 0–15), allow (bit 16), credential code (bits 17–18), trace length (bits 24–28). */
export const FLAGS = 2;
/** The trace's outcome codes, 2 bits per step (step i at bits 2i). */
export const OUTCOMES = 3;
/** Two string refs per word: low 16 bits, high 16 bits. */
export const METHOD_REASON = 4;
export const STAGE_HOST = 5;
export const SUBJECT_USERNAME = 6;
export const PROVIDER_GROUPS = 7;
export const TOKEN = 8;
/** Byte offset of the record's own strings, one after another: request id, path, client IP, peer IP. */
export const OWN_STRINGS = 9;
/** Byte lengths: request id (low 16), path (high 16). */
export const LENGTHS_ID_PATH = 10;
/** Byte lengths: client IP (low 16), peer IP (high 16). */
export const LENGTHS_IPS = 11;
/** 8 words: the trace's stage-name refs, 16 bits each. */
export const TRACE_STAGES = 12;

/** Trace steps kept per decision (the pipeline has ten stages at most). */
export const MAX_TRACE = 16;

export const ALLOW_BIT = 1 << 16;
export const CREDENTIAL_SHIFT = 17;
export const TRACE_LENGTH_SHIFT = 24;

/** Credential codes: 0 = none. */
export const CREDENTIALS = [undefined, 'bearer', 'basic', 'api_key'] as const;
/** Trace outcome codes: 0 is never written. */
export const OUTCOME_CODES = [undefined, 'pass', 'allow', 'deny'] as const;

/**
 * Longest strings kept, in UTF-16 units; longer ones are cut and end with `…`. Paths are already
 * at most 8192 (core/path.ts); the others come from clients or identity providers.
 */
export const MAX_CHARS = {
  path: 8192,
  host: 1024,
  requestId: 128,
  ip: 64,
  /** method, reason, stage names */
  word: 128,
  /** subject, username, provider, token id */
  identity: 1024,
  /** the groups as a JSON array */
  groups: 16_384,
} as const;

/** Bytes one record can need at most in the byte section (UTF-8: 3 bytes per UTF-16 unit at worst). */
export const MAX_RECORD_BYTES =
  3 *
  (MAX_CHARS.path +
    MAX_CHARS.host +
    MAX_CHARS.requestId +
    2 * MAX_CHARS.ip +
    (3 + MAX_TRACE) * MAX_CHARS.word +
    4 * MAX_CHARS.identity +
    MAX_CHARS.groups);

/** New interned strings one record can define at most. */
export const MAX_RECORD_STRINGS = 9 + MAX_TRACE;

/** Regions of a batch of `records` records, `strings` interned strings and `bytes` bytes. */
export function regions(records: number, strings: number) {
  const recordsAt = HEADER_WORDS * 4;
  const stringsAt = recordsAt + records * RECORD_BYTES;
  const bytesAt = stringsAt + strings * 8;
  return { recordsAt, stringsAt, bytesAt };
}

// The append thread's side of a batch: the records DecisionBatch wrote, as plain DecisionRecords.
import type { Credential } from '../access.js';
import {
  ALLOW_BIT,
  CREDENTIALS,
  CREDENTIAL_SHIFT,
  FLAGS,
  FORMAT,
  HEADER_WORDS,
  LENGTHS_ID_PATH,
  LENGTHS_IPS,
  METHOD_REASON,
  OUTCOME_CODES,
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
import type { DecisionRecord, TraceOutcome, TraceStep } from './record.js';

/** Number of records in a sealed batch, read from its header. */
export function batchCount(batch: ArrayBuffer): number {
  return new Uint32Array(batch, 0, HEADER_WORDS)[1]!;
}

/**
 * Decode a batch sealed by DecisionBatch.seal().
 * @throws TypeError when it is not one (another format, or cut short)
 */
export function decodeBatch(batch: ArrayBuffer): DecisionRecord[] {
  if (batch.byteLength < HEADER_WORDS * 4) throw new TypeError('not a decision batch: too short');
  const head = new Uint32Array(batch, 0, HEADER_WORDS);
  const [format, count, strings, used] = [head[0]!, head[1]!, head[2]!, head[3]!];
  const at = regions(count, strings);
  if (format !== FORMAT || batch.byteLength !== at.bytesAt + used) throw new TypeError(`not a decision batch of format ${FORMAT}`);
  const u32 = new Uint32Array(batch, at.recordsAt, count * RECORD_WORDS);
  const u16 = new Uint16Array(batch, at.recordsAt, count * RECORD_WORDS * 2);
  const f64 = new Float64Array(batch, at.recordsAt, (count * RECORD_WORDS) / 2);
  const refs = new Uint32Array(batch, at.stringsAt, strings * 2);
  const bytes = Buffer.from(batch, at.bytesAt, used);

  const table: string[] = [''];
  for (let r = 1; r <= strings; r++) {
    const start = refs[2 * r - 2]!;
    table.push(bytes.toString('utf8', start, start + refs[2 * r - 1]!));
  }
  const groups = new Map<number, readonly string[]>();
  const groupsOf = (ref: number): readonly string[] => {
    let list = groups.get(ref);
    if (list === undefined) groups.set(ref, (list = JSON.parse(table[ref]!) as string[]));
    return list;
  };
  const text = (ref: number): string => table[ref]!;
  // Decisions that went the same way through the stages share one trace array (most of a batch).
  const traces = new Map<string, readonly TraceStep[]>();
  const traceOf = (w: number, steps: number, outcomes: number): readonly TraceStep[] => {
    let key = `${outcomes}`;
    for (let s = 0; s < steps; s++) key += `,${u16[(w + TRACE_STAGES) * 2 + s]!}`;
    let trace = traces.get(key);
    if (trace === undefined) {
      const built: TraceStep[] = [];
      for (let s = 0; s < steps; s++) {
        built.push({ stage: text(u16[(w + TRACE_STAGES) * 2 + s]!), outcome: OUTCOME_CODES[(outcomes >>> (2 * s)) & 3] as TraceOutcome });
      }
      traces.set(key, (trace = built));
    }
    return trace;
  };

  const records: DecisionRecord[] = [];
  for (let i = 0; i < count; i++) {
    const w = i * RECORD_WORDS;
    const flags = u32[w + FLAGS]!;
    const trace = traceOf(w, (flags >>> TRACE_LENGTH_SHIFT) & 31, u32[w + OUTCOMES]!);
    let offset = u32[w + OWN_STRINGS]!;
    const own = (length: number): string => {
      const s = bytes.toString('utf8', offset, offset + length);
      offset += length;
      return s;
    };
    const idPath = u32[w + LENGTHS_ID_PATH]!;
    const ips = u32[w + LENGTHS_IPS]!;
    const requestId = own(idPath & 0xffff);
    const path = own(idPath >>> 16);
    const clientIp = own(ips & 0xffff);
    const peerIp = own(ips >>> 16);
    const methodReason = u32[w + METHOD_REASON]!;
    const stageHost = u32[w + STAGE_HOST]!;
    const who = u32[w + SUBJECT_USERNAME]!;
    const providerGroups = u32[w + PROVIDER_GROUPS]!;
    const token = u32[w + TOKEN]! & 0xffff;
    const credential = CREDENTIALS[(flags >>> CREDENTIAL_SHIFT) & 3] as Credential['scheme'] | undefined;
    records.push({
      time: f64[w >>> 1]!,
      requestId,
      method: text(methodReason & 0xffff),
      host: text(stageHost >>> 16),
      path,
      clientIp,
      peerIp,
      ...(credential ? { credential } : {}),
      allow: (flags & ALLOW_BIT) !== 0,
      status: flags & 0xffff,
      reason: text(methodReason >>> 16),
      stage: text(stageHost & 0xffff),
      ...((who & 0xffff) !== 0
        ? {
            identity: {
              subject: text(who & 0xffff),
              username: text(who >>> 16),
              provider: text(providerGroups & 0xffff),
              groups: groupsOf(providerGroups >>> 16),
              ...(token !== 0 ? { tokenId: text(token) } : {}),
            },
          }
        : {}),
      trace,
    });
  }
  return records;
}

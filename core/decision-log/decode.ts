// The records of a sealed batch as plain DecisionRecords (the memory store, tests, readers of the wire format).
import type { Credential } from '../access.js';
import { BatchView, Own } from './batch-view.js';
import { CREDENTIALS, HEADER_WORDS, OUTCOME_CODES } from './layout.js';
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
  const view = new BatchView(batch);
  const groups = new Map<number, readonly string[]>();
  const groupsOf = (ref: number): readonly string[] => {
    let list = groups.get(ref);
    if (list === undefined) groups.set(ref, (list = JSON.parse(view.text(ref)) as string[]));
    return list;
  };
  // Decisions that went the same way through the stages share one trace array (most of a batch).
  const traces = new Map<string, readonly TraceStep[]>();
  const traceOf = (i: number): readonly TraceStep[] => {
    const steps = view.steps(i);
    const outcomes = view.outcomes(i);
    let key = `${outcomes}`;
    for (let s = 0; s < steps; s++) key += `,${view.stageOfStep(i, s)}`;
    let trace = traces.get(key);
    if (trace === undefined) {
      const built: TraceStep[] = [];
      for (let s = 0; s < steps; s++) {
        built.push({ stage: view.text(view.stageOfStep(i, s)), outcome: OUTCOME_CODES[(outcomes >>> (2 * s)) & 3] as TraceOutcome });
      }
      traces.set(key, (trace = built));
    }
    return trace;
  };

  const records: DecisionRecord[] = [];
  for (let i = 0; i < view.count; i++) {
    const credential = CREDENTIALS[view.credential(i)] as Credential['scheme'] | undefined;
    const subject = view.subject(i);
    const token = view.token(i);
    records.push({
      time: view.time(i),
      requestId: view.own(i, Own.RequestId),
      method: view.text(view.method(i)),
      host: view.text(view.host(i)),
      path: view.own(i, Own.Path),
      clientIp: view.own(i, Own.ClientIp),
      peerIp: view.own(i, Own.PeerIp),
      ...(credential ? { credential } : {}),
      allow: view.allow(i),
      status: view.status(i),
      reason: view.text(view.reason(i)),
      stage: view.text(view.stage(i)),
      ...(subject !== 0
        ? {
            identity: {
              subject: view.text(subject),
              username: view.text(view.username(i)),
              provider: view.text(view.provider(i)),
              groups: groupsOf(view.groups(i)),
              ...(token !== 0 ? { tokenId: view.text(token) } : {}),
            },
          }
        : {}),
      trace: traceOf(i),
    });
  }
  return records;
}

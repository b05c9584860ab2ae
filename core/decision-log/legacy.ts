// AccessDecided: how stores before the decision log recorded a decision (one event each). Still read, never written.
import type { Credential, TraceEntry } from '../access.js';
import type { RecordedEvent } from '../store/port.js';
import type { DecisionRecord } from './record.js';

export const LEGACY_DECISION_EVENT = 'AccessDecided';

/** The data of an AccessDecided event. */
export interface AccessDecidedData {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly clientIp: string;
  readonly peerIp: string;
  readonly credential?: Credential['scheme'];
  readonly allow: boolean;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly description?: string;
  readonly identity?: {
    readonly subject: string;
    readonly username: string;
    readonly provider: string;
    readonly groups: readonly string[];
    readonly tokenId?: string;
  };
  readonly trace: readonly TraceEntry[];
}

/** An AccessDecided event as the decision log's record (its description and trace details dropped). */
export function legacyDecision(event: RecordedEvent): DecisionRecord {
  const data = event.data as AccessDecidedData;
  const time = typeof event.metadata.time === 'string' ? Date.parse(event.metadata.time) : Date.parse(event.time);
  return {
    time,
    requestId: data.requestId,
    method: data.method,
    host: data.host,
    path: data.path,
    clientIp: data.clientIp,
    peerIp: data.peerIp,
    ...(data.credential ? { credential: data.credential } : {}),
    allow: data.allow,
    status: data.status,
    reason: data.reason,
    stage: data.stage,
    ...(data.identity ? { identity: data.identity } : {}),
    trace: data.trace.map((step) => ({ stage: step.stage, outcome: step.outcome })),
  };
}

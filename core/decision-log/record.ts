// A decision as the decision log keeps it: plain data with its strings resolved, addressed as (block position, index).
import type { Credential } from '../access.js';
import type { Position } from '../store/position.js';

/** The event that stores one block of decisions in the hash chain. */
export const BLOCK_EVENT = 'AccessDecisionsRecorded';

/** Decisions in one block at most: a decision's address packs its index into 12 bits. */
export const MAX_BLOCK_DECISIONS = 4096;

export type TraceOutcome = 'pass' | 'allow' | 'deny';

/** One stage's outcome, in the order the stages ran (their details and reasons are not kept). */
export interface TraceStep {
  readonly stage: string;
  readonly outcome: TraceOutcome;
}

/** Who the caller was; never a credential, email, scope or claim. */
export interface DecisionIdentity {
  readonly subject: string;
  readonly username: string;
  readonly provider: string;
  readonly groups: readonly string[];
  readonly tokenId?: string;
}

/**
 * What the decision log records per decision: the request's facts, the verdict, the identity and
 * the trace. Strings longer than the log keeps are cut and end with `…` (docs/audit.md).
 */
export interface DecisionRecord {
  /** Milliseconds since the epoch: the request's time. */
  readonly time: number;
  readonly requestId: string;
  readonly method: string;
  readonly host: string;
  /** The normalised path (a refused one as recorded: see refusedPathForRecord). */
  readonly path: string;
  readonly clientIp: string;
  readonly peerIp: string;
  readonly credential?: Credential['scheme'];
  readonly allow: boolean;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly identity?: DecisionIdentity;
  readonly trace: readonly TraceStep[];
}

/**
 * A block as a store takes it: a batch sealed by DecisionBatch (layout.ts), 1 to 4096 decisions
 * of one UTC day in recording order; `id` (the block event's id) makes a retried append a no-op.
 */
export interface SealedBlock {
  readonly id: string;
  readonly batch: ArrayBuffer;
}

/** Data of an AccessDecisionsRecorded event: what the chain needs to vouch for the block's decisions. */
export interface BlockEventData {
  readonly count: number;
  /** sha256 (hex) of the block's decisions in their canonical form (core/decision-log/digest.ts). */
  readonly digest: string;
  /** ISO 8601 times of the block's earliest and latest decision. */
  readonly first: string;
  readonly last: string;
}

/** Where a decision lives: its block event's position and its index in that block. */
export interface DecisionAddress {
  readonly block: Position;
  readonly index: number;
}

export interface StoredDecision extends DecisionAddress {
  readonly decision: DecisionRecord;
}

/**
 * Which decisions to read. Every filter narrows; time, user and token id are backed by indexes,
 * `provider` is applied within what the others select.
 */
export interface DecisionQuery {
  /** Only this block's decisions. */
  readonly block?: Position;
  /** Milliseconds since the epoch, inclusive. */
  readonly from?: number;
  /** Milliseconds since the epoch, exclusive. */
  readonly to?: number;
  readonly username?: string;
  readonly tokenId?: string;
  readonly provider?: string;
  /** Exclusive cursor: decisions after this address in the direction of reading. */
  readonly after?: DecisionAddress;
  /** Address order (recording order): forwards (default) or backwards, newest first. */
  readonly direction?: 'forwards' | 'backwards';
  readonly limit?: number;
}

/** Addresses as one integer, which is how the SQLite store keys decisions: position × 4096 + index. */
export const addressKey = (block: Position | number, index: number): number => Number(block) * MAX_BLOCK_DECISIONS + index;

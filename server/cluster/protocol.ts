// The messages between the cluster primary and its gateway workers (node:cluster IPC, JSON).
import type { ProcessConfig } from '../config.js';

/** worker → primary: listening for messages; the primary answers with `start`. */
export interface HelloMessage {
  readonly t: 'hello';
}

/** primary → worker: the process configuration (over IPC, so secrets never sit in a child's environment). */
export interface StartMessage {
  readonly t: 'start';
  readonly config: ProcessConfig;
  /** The upstream every worker proxies to (the primary's demo echo upstream when none is configured). */
  readonly upstream: string;
}

/** worker → primary: the gateway listener is up. */
export interface ListeningMessage {
  readonly t: 'listening';
  readonly url: string;
}

/** worker → primary: start-up failed; the worker exits after sending it. */
export interface FailedMessage {
  readonly t: 'failed';
  readonly message: string;
  readonly code?: string;
}

/** primary → worker: catch up with the store to these projection positions, then answer `synced`. */
export interface SyncMessage {
  readonly t: 'sync';
  readonly id: number;
  /** Projection name → position (as handed out by the store). */
  readonly positions: Readonly<Record<string, string>>;
}

export interface SyncedMessage {
  readonly t: 'synced';
  readonly id: number;
}

/** A lease asked for: [request id, key, limit, window ms, requests waiting for it]. */
export type RateLimitAsk = readonly [id: number, key: string, limit: number, windowMs: number, want: number];
/** Its answer: [request id, counts granted, the window's unleased budget left, resetAt ms]. */
export type RateLimitAnswer = readonly [id: number, granted: number, remaining: number, resetAt: number];
/** Unused counts of a lease handed back: [key, resetAt ms of their window, count]. */
export type RateLimitReturn = readonly [key: string, resetAt: number, count: number];

/** worker → primary: a batch of lease requests, and leases handed back. */
export interface RateLimitAskMessage {
  readonly t: 'rl';
  readonly ask: readonly RateLimitAsk[];
  readonly give?: readonly RateLimitReturn[];
}

/** primary → worker: their grants, in any order. */
export interface RateLimitAnswerMessage {
  readonly t: 'rl';
  readonly answer: readonly RateLimitAnswer[];
}

/** primary → worker: stop accepting, finish in-flight requests, flush audit events, exit 0. */
export interface ShutdownMessage {
  readonly t: 'shutdown';
}

export type PrimaryMessage = StartMessage | SyncMessage | RateLimitAnswerMessage | ShutdownMessage;
export type WorkerMessage = HelloMessage | ListeningMessage | FailedMessage | SyncedMessage | RateLimitAskMessage;

/** Messages arrive as `unknown`; anything without our `t` tag (for example Node's own) is ignored. */
export function messageType(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const t = (message as { t?: unknown }).t;
  return typeof t === 'string' ? t : undefined;
}

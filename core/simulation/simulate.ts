// A simulation: the recorded decisions of a range re-run, in record order, through a pipeline compiled once from candidate settings.
import type { AccessRequest, Credential, Decision, TraceEntry } from '../access.js';
import { ManualClock, type Clock } from '../clock.js';
import type { Pipeline, Stage } from '../pipeline.js';
import { LocalRateLimiter, type RateLimiter } from '../rate-limit.js';
import type { DecisionRecord } from '../decision-log/record.js';
import { recordedAuthenticate, type RecordSlot } from './recorded-auth.js';

/** What a candidate pipeline is compiled with: record time, a fresh limiter on it, and the authenticate stand-in. */
export interface SimulationDeps {
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  readonly authenticate: Stage;
}

/** Builds the candidate pipeline (server/runtime/simulate.ts compiles settings; tests may compose stages). */
export type CompileCandidate = (deps: SimulationDeps) => Pipeline;

export interface ChangedDecision {
  readonly requestId: string;
  /** ISO 8601. */
  readonly time: string;
  readonly username?: string;
  readonly path: string;
  readonly old: { readonly allow: boolean; readonly reason: string };
  readonly new: { readonly allow: boolean; readonly status: number; readonly reason: string; readonly stage: string };
  readonly trace: readonly TraceEntry[];
}

export interface SimulationResult {
  readonly decisions: number;
  readonly changed: number;
  /** `old → new` outcome by reason (`allow/authenticated → deny/ip_not_allowed`) with its count, every pair, most first. */
  readonly transitions: readonly { readonly from: string; readonly to: string; readonly count: number }[];
  /** The first changed decisions, in record order, up to `samples`. */
  readonly samples: readonly ChangedDecision[];
}

export interface SimulationOptions {
  /** Changed decisions kept as samples. Default 20. */
  readonly samples?: number;
  /** Called every `progressEvery` decisions with how many were done. */
  readonly onProgress?: (done: number) => void;
  readonly progressEvery?: number;
  /** Stops the run: it rejects with the signal's reason before the next decision. */
  readonly signal?: AbortSignal;
}

/** Decisions between two turns of the event loop. */
const YIELD_EVERY = 2048;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const outcome = (allow: boolean, reason: string): string => `${allow ? 'allow' : 'deny'}/${reason}`;
/** A stand-in secret: the pipeline only routes on the scheme; the stand-in stage never reads it. */
const credentials: Record<NonNullable<DecisionRecord['credential']>, Credential> = {
  bearer: { scheme: 'bearer', secret: '' },
  basic: { scheme: 'basic', secret: '', username: '' },
  api_key: { scheme: 'api_key', secret: '' },
};

/** The request a record stands for: its method, host, path, addresses and time; a refused path refused again. */
function requestOf(record: DecisionRecord): AccessRequest {
  // Fields set one by one rather than spread: this runs once per record, a million times a run.
  const request: { -readonly [K in keyof AccessRequest]: AccessRequest[K] } = {
    id: record.requestId,
    method: record.method,
    rawPath: record.path,
    path: record.path,
    query: '',
    host: record.host,
    clientIp: record.clientIp,
    peerIp: record.peerIp,
    time: record.time,
  };
  if (record.credential) request.credential = credentials[record.credential];
  if (record.reason === 'invalid_path') request.pathError = 'as recorded';
  else if (record.reason === 'invalid_request' && record.stage === 'authenticate') request.credentialError = 'as recorded';
  return request;
}

/** The candidate pipeline with its stand-ins, deciding one record at a time: what simulate and decision tests run. */
export interface CandidateRunner {
  /**
   * Decide `record` again at its time, its recorded identity standing for the credential; `request`
   * when the caller built it (a decision test's case), else the one the record stands for.
   * `scopes`: the identity's token scopes, which the decision log does not keep.
   */
  decide(record: DecisionRecord, request?: AccessRequest, scopes?: readonly string[]): Promise<Decision>;
}

/** Compile the candidate once, with a clock set to each record's time and a fresh limiter on that clock. */
export function candidateRunner(compile: CompileCandidate): CandidateRunner {
  const clock = new ManualClock();
  const slot: RecordSlot = {};
  const pipeline = compile({ clock, rateLimiter: new LocalRateLimiter(clock), authenticate: recordedAuthenticate(slot) });
  return {
    async decide(record, request, scopes) {
      clock.set(record.time);
      slot.current = record;
      slot.scopes = scopes;
      try {
        return await pipeline.decide(request ?? requestOf(record));
      } finally {
        slot.current = undefined;
        slot.scopes = undefined;
      }
    },
  };
}

/**
 * Re-run `records` (in record order) through the candidate. Deterministic: time is each record's
 * time, rate limits count on a fresh limiter driven by it, and identities are the recorded ones.
 */
export async function simulate(
  records: AsyncIterable<DecisionRecord> | Iterable<DecisionRecord>,
  compile: CompileCandidate,
  options: SimulationOptions = {},
): Promise<SimulationResult> {
  const runner = candidateRunner(compile);
  const maxSamples = options.samples ?? 20;
  const every = options.progressEvery ?? 10_000;
  const counts = new Map<string, number>();
  const samples: ChangedDecision[] = [];
  let decisions = 0;
  let changed = 0;
  const { signal } = options;
  for await (const record of records) {
    // A property read per decision: a caller that went away stops the run at once, not a block later.
    if (signal?.aborted) signal.throwIfAborted();
    const decision = await runner.decide(record);
    decisions += 1;
    if (decision.allow !== record.allow || decision.reason !== record.reason) {
      changed += 1;
      const key = `${outcome(record.allow, record.reason)}\u0000${outcome(decision.allow, decision.reason)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (samples.length < maxSamples) {
        samples.push({
          requestId: record.requestId,
          time: new Date(record.time).toISOString(),
          ...(record.identity ? { username: record.identity.username } : {}),
          path: record.path,
          old: { allow: record.allow, reason: record.reason },
          new: { allow: decision.allow, status: decision.status, reason: decision.reason, stage: decision.stage },
          trace: decision.trace,
        });
      }
    }
    if (options.onProgress && decisions % every === 0) options.onProgress(decisions);
    // The stages answer mostly without I/O: give the event loop a turn now and then, so a long
    // run inside `serve` (POST /api/v1/simulate) does not hold up the gateway's requests.
    if (decisions % YIELD_EVERY === 0) await turn();
  }
  const transitions = [...counts]
    .map(([key, count]) => {
      const [from, to] = key.split('\u0000') as [string, string];
      return { from, to, count };
    })
    .sort((a, b) => b.count - a.count || a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
  return { decisions, changed, transitions, samples };
}

// Stages and their onion composition: the compiled pipeline that decides every request.
import type { AccessRequest, Decision, Identity, MatchedRoute, TraceEntry, Verdict } from './access.js';
import type { TokenRecord } from './tokens/token-index.js';

/** What a gateway token may do, as the authenticate stage found it (enforced by the token_scopes stage). */
export type TokenScope = Pick<TokenRecord, 'id' | 'readOnly' | 'pathPrefixes' | 'ipAllow'>;

/** Per-request state that stages share: who the caller turned out to be, and the trace so far. */
export interface PipelineState {
  identity?: Identity;
  /** The authenticate stage consumed the credential (so the proxy does not forward it). */
  credentialConsumed: boolean;
  readonly trace: TraceEntry[];
  /**
   * The trace keeps each stage's `detail` (`remaining=41`, `provider=okta`): for admins who ask
   * for the trace and the admin tools. Otherwise only stage and outcome, which is what the
   * decision log keeps, and a stage may skip building a detail nobody reads.
   */
  readonly detailed: boolean;
  /** The per-route rule matching the request (set by the paths stage, enforced after authentication). */
  route?: MatchedRoute;
  /** Anonymous callers may pass (public path or anonymous route); set by the paths stage. */
  anonymousAllowed?: boolean;
  /** The gateway token that authenticated the caller, with its scopes. */
  token?: TokenScope;
  /** The credential goes to the upstream unjudged (Basic or a PAT, as settings `credentials` allow). */
  passThrough?: 'basic' | 'pat';
  /** Response headers for the answer, allowed or denied (the rate-limit stage's); they win over a later verdict's of the same name. */
  headers?: Readonly<Record<string, string>>;
}

/** A verdict now, or later when the stage had to wait (a provider call, a shared rate-limit count). */
export type Outcome = Verdict | Promise<Verdict>;

/** Pass the request on; `detail` goes into this stage's trace entry (never a secret). */
export type Next = (detail?: string) => Outcome;

/**
 * A policy stage. It returns a verdict to decide, or calls `next()` to pass the request on.
 * A stage that knows its answer at once returns it as it is, not in a promise: a request that
 * no stage waits for is decided without a single promise. Stages do I/O only through injected ports.
 */
export interface Stage {
  readonly name: string;
  run(request: AccessRequest, state: PipelineState, next: Next): Outcome;
}

export interface JudgeOptions {
  /** Keep each stage's detail in the trace (default true); see PipelineState.detailed. */
  readonly detailed?: boolean;
}

export interface Pipeline {
  readonly stages: readonly string[];
  /** Decide `request`: the decision itself when no stage waited, else its promise. */
  judge(request: AccessRequest, options?: JudgeOptions): Decision | Promise<Decision>;
  /** {@link judge} with the detailed trace, always as a promise. */
  decide(request: AccessRequest): Promise<Decision>;
}

const allowed = (reason: string, description?: string): Verdict =>
  Object.freeze(description === undefined ? { allow: true, status: 200, reason, stage: 'pipeline' } : { allow: true, status: 200, reason, description, stage: 'pipeline' });
const AUTHENTICATED = allowed('authenticated');
const ANONYMOUS = allowed('anonymous');
const PASS_THROUGH = {
  basic: allowed('pass_through', 'basic credentials forwarded for the upstream to judge'),
  pat: allowed('pass_through', 'pat credentials forwarded for the upstream to judge'),
};

/** What a request gets when every stage passed it on. */
const passedAll = (state: PipelineState): Verdict =>
  state.identity ? AUTHENTICATED : state.passThrough ? PASS_THROUGH[state.passThrough] : ANONYMOUS;

/** The decision: the verdict, the deciding stage, and what the stages found. Built field by field, no spreads. */
function decisionOf(verdict: Verdict, state: PipelineState): Decision {
  const decision: { -readonly [K in keyof Decision]: Decision[K] } = {
    allow: verdict.allow,
    status: verdict.status,
    reason: verdict.reason,
    stage: verdict.stage ?? 'pipeline',
    trace: state.trace,
    credentialConsumed: state.credentialConsumed,
  };
  if (verdict.description !== undefined) decision.description = verdict.description;
  if (verdict.challenge) decision.challenge = true;
  const headers = verdict.headers && state.headers ? { ...verdict.headers, ...state.headers } : (state.headers ?? verdict.headers);
  if (headers) decision.headers = headers;
  if (state.identity) decision.identity = state.identity;
  if (state.route) decision.route = state.route.name;
  return decision;
}

/** A stage's answer as the stage before it sees it: a stage that decided (did not pass it on) is traced and named. */
function settled(stage: string, passed: boolean, verdict: Verdict, state: PipelineState): Verdict {
  if (passed) return verdict;
  state.trace.push({ outcome: verdict.allow ? 'allow' : 'deny', reason: verdict.reason, stage });
  return verdict.stage ? verdict : { ...verdict, stage };
}

/** Compose stages onion-style, like Koa middleware: the first stage runs first and sees the result last. */
export function composePipeline(stages: readonly Stage[]): Pipeline {
  const names = stages.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new TypeError(`duplicate stage names: ${names.join(', ')}`);
  // Keys in code-unit order: the audit event's hash (canonical JSON) then needs no sorted copy.
  // A pass without detail is the same entry for every request.
  const passes: readonly TraceEntry[] = names.map((stage) => Object.freeze({ outcome: 'pass', stage }));

  const dispatch = (i: number, request: AccessRequest, state: PipelineState): Outcome => {
    const stage = stages[i];
    if (!stage) return passedAll(state);
    let passed = false;
    const next: Next = (detail) => {
      if (passed) throw new Error(`stage ${stage.name} called next() twice`);
      passed = true;
      state.trace.push(detail && state.detailed ? { detail, outcome: 'pass', stage: stage.name } : passes[i]!);
      return dispatch(i + 1, request, state);
    };
    const outcome = stage.run(request, state, next);
    if (outcome instanceof Promise) return outcome.then((verdict) => settled(stage.name, passed, verdict, state));
    return settled(stage.name, passed, outcome, state);
  };

  const judge = (request: AccessRequest, options?: JudgeOptions): Decision | Promise<Decision> => {
    const state: PipelineState = { credentialConsumed: false, trace: [], detailed: options?.detailed ?? true };
    const outcome = dispatch(0, request, state);
    return outcome instanceof Promise ? outcome.then((verdict) => decisionOf(verdict, state)) : decisionOf(outcome, state);
  };

  return {
    stages: names,
    judge,
    decide: async (request) => judge(request),
  };
}

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
  /** The per-route rule matching the request (set by the paths stage, enforced after authentication). */
  route?: MatchedRoute;
  /** Anonymous callers may pass (public path or anonymous route); set by the paths stage. */
  anonymousAllowed?: boolean;
  /** The gateway token that authenticated the caller, with its scopes. */
  token?: TokenScope;
  /** The credential goes to the upstream unjudged (Basic or a PAT, as settings `credentials` allow). */
  passThrough?: 'basic' | 'pat';
}

/** Pass the request on; `detail` goes into this stage's trace entry (never a secret). */
export type Next = (detail?: string) => Promise<Verdict>;

/**
 * A policy stage. It returns a verdict to decide, or calls `next()` to pass the request on
 * (and may look at or change what comes back). Stages do I/O only through injected ports.
 */
export interface Stage {
  readonly name: string;
  run(request: AccessRequest, state: PipelineState, next: Next): Promise<Verdict>;
}

/** What a request gets when every stage passed it on. */
const passedAll = (state: PipelineState): Verdict =>
  state.identity
    ? { allow: true, status: 200, reason: 'authenticated', stage: 'pipeline' }
    : state.passThrough
      ? { allow: true, status: 200, reason: 'pass_through', description: `${state.passThrough} credentials forwarded for the upstream to judge`, stage: 'pipeline' }
      : { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline' };

export interface Pipeline {
  readonly stages: readonly string[];
  decide(request: AccessRequest): Promise<Decision>;
}

/** Compose stages onion-style, like Koa middleware: the first stage runs first and sees the result last. */
export function composePipeline(stages: readonly Stage[]): Pipeline {
  const names = stages.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new TypeError(`duplicate stage names: ${names.join(', ')}`);

  const dispatch = (i: number, request: AccessRequest, state: PipelineState): Promise<Verdict> => {
    const stage = stages[i];
    if (!stage) return Promise.resolve(passedAll(state));
    let passed = false;
    const next: Next = (detail) => {
      if (passed) return Promise.reject(new Error(`stage ${stage.name} called next() twice`));
      passed = true;
      // Keys in code-unit order: the audit event's hash (canonical JSON) then needs no sorted copy.
      state.trace.push(detail ? { detail, outcome: 'pass', stage: stage.name } : { outcome: 'pass', stage: stage.name });
      return dispatch(i + 1, request, state);
    };
    return stage.run(request, state, next).then((verdict) => {
      if (passed) return verdict;
      state.trace.push({ outcome: verdict.allow ? 'allow' : 'deny', reason: verdict.reason, stage: stage.name });
      return verdict.stage ? verdict : { ...verdict, stage: stage.name };
    });
  };

  return {
    stages: names,
    async decide(request) {
      const state: PipelineState = { credentialConsumed: false, trace: [] };
      const verdict = await dispatch(0, request, state);
      return {
        ...verdict,
        stage: verdict.stage ?? 'pipeline',
        trace: state.trace,
        credentialConsumed: state.credentialConsumed,
        ...(state.identity ? { identity: state.identity } : {}),
        ...(state.route ? { route: state.route.name } : {}),
      };
    },
  };
}

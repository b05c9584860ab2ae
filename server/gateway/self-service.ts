// Self-service tokens at /_portcullis/tokens on the gateway listener: a caller known through a provider lists, creates and revokes their own.
import type Koa from 'koa';
import { koaBody } from 'koa-body';
import type { AccessRequest, Decision } from '../../core/access.js';
import type { CommandContext } from '../../core/commands.js';
import { GatewayError } from '../../core/errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { GATEWAY_PROVIDER } from '../../core/tokens/usage.js';
import { listTokens, parseStateFilter, tokenView } from '../token-view.js';

export const SELF_SERVICE_PATH = '/_portcullis/tokens';

/** `/_portcullis/tokens`, `/_portcullis/tokens/<id>`, with or without a query string. */
export function isSelfServicePath(url: string): boolean {
  if (!url.startsWith(SELF_SERVICE_PATH)) return false;
  const rest = url.charCodeAt(SELF_SERVICE_PATH.length);
  return Number.isNaN(rest) || rest === 0x2f /* / */ || rest === 0x3f /* ? */;
}

/** What the gateway lends the endpoint: its way of answering a refusal (JSON, challenges, trace). */
export interface SelfServiceIo {
  deny(decision: Decision): void;
  trace(decision: Decision): void;
}

type Action =
  | { readonly kind: 'list' }
  | { readonly kind: 'create' }
  | { readonly kind: 'revoke'; readonly id: string }
  | { readonly kind: 'show'; readonly id: string };

const TOKEN_ID = /^[0-9a-f]{16}$/;

/** The action a normalised path and method ask for; undefined: not a self-service endpoint. */
function actionOf(method: string, path: string): Action | 'method_not_allowed' | undefined {
  if (path === SELF_SERVICE_PATH || path === `${SELF_SERVICE_PATH}/`) {
    if (method === 'GET' || method === 'HEAD') return { kind: 'list' };
    if (method === 'POST') return { kind: 'create' };
    return 'method_not_allowed';
  }
  const id = path.slice(SELF_SERVICE_PATH.length + 1);
  if (!TOKEN_ID.test(id)) return undefined;
  if (method === 'DELETE') return { kind: 'revoke', id };
  if (method === 'GET' || method === 'HEAD') return { kind: 'show', id };
  return 'method_not_allowed';
}

const parseJson = koaBody({ json: true, jsonStrict: true, jsonLimit: '64kb', multipart: false, urlencoded: false, text: false });

/** Turn an allowed pipeline decision into this endpoint's refusal, keeping the trace and identity for the audit. */
function refuse(decision: Decision, status: number, reason: string, description: string, challenge = false): Decision {
  return {
    ...decision,
    allow: false,
    status,
    reason,
    description,
    stage: 'self_service',
    trace: [...decision.trace, { stage: 'self_service', outcome: 'deny', reason }],
    ...(challenge ? { challenge: true } : {}),
  };
}

export function createSelfService(runtime: Runtime): (ctx: Koa.Context, request: AccessRequest, io: SelfServiceIo) => Promise<void> {
  return async (ctx, request, io) => {
    // The caller is established like any other: every stage (IP, authenticate, groups, routes, rate limit) applies.
    let decision = await runtime.compiled.pipeline.decide(request);
    const action = actionOf(request.method, request.path);
    const identity = decision.identity;
    const { settings } = runtime.compiled;
    if (!decision.allow) {
      // refused by the pipeline: its own answer
    } else if (action === undefined) {
      decision = refuse(decision, 404, 'not_found', 'no such self-service endpoint');
    } else if (!identity) {
      decision = refuse(decision, 401, 'missing_credential', 'sign in through an identity provider to manage your tokens', true);
    } else if (identity.provider === GATEWAY_PROVIDER) {
      decision = refuse(decision, 403, 'provider_identity_required', 'tokens are managed with a provider identity, not with a gateway token');
    } else if (action === 'method_not_allowed') {
      decision = refuse(decision, 405, 'method_not_allowed', `${request.method} is not allowed here`);
    } else if (action.kind === 'create') {
      const creator = settings.groups.tokenCreators;
      if (!settings.tokens.allowUserCreate || !identity.groups.some((g) => creator.includes(g))) {
        decision = refuse(decision, 403, 'token_creation_not_allowed', 'you may not create gateway tokens (tokens.allowUserCreate, groups.tokenCreators)');
      }
    }
    runtime.recordDecision(request, decision);
    if (!decision.allow || !identity || action === undefined || action === 'method_not_allowed') return io.deny(decision);
    io.trace(decision);

    const ctxOf: CommandContext = { actor: `user:${identity.username}`, sourceIp: request.clientIp, correlationId: request.id };
    const now = runtime.clock.now();
    const usage = runtime.tokenUsage.state;
    ctx.set('cache-control', 'no-store');
    switch (action.kind) {
      case 'list': {
        const state = parseStateFilter(typeof ctx.query.state === 'string' ? ctx.query.state : undefined);
        ctx.body = { tokens: listTokens(runtime.tokens.state.ofOwner(identity.username), usage, now, state) };
        return;
      }
      case 'show': {
        const record = runtime.tokens.state.get(action.id);
        if (!record || record.owner !== identity.username) throw new GatewayError('not_found', 404, `no token ${action.id}`);
        ctx.body = tokenView(record, usage, now);
        return;
      }
      case 'create': {
        await parseJson(ctx, async () => undefined);
        const { record, token } = await runtime.tokenCommands.issueOwn(identity, ctx.request.body, ctxOf);
        ctx.status = 201;
        ctx.body = { ...tokenView(record, usage, now), token };
        return;
      }
      case 'revoke': {
        const reason = typeof ctx.query.reason === 'string' ? ctx.query.reason : undefined;
        await runtime.tokenCommands.revoke(action.id, reason, ctxOf, identity.username);
        ctx.status = 204;
        return;
      }
    }
  };
}

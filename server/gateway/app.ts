// The gateway listener: decides every request with the pipeline, then proxies it or answers forward auth.
import Koa from 'koa';
import type { AccessRequest, Decision, TraceEntry } from '../../core/access.js';
import { DECIDE_PATH } from '../../core/forward-auth.js';
import { normaliseHost } from '../../core/host.js';
import { timeOrderedId } from '../../core/ids.js';
import { canonicalAddress } from '../../core/net.js';
import type { Logger } from '../../core/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { toAccessRequest, type RequestTarget } from './access-request.js';
import { MAX_HEADER_FIELDS } from './server.js';
import { identityHeaders } from './identity-headers.js';
import { UpstreamProxy } from './proxy.js';
import { ASSERTION_HEADER, JWKS_PATH, type AssertionSigner } from './assertion.js';
import { JWKS_MAX_AGE_SECONDS } from '../assertion-keys.js';
import { decisionError, errorResponse } from '../respond.js';
import { createSelfService, isSelfServicePath } from './self-service.js';

const RESERVED_PREFIX = '/_portcullis/';

export interface GatewayOptions {
  readonly runtime: Runtime;
  readonly proxy: UpstreamProxy;
  readonly logger: Logger;
  /** Signs X-Portcullis-Assertion and publishes /_portcullis/jwks.json; without it, neither. */
  readonly assertions?: AssertionSigner;
}

/** The path of a request target, without its query: what an assertion is bound to. */
const pathOf = (target: string): string => {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
};

/** Admins send the admin token in this header to get the decision trace back in {@link TRACE_HEADER}. */
export const DEBUG_HEADER = 'x-portcullis-debug';
export const TRACE_HEADER = 'x-portcullis-trace';

const header = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** `master_switch:pass,authenticate:deny(invalid_token)`: one entry per stage that ran, printable ASCII only. */
export function formatTrace(trace: readonly TraceEntry[]): string {
  return trace
    .map((t) => {
      const why = t.reason ?? t.detail;
      return `${t.stage}:${t.outcome}${why ? `(${why})` : ''}`;
    })
    .join(',')
    .replace(/[^\x20-\x7e]/g, '?');
}

/** How many Host fields the request carried: Node keeps the first and silently drops the others. */
function hostFields(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

/** What a request's answer needs from the gateway, built once per app: no closures per request. */
interface Answering {
  readonly runtime: Runtime;
}

/** The trace goes back only to a caller that proves it is an admin; everyone else learns nothing more. */
function wantsTrace(runtime: Runtime, value: string | string[] | undefined): boolean {
  const token = header(value);
  return token !== undefined && token !== '' && runtime.isAdminToken(token);
}

/** A refusal, answered as JSON with its challenges (and the trace for an admin who asked). */
function sendDenial({ runtime }: Answering, ctx: Koa.Context, requestId: string, decision: Decision, traced: boolean): void {
  // A Basic challenge too when Basic is accepted in some form (settings `credentials.basic`).
  const basicChallenge = runtime.compiled.settings.credentials.basic !== 'deny';
  const { status, headers, body } = decisionError(decision, requestId, { basicChallenge });
  if (traced) ctx.set(TRACE_HEADER, formatTrace(decision.trace));
  ctx.status = status;
  ctx.set(headers);
  ctx.body = body;
}

/** Refused before the pipeline can judge the request: answered like a denial, and audited all the same. */
function refuseAtEdge(answering: Answering, ctx: Koa.Context, requestId: string, peerIp: string, stage: string, status: number, reason: string, description: string): void {
  const { runtime } = answering;
  const req = ctx.req;
  const url = req.url ?? '/';
  const refused: Decision = { allow: false, status, reason, description, stage, trace: [{ outcome: 'deny', reason, stage }], credentialConsumed: false };
  const direct = { method: req.method ?? 'GET', url, host: (header(req.headers.host) ?? '').slice(0, 255) };
  const clientIp = runtime.compiled.resolveClientIp(peerIp, req.headers);
  runtime.recordDecision(toAccessRequest(req, requestId, direct, clientIp, peerIp, runtime.clock.now()), refused);
  sendDenial(answering, ctx, requestId, refused, wantsTrace(runtime, req.headers[DEBUG_HEADER]));
}

export function createGatewayApp({ runtime, proxy, logger, assertions }: GatewayOptions): Koa {
  const app = new Koa({ proxy: false });
  const answering: Answering = { runtime };
  const isTrustedProxy = (ip: string) => runtime.compiled.isTrustedProxy(ip);

  app.on('error', (err: unknown) => logger.error({ err }, 'gateway error outside a request'));
  const selfService = createSelfService(runtime);

  /** Answer an allowed forward-auth question: 200 with the identity headers (and an assertion). */
  const answerForwardAuth = async (ctx: Koa.Context, request: AccessRequest, decision: Decision): Promise<void> => {
    // Bound to the judged (normalised) path: the proxy in front copies it to the upstream.
    const assertion = assertions ? await assertions.sign(runtime.compiled.settings, decision, { requestId: request.id, method: request.method, path: request.path }) : undefined;
    ctx.status = 200;
    ctx.set({ ...decision.headers, ...identityHeaders(decision), ...(assertion !== undefined ? { [ASSERTION_HEADER]: assertion } : {}) });
    ctx.body = '';
  };

  /** Proxy an allowed request; the proxy writes the answer itself (the upstream's headers, the decision's, the request id). */
  const forward = async (ctx: Koa.Context, request: AccessRequest, decision: Decision): Promise<void> => {
    const req = ctx.req;
    // Signed before the proxy takes over the response, so a failure is still answered here.
    const assertion = assertions
      ? await assertions.sign(runtime.compiled.settings, decision, { requestId: request.id, method: request.method, path: pathOf(proxy.target(req, request, decision)) })
      : undefined;
    ctx.respond = false;
    return proxy.forward(req, ctx.res, request, decision, assertion);
  };

  app.use(async (ctx) => {
    const requestId = timeOrderedId();
    try {
      const req = ctx.req;
      const peerIp = canonicalAddress(req.socket.remoteAddress ?? '');
      const url = req.url ?? '/';
      const forwardAuth = url === DECIDE_PATH || url.startsWith(`${DECIDE_PATH}?`) || url.startsWith(`${DECIDE_PATH}/`);

      // Past the cap Node (and an upstream on Node) keeps only the first fields: refused, never trimmed.
      if (req.rawHeaders.length > MAX_HEADER_FIELDS * 2) {
        return refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 431, 'request_header_fields_too_large', `send at most ${MAX_HEADER_FIELDS} header fields`);
      }
      // Only origin-form targets: an absolute URL or `*` would let the client pick what the path means.
      if (!url.startsWith('/')) return refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 400, 'invalid_request', 'the request target must be a path');
      // RFC 9112 §3.2: a request with more than one Host is answered 400; which one to judge would be a guess.
      if (hostFields(req.rawHeaders) > 1) return refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 400, 'invalid_request', 'the request has more than one Host header');
      if (assertions && pathOf(url) === JWKS_PATH) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 405, 'method_not_allowed', 'the key set is read with GET');
          ctx.set('allow', 'GET, HEAD');
          return;
        }
        // Public keys only; an upstream's cache keeps them no longer than a rotation waits before using a new key.
        ctx.set('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
        ctx.type = 'application/jwk-set+json';
        ctx.body = JSON.stringify(assertions.jwks());
        return;
      }
      const tokensEndpoint = !forwardAuth && isSelfServicePath(url);
      if (!forwardAuth && !tokensEndpoint && url.startsWith(RESERVED_PREFIX)) return refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 404, 'not_found', 'no such gateway endpoint');
      if (forwardAuth && !isTrustedProxy(peerIp)) {
        return refuseAtEdge(answering, ctx, requestId, peerIp, 'forward_auth', 403, 'untrusted_proxy', 'forward-auth requests are accepted only from trusted proxies (settings ip.trustedProxies)');
      }

      let target: RequestTarget;
      if (forwardAuth) {
        const asked = runtime.compiled.forwardedRequest({ method: req.method ?? 'GET', url, headers: req.headers });
        if ('error' in asked) return refuseAtEdge(answering, ctx, requestId, peerIp, 'forward_auth', 400, 'invalid_request', asked.error);
        target = asked;
      } else {
        // The host judged is the host the upstream is told (X-Forwarded-Host): a trusted proxy's, else Host.
        const forwardedHost = header(req.headers['x-forwarded-host']);
        const host = normaliseHost(forwardedHost !== undefined && isTrustedProxy(peerIp) ? forwardedHost : (header(req.headers.host) ?? ''));
        if (!host.ok) return refuseAtEdge(answering, ctx, requestId, peerIp, 'gateway', 400, 'invalid_request', `the requested host is not acceptable: ${host.error}`);
        target = { method: req.method ?? 'GET', url, host: host.host };
      }
      const clientIp = runtime.compiled.resolveClientIp(peerIp, req.headers);
      const apiKeyHeader = runtime.compiled.settings.credentials.apiKeyHeader;
      const request: AccessRequest = toAccessRequest(req, requestId, target, clientIp, peerIp, runtime.clock.now(), apiKeyHeader);
      const traced = wantsTrace(runtime, req.headers[DEBUG_HEADER]);
      if (tokensEndpoint) {
        return await selfService(ctx, request, {
          deny: (decision) => sendDenial(answering, ctx, requestId, decision, traced),
          trace: (decision) => {
            if (traced) ctx.set(TRACE_HEADER, formatTrace(decision.trace));
          },
        });
      }
      // Decided at once unless a stage had to wait (a provider call, a shared count): no promise for the common case.
      const decided = runtime.decide(request, traced);
      const decision = decided instanceof Promise ? await decided : decided;

      if (!decision.allow) return sendDenial(answering, ctx, requestId, decision, traced);
      if (traced) ctx.set(TRACE_HEADER, formatTrace(decision.trace));
      if (forwardAuth) return await answerForwardAuth(ctx, request, decision);
      return await forward(ctx, request, decision);
    } catch (err) {
      const { status, body, expected } = errorResponse(err, requestId);
      if (!expected) logger.error({ err, requestId }, 'gateway request failed');
      if (ctx.respond === false) return;
      ctx.status = status;
      ctx.body = body;
    } finally {
      // Every answer carries its request id; a proxied one gets it from the proxy (ctx.respond = false).
      if (ctx.respond !== false) ctx.set('x-request-id', requestId);
    }
  });
  return app;
}

// The gateway listener: decides every request with the pipeline, then proxies it or answers forward auth.
import type { IncomingHttpHeaders } from 'node:http';
import Koa from 'koa';
import type { AccessRequest, Decision, TraceEntry } from '../../core/access.js';
import { timeOrderedId } from '../../core/ids.js';
import { canonicalAddress } from '../../core/net.js';
import type { Logger } from '../../core/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { toAccessRequest, type RequestTarget } from './access-request.js';
import { identityHeaders, UpstreamProxy } from './proxy.js';
import { decisionError, errorResponse } from '../respond.js';
import { createSelfService, isSelfServicePath } from './self-service.js';

export const DECIDE_PATH = '/_portcullis/decide';
const RESERVED_PREFIX = '/_portcullis/';

export interface GatewayOptions {
  readonly runtime: Runtime;
  readonly proxy: UpstreamProxy;
  readonly logger: Logger;
}

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

/**
 * The request a forward-auth call asks about. nginx, Traefik and HAProxy name it in headers
 * (X-Forwarded-* or X-Original-*); Envoy's ext_authz HTTP service appends the original path and
 * query to the decide path (`/_portcullis/decide/rest/api/2/issue?x=1`) and uses the original
 * method. When both forms name a URI they must agree.
 */
export function forwardedTarget(method: string, url: string, headers: IncomingHttpHeaders): RequestTarget | { error: string } {
  const appended = url.startsWith(`${DECIDE_PATH}/`) ? url.slice(DECIDE_PATH.length) : undefined;
  const named = header(headers['x-forwarded-uri']) ?? header(headers['x-original-uri']);
  if (appended !== undefined && named !== undefined && named !== appended) {
    return { error: 'the path after /_portcullis/decide and X-Forwarded-Uri name different requests' };
  }
  return {
    method: header(headers['x-forwarded-method']) ?? header(headers['x-original-method']) ?? (appended !== undefined ? method : 'GET'),
    url: appended ?? named ?? '/',
    host: header(headers['x-forwarded-host']) ?? header(headers.host) ?? '',
  };
}

export function createGatewayApp({ runtime, proxy, logger }: GatewayOptions): Koa {
  const app = new Koa({ proxy: false });
  const isTrustedProxy = (ip: string) => runtime.compiled.isTrustedProxy(ip);
  /** The trace goes back only to a caller that proves it is an admin; everyone else learns nothing more. */
  const wantsTrace = (value: string | string[] | undefined): boolean => {
    const token = header(value);
    return token !== undefined && token !== '' && runtime.isAdminToken(token);
  };

  app.on('error', (err: unknown) => logger.error({ err }, 'gateway error outside a request'));
  const selfService = createSelfService(runtime);

  app.use(async (ctx) => {
    const requestId = timeOrderedId();
    let traced: boolean | undefined;
    const addTrace = (decision: Decision) => {
      traced ??= wantsTrace(ctx.req.headers[DEBUG_HEADER]);
      if (traced) ctx.set(TRACE_HEADER, formatTrace(decision.trace));
    };
    const sendDenial = (decision: Decision) => {
      // A Basic challenge too when Basic is accepted in some form (settings `credentials.basic`).
      const basicChallenge = runtime.compiled.settings.credentials.basic !== 'deny';
      const { status, headers, body } = decisionError(decision, requestId, { basicChallenge });
      addTrace(decision);
      ctx.status = status;
      ctx.set(headers);
      ctx.body = body;
    };
    try {
      const req = ctx.req;
      const peerIp = canonicalAddress(req.socket.remoteAddress ?? '');
      const url = req.url ?? '/';
      const forwardAuth = url === DECIDE_PATH || url.startsWith(`${DECIDE_PATH}?`) || url.startsWith(`${DECIDE_PATH}/`);

      /** Refused before the pipeline can judge the request: answered like a denial, and audited all the same. */
      const refuseAtEdge = (stage: string, status: number, reason: string, description: string) => {
        const refused: Decision = { allow: false, status, reason, description, stage, trace: [{ outcome: 'deny', reason, stage }], credentialConsumed: false };
        const direct = { method: req.method ?? 'GET', url, host: header(req.headers.host) ?? '' };
        const clientIp = runtime.compiled.resolveClientIp(peerIp, req.headers);
        runtime.recordDecision(toAccessRequest(req, requestId, direct, clientIp, peerIp, runtime.clock.now()), refused);
        sendDenial(refused);
      };

      // Only origin-form targets: an absolute URL or `*` would let the client pick what the path means.
      if (!url.startsWith('/')) return refuseAtEdge('gateway', 400, 'invalid_request', 'the request target must be a path');
      const tokensEndpoint = !forwardAuth && isSelfServicePath(url);
      if (!forwardAuth && !tokensEndpoint && url.startsWith(RESERVED_PREFIX)) return refuseAtEdge('gateway', 404, 'not_found', 'no such gateway endpoint');
      if (forwardAuth && !isTrustedProxy(peerIp)) {
        return refuseAtEdge('forward_auth', 403, 'untrusted_proxy', 'forward-auth requests are accepted only from trusted proxies (settings ip.trustedProxies)');
      }

      const target = forwardAuth ? forwardedTarget(req.method ?? 'GET', url, req.headers) : { method: req.method ?? 'GET', url, host: header(req.headers.host) ?? '' };
      if ('error' in target) return refuseAtEdge('forward_auth', 400, 'invalid_request', target.error);
      const clientIp = runtime.compiled.resolveClientIp(peerIp, req.headers);
      const apiKeyHeader = runtime.compiled.settings.credentials.apiKeyHeader;
      const request: AccessRequest = toAccessRequest(req, requestId, target, clientIp, peerIp, runtime.clock.now(), apiKeyHeader);
      if (tokensEndpoint) return await selfService(ctx, request, { deny: sendDenial, trace: addTrace });
      const decision = await runtime.decide(request);

      if (!decision.allow) return sendDenial(decision);
      addTrace(decision);
      if (forwardAuth) {
        ctx.status = 200;
        ctx.set({ ...decision.headers, ...identityHeaders(decision) });
        ctx.body = '';
        return;
      }
      // The proxy writes the answer itself: the upstream's headers, the decision's and the request id.
      ctx.respond = false;
      await proxy.forward(req, ctx.res, request, decision);
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

// The reverse proxy: streams the request to the upstream and the answer straight into the client's socket.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { AccessRequest, Decision } from '../../core/access.js';
import type { Logger } from '../../core/logger.js';
import { ASSERTION_HEADER } from './assertion.js';
import { IDENTITY_HEADER_PREFIX, identityHeaders } from './identity-headers.js';
import { writeJsonError } from '../respond.js';

/**
 * RFC 9110 §7.6.1 hop-by-hop fields, plus the proxy-only ones. `expect` too: Node has already
 * answered `100-continue` to the client, and undici refuses to send it.
 */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'expect',
]);

/**
 * Headers some upstream frameworks (IIS, Symfony, Zend) read as the request path: a client could
 * make the upstream serve another path than the one the gateway judged, so they never pass.
 */
const PATH_OVERRIDES = ['x-original-url', 'x-original-uri', 'x-rewrite-url', 'x-forwarded-uri', 'x-forwarded-path', 'x-forwarded-prefix'];

export interface ProxyOptions {
  readonly upstream: URL;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Peer is a trusted proxy: keep the X-Forwarded-* it sent and append to them. */
  readonly isTrustedProxy: (ip: string) => boolean;
  /** Told how long each upstream exchange took, answered or failed, in seconds (metrics). */
  readonly upstreamTimed?: (seconds: number) => void;
}

/** Field names listed in a Connection header (hop-by-hop too), or none. */
function connectionNamed(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const names = String(value).toLowerCase().split(',').map((s) => s.trim());
  // `Connection: keep-alive` (or close) names nothing that is not already dropped.
  return names.every((n) => HOP_BY_HOP.has(n) || n === 'close') ? undefined : names;
}

/** Never forwarded upstream as the client sent them: hop-by-hop, path overrides, Host (undici sets it), the request id (the gateway's). */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...PATH_OVERRIDES, 'host', 'x-request-id']);

/**
 * A client header spelt with `_` for `-` (`X_Portcullis_User`) that names one the gateway removes
 * or sets itself. CGI, WSGI, PHP and Rack read both spellings as the same variable
 * (`HTTP_X_PORTCULLIS_USER`), so such a header is dropped like the dashed one. Node has already
 * lower-cased the name; `dashed` is it with every `_` made `-`.
 */
function reservedSpelling(dashed: string, consumed: string | undefined): boolean {
  return (
    NOT_FORWARDED.has(dashed) ||
    dashed === consumed ||
    dashed.startsWith(IDENTITY_HEADER_PREFIX) ||
    // The gateway sets X-Forwarded-For/-Proto/-Host; the upstream must not see a second, client-made spelling.
    dashed.startsWith('x-forwarded-')
  );
}

/**
 * The upstream gets the path the pipeline judged (normalised), never the raw one, with the query
 * as received. Except when nothing was judged, the master switch being off (`auth_disabled`): then
 * the request target goes exactly as received, as the switch promises, even a path normalisation
 * refused (whose `request.path` is only the audit's shortened form). Such a path passes no other way.
 */
const forwardedAsReceived = (request: AccessRequest, decision: Decision): boolean =>
  decision.reason === 'auth_disabled' || request.pathError !== undefined;

/**
 * undici refused the request before sending anything (a header value or path it cannot write):
 * the gateway's own fault, never the upstream's.
 */
const refusedBeforeSending = (err: unknown): boolean =>
  err instanceof undiciErrors.InvalidArgumentError || err instanceof undiciErrors.NotSupportedError;

/**
 * The upstream's answer headers without hop-by-hop fields, then the gateway's own (`own`, which
 * win over the upstream's of the same name). One object built in one pass: no copies, no deletes.
 */
function answerHeaders(upstream: IncomingHttpHeaders, own: Readonly<Record<string, string>> | undefined, requestId: string): Record<string, string | string[]> {
  const named = connectionNamed(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== undefined && named.includes(name))) continue;
    out[name] = value;
  }
  if (own) for (const name in own) out[name] = own[name]!;
  out['x-request-id'] = requestId;
  return out;
}

export class UpstreamProxy {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(private readonly options: ProxyOptions) {
    this.origin = options.upstream.origin;
    this.basePath = options.upstream.pathname.replace(/\/$/, '');
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 256,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  /** The request target the upstream receives: its base path, then the judged path (see forwardedAsReceived) and the query. */
  target(req: IncomingMessage, request: AccessRequest, decision: Decision): string {
    return this.basePath + (forwardedAsReceived(request, decision) ? (req.url ?? request.rawPath) : request.path + (request.query ? `?${request.query}` : ''));
  }

  /**
   * Forward an allowed request. Never throws: every failure ends this one exchange only.
   * `assertion` goes upstream as X-Portcullis-Assertion (signed for {@link target}).
   */
  async forward(req: IncomingMessage, res: ServerResponse, request: AccessRequest, decision: Decision, assertion?: string): Promise<void> {
    const headers = this.requestHeaders(req, request, decision);
    if (assertion !== undefined) headers[ASSERTION_HEADER] = assertion;
    // A client that goes away aborts the upstream exchange. undici takes any EventEmitter that
    // emits 'abort' as the signal: the response itself, which spares an AbortController (and its
    // EventTarget) per request.
    let clientGone = false;
    const onClose = () => {
      if (res.writableFinished) return;
      clientGone = true;
      res.emit('abort');
    };
    res.once('close', onClose);
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    const target = this.target(req, request, decision);
    const timed = this.options.upstreamTimed;
    const started = timed ? performance.now() : 0;
    try {
      await this.agent.stream(
        {
          origin: this.origin,
          path: target,
          method: req.method as Dispatcher.HttpMethod,
          headers,
          body: hasBody ? req : null,
          signal: res,
        },
        ({ statusCode, headers: upstreamHeaders }) => {
          res.writeHead(statusCode, answerHeaders(upstreamHeaders, decision.headers, request.id));
          return res;
        },
      );
    } catch (err) {
      if (clientGone) return; // nothing to answer
      if (refusedBeforeSending(err)) {
        this.options.logger.error({ err, requestId: request.id }, 'the gateway built a request undici refused to send');
        writeJsonError(
          res,
          500,
          { error: 'internal_error', error_description: 'internal error; see the gateway log for this request id', request_id: request.id },
          { 'x-request-id': request.id },
        );
        return;
      }
      const timeout = err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError;
      this.options.logger.warn({ err: { code: (err as { code?: string }).code, message: (err as Error).message }, requestId: request.id }, 'upstream exchange failed');
      writeJsonError(
        res,
        timeout ? 504 : 502,
        {
          error: timeout ? 'upstream_timeout' : 'upstream_unavailable',
          error_description: timeout ? 'the upstream did not answer in time' : 'the upstream could not be reached',
          request_id: request.id,
        },
        { 'x-request-id': request.id },
      );
    } finally {
      res.off('close', onClose);
      if (timed && !clientGone) timed((performance.now() - started) / 1000);
    }
  }

  /**
   * What goes upstream: the request id and the identity headers first (an upstream that keeps only
   * the first N fields still gets them), then the client's end-to-end headers minus path overrides,
   * the gateway's own identity headers, a credential the gateway consumed and any `_` spelling of
   * those; then X-Forwarded-* (appended to a trusted proxy's, else replaced).
   */
  private requestHeaders(req: IncomingMessage, request: AccessRequest, decision: Decision): Record<string, string | string[]> {
    const received = req.headers;
    const named = connectionNamed(received.connection);
    const consumed = decision.credentialConsumed ? (request.credential?.header ?? 'authorization') : undefined;
    const out: Record<string, string | string[]> = { 'x-request-id': request.id };
    const identity = identityHeaders(decision);
    for (const name in identity) out[name] = identity[name]!;
    for (const name in received) {
      const value = received[name];
      if (value === undefined || NOT_FORWARDED.has(name) || name === consumed || name.startsWith(IDENTITY_HEADER_PREFIX)) continue;
      if (named !== undefined && named.includes(name)) continue;
      // Only a name with `_` can be another spelling of a reserved one: the common case pays one scan.
      if (name.includes('_') && reservedSpelling(name.replaceAll('_', '-'), consumed)) continue;
      out[name] = value;
    }
    const trusted = this.options.isTrustedProxy(request.peerIp);
    const priorFor = trusted ? out['x-forwarded-for'] : undefined;
    out['x-forwarded-for'] = priorFor ? `${String(priorFor)}, ${request.peerIp}` : request.peerIp;
    if (!trusted || !out['x-forwarded-proto']) out['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http';
    // The host the pipeline judged (a trusted proxy's X-Forwarded-Host, else Host; normalised), never another.
    out['x-forwarded-host'] = request.host;
    return out;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

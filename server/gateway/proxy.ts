// The reverse proxy: streams the request to the upstream and the answer straight into the client's socket.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { AccessRequest, Decision } from '../../core/access.js';
import type { Logger } from '../../core/logger.js';
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

/** Identity headers the gateway owns: a client's copies never reach the upstream. */
export const IDENTITY_HEADER_PREFIX = 'x-portcullis-';

export interface ProxyOptions {
  readonly upstream: URL;
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** Peer is a trusted proxy: keep the X-Forwarded-* it sent and append to them. */
  readonly isTrustedProxy: (ip: string) => boolean;
}

/** Field names listed in a Connection header (hop-by-hop too), or none. */
function connectionNamed(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const names = String(value).toLowerCase().split(',').map((s) => s.trim());
  // `Connection: keep-alive` (or close) names nothing that is not already dropped.
  return names.every((n) => HOP_BY_HOP.has(n) || n === 'close') ? undefined : names;
}

/** Never forwarded upstream as the client sent them: hop-by-hop, path overrides, Host (undici sets it). */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...PATH_OVERRIDES, 'host']);

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

const identityHeaderCache = new WeakMap<object, Readonly<Record<string, string>>>();

/**
 * The identity headers added for the upstream (and answered by forward auth). Identities come
 * from caches and are immutable, so the headers are built once per identity object.
 */
export function identityHeaders(decision: Decision): Readonly<Record<string, string>> {
  const id = decision.identity;
  if (!id) return {};
  let headers = identityHeaderCache.get(id);
  if (headers) return headers;
  const built: Record<string, string> = {
    'x-portcullis-user': id.username,
    'x-portcullis-provider': id.provider,
  };
  if (id.groups.length) built['x-portcullis-groups'] = id.groups.map(encodeURIComponent).join(',');
  if (id.tokenId) built['x-portcullis-token-id'] = id.tokenId;
  headers = Object.freeze(built);
  identityHeaderCache.set(id, headers);
  return headers;
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

  /** Forward an allowed request. Never throws: every failure ends this one exchange only. */
  async forward(req: IncomingMessage, res: ServerResponse, request: AccessRequest, decision: Decision): Promise<void> {
    const headers = this.requestHeaders(req, request, decision);
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
    // The path the pipeline judged (normalised), never the raw one; the query string as received.
    const target = this.basePath + request.path + (request.query ? `?${request.query}` : '');
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
    }
  }

  /**
   * What goes upstream: the client's end-to-end headers, minus path overrides, the gateway's own
   * identity headers and a credential the gateway consumed; plus the identity headers,
   * X-Forwarded-* (appended to a trusted proxy's, else replaced) and the request id.
   */
  private requestHeaders(req: IncomingMessage, request: AccessRequest, decision: Decision): Record<string, string | string[]> {
    const received = req.headers;
    const named = connectionNamed(received.connection);
    const consumed = decision.credentialConsumed ? (request.credential?.header ?? 'authorization') : undefined;
    const out: Record<string, string | string[]> = {};
    for (const name in received) {
      const value = received[name];
      if (value === undefined || NOT_FORWARDED.has(name) || name === consumed || name.startsWith(IDENTITY_HEADER_PREFIX)) continue;
      if (named !== undefined && named.includes(name)) continue;
      out[name] = value;
    }
    const identity = identityHeaders(decision);
    for (const name in identity) out[name] = identity[name]!;
    const trusted = this.options.isTrustedProxy(request.peerIp);
    const priorFor = trusted ? out['x-forwarded-for'] : undefined;
    out['x-forwarded-for'] = priorFor ? `${String(priorFor)}, ${request.peerIp}` : request.peerIp;
    if (!trusted || !out['x-forwarded-proto']) out['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http';
    if (!trusted || !out['x-forwarded-host']) out['x-forwarded-host'] = request.host;
    out['x-request-id'] = request.id;
    return out;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

// The reverse proxy: streams the request to the upstream and the answer straight into the client's socket.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { AccessRequest, Decision } from '../core/access.js';
import type { Logger } from '../core/logger.js';
import { writeJsonError } from './respond.js';

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

/** Headers with the hop-by-hop fields (and those named by Connection) removed. */
function endToEnd(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const named = headers.connection ? String(headers.connection).toLowerCase().split(',').map((s) => s.trim()) : [];
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The identity headers added for the upstream (and answered by forward auth). */
export function identityHeaders(decision: Decision): Record<string, string> {
  const id = decision.identity;
  if (!id) return {};
  const headers: Record<string, string> = {
    'x-portcullis-user': id.username,
    'x-portcullis-provider': id.provider,
  };
  if (id.groups.length) headers['x-portcullis-groups'] = id.groups.map(encodeURIComponent).join(',');
  if (id.tokenId) headers['x-portcullis-token-id'] = id.tokenId;
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
    const headers = endToEnd(req.headers);
    for (const name of Object.keys(headers)) if (name.startsWith(IDENTITY_HEADER_PREFIX)) delete headers[name];
    for (const name of PATH_OVERRIDES) delete headers[name];
    if (decision.credentialConsumed) delete headers[request.credential?.header ?? 'authorization'];
    Object.assign(headers, identityHeaders(decision));
    delete headers.host;
    const trusted = this.options.isTrustedProxy(request.peerIp);
    const priorFor = trusted ? headers['x-forwarded-for'] : undefined;
    headers['x-forwarded-for'] = priorFor ? `${String(priorFor)}, ${request.peerIp}` : request.peerIp;
    if (!trusted || !headers['x-forwarded-proto']) headers['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http';
    if (!trusted || !headers['x-forwarded-host']) headers['x-forwarded-host'] = request.host;
    headers['x-request-id'] = request.id;

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
          // The gateway's own headers (rate limits) win over the upstream's of the same name.
          res.writeHead(statusCode, { ...endToEnd(upstreamHeaders), ...decision.headers });
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
      );
    } finally {
      res.off('close', onClose);
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

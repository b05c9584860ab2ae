// The gateway listener's HTTP server: how much of a request head it reads, and a JSON 431 for a head that is too large.
import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { timeOrderedId } from '../../core/ids.js';
import type { Logger } from '../../core/logger.js';

/**
 * At most this many header fields from a client (each line counts, repeated names too); the
 * gateway answers more with 431. Node would keep the first 1000 and drop the rest silently,
 * and so would an upstream on Node: the gateway's own headers, added last, would be lost.
 */
export const MAX_HEADER_FIELDS = 100;

/** At most this many bytes of request line and header fields (Node's default, pinned): more gets 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Node's own answers to a request it could not parse, as written by its default `clientError` handling. */
const CANNED: Readonly<Record<string, number>> = {
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};
const bare = (status: number): string => `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`;

/** A 431 with the JSON error body every other refusal has. Nothing was parsed, so nothing is audited. */
function tooLarge(requestId: string): string {
  const body = JSON.stringify({
    error: 'request_header_fields_too_large',
    error_description: `the request head is larger than ${MAX_HEADER_BYTES} bytes`,
    request_id: requestId,
  });
  return [
    `HTTP/1.1 431 ${STATUS_CODES[431]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    'Cache-Control: no-store',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/**
 * Answer a request the parser refused, as Node does by default (a bare 400, 408 or 413, and only
 * while no answer is under way on the connection), except a head over the size limit: JSON 431.
 */
function answerClientError(logger: Logger): (err: Error & { code?: string }, socket: Duplex) => void {
  return (err, socket) => {
    // Node's rule: write nothing into an answer already started on this connection (pipelining).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      if (err.code === 'HPE_HEADER_OVERFLOW') {
        const requestId = timeOrderedId();
        logger.info({ requestId, code: err.code }, 'request head too large: refused by the HTTP parser');
        socket.write(tooLarge(requestId));
      } else {
        socket.write(bare(CANNED[err.code ?? ''] ?? 400));
      }
    }
    socket.destroy(err);
  };
}

/** The gateway listener's server (not listening yet), with the head limits above. */
export function createGatewayHttpServer(handler: RequestListener, logger: Logger): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler);
  server.on('clientError', answerClientError(logger));
  return server;
}

// Request smuggling and header injection against the proxy, sent as raw bytes: the upstream must never see a
// request the gateway did not judge, and every framing the parser accepts must reach the upstream re-framed.
import type { AttackCase, AttackCategory, Expectation } from './types.js';

const AUTH = 'Authorization: Bearer {{VALID}}';
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n';
const PARSER: Expectation = { status: 400, error: 'parser' };
/** A head over the size limit: refused by the parser, answered with the gateway's JSON 431 (nothing to audit). */
const TOO_LARGE: Expectation = { status: 431, error: 'request_header_fields_too_large', audited: false };

/** A POST to /upload with the given header lines and body bytes, exactly as written. */
const post = (headers: readonly string[], body: string, target = '/upload'): string =>
  `POST ${target} HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

const raw = (name: string, text: string, expect: Expectation): AttackCase => ({ name, request: { raw: text }, expect });

export const smuggling: AttackCategory = {
  name: 'request smuggling and header injection against the proxy',
  cases: [
    // Content-Length games
    raw('two Content-Length headers with different values', post(['Content-Length: 5', 'Content-Length: 47'], `hello${SMUGGLED}`), PARSER),
    raw('two equal Content-Length headers', post(['Content-Length: 5', 'Content-Length: 5', 'Connection: close'], 'hello'), PARSER),
    raw('Content-Length as a list', post(['Content-Length: 5, 5', 'Connection: close'], 'hello'), PARSER),
    raw('Content-Length with a plus sign', post(['Content-Length: +5', 'Connection: close'], 'hello'), PARSER),
    raw('negative Content-Length', post(['Content-Length: -1', 'Connection: close'], 'hello'), PARSER),
    raw('hexadecimal Content-Length', post(['Content-Length: 0x5', 'Connection: close'], 'hello'), PARSER),
    raw('Content-Length overflowing 64 bits', post(['Content-Length: 99999999999999999999999', 'Connection: close'], 'hello'), PARSER),
    raw('space before the colon of Content-Length', post(['Content-Length : 5', 'Connection: close'], 'hello'), PARSER),
    // Transfer-Encoding games
    raw('Transfer-Encoding chunked plus Content-Length (CL.TE)', post(['Content-Length: 4', 'Transfer-Encoding: chunked'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Content-Length plus Transfer-Encoding chunked (TE.CL order)', post(['Transfer-Encoding: chunked', 'Content-Length: 60'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding: chunked, identity', post(['Transfer-Encoding: chunked, identity', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding: identity', post(['Transfer-Encoding: identity', 'Connection: close'], `hello${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding: xchunked', post(['Transfer-Encoding: xchunked', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding: chunked-false', post(['Transfer-Encoding: chunked-false', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('two Transfer-Encoding headers (chunked, then identity)', post(['Transfer-Encoding: chunked', 'Transfer-Encoding: identity', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('space before the colon of Transfer-Encoding', post(['Transfer-Encoding : chunked', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding folded onto a second line (obs-fold)', post(['Transfer-Encoding: identity', ' chunked', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('Transfer-Encoding with a vertical tab', post(['Transfer-Encoding:\x0bchunked', 'Connection: close'], `0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('chunked on a kept-alive HTTP/1.0 request: the body ends at the last chunk, what follows is judged on its own', `POST /upload HTTP/1.0\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`, {
      status: 200, error: 'authenticated', upstreamBody: 'hello', second: { status: 401, error: 'missing_credential' },
    }),
    // chunked bodies the parser refuses once the request is under way (the gateway already decided)
    raw('chunk size overflowing 64 bits', post(['Transfer-Encoding: chunked'], `ffffffffffffffffffff\r\nx\r\n0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('negative chunk size', post(['Transfer-Encoding: chunked'], `-5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), PARSER),
    raw('chunk longer than its size (anonymous)', `POST /upload HTTP/1.1\r\nHost: gateway.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello${SMUGGLED}\r\n0\r\n\r\n`, { status: 401, error: 'missing_credential' }),
    // framing the parser accepts: the upstream gets the body and no second request
    raw('chunked body followed by a pipelined request: the second is judged on its own', post(['Transfer-Encoding: chunked'], `5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), {
      status: 200, error: 'authenticated', upstreamPath: '/upload', upstreamBody: 'hello', second: { status: 401, error: 'missing_credential' },
    }),
    raw('Content-Length body followed by a pipelined request: the second is judged on its own', post(['Content-Length: 5'], `hello${SMUGGLED}`), {
      status: 200, error: 'authenticated', upstreamBody: 'hello', second: { status: 401, error: 'missing_credential' },
    }),
    raw('a smuggled request inside a Content-Length body stays body', post(['Content-Length: 66', 'Connection: close'], `${SMUGGLED}`.padEnd(66, 'x')), {
      status: 200, error: 'authenticated', upstreamBody: `${SMUGGLED}`.padEnd(66, 'x'),
    }),
    raw('a smuggled request inside a chunk stays body', post(['Transfer-Encoding: chunked', 'Connection: close'], `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`), {
      status: 200, error: 'authenticated', upstreamBody: SMUGGLED,
    }),
    raw('chunk extension carrying a request line', post(['Transfer-Encoding: chunked', 'Connection: close'], '5;x="GET /smuggled"\r\nhello\r\n0\r\n\r\n'), {
      status: 200, error: 'authenticated', upstreamBody: 'hello',
    }),
    raw('upper-case CHUNKED', post(['Transfer-Encoding: CHUNKED', 'Connection: close'], '5\r\nhello\r\n0\r\n\r\n'), { status: 200, error: 'authenticated', upstreamBody: 'hello' }),
    raw('Transfer-Encoding with a tab before chunked', post(['Transfer-Encoding:\tchunked', 'Connection: close'], '5\r\nhello\r\n0\r\n\r\n'), { status: 200, error: 'authenticated', upstreamBody: 'hello' }),
    raw('a trailer field claiming an identity', post(['Transfer-Encoding: chunked', 'Connection: close'], '5\r\nhello\r\n0\r\nX-Portcullis-User: admin\r\n\r\n'), {
      status: 200, error: 'authenticated', upstreamBody: 'hello',
    }),
    raw('a Content-Length trailer field', post(['Transfer-Encoding: chunked', 'Connection: close'], `5\r\nhello\r\n0\r\nContent-Length: 40\r\n\r\n${SMUGGLED}`), PARSER),
    raw('a GET with a body carrying a request', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nContent-Length: ${SMUGGLED.length}\r\nConnection: close\r\n\r\n${SMUGGLED}`, {
      status: 200, error: 'authenticated', upstreamBody: SMUGGLED,
    }),
    raw('h2c upgrade request (h2c smuggling) is served as HTTP/1.1', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`, {
      status: 200, error: 'authenticated', upstreamPath: '/x',
    }),
    raw('anonymous POST with Expect: 100-continue is refused before its body', `POST /upload HTTP/1.1\r\nHost: gateway.test\r\nExpect: 100-continue\r\nContent-Length: ${SMUGGLED.length}\r\nConnection: close\r\n\r\n${SMUGGLED}`, {
      status: 401, error: 'missing_credential',
    }),
    // header injection
    raw('obs-fold continuation line', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-Note: a\r\n  X-Portcullis-User: admin\r\nConnection: close\r\n\r\n`, PARSER),
    raw('CR inside a header value', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-Note: a\rX-Portcullis-User: admin\r\nConnection: close\r\n\r\n`, PARSER),
    raw('bare LF line ending inside the header block', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-Note: a\nX-Portcullis-User: admin\r\nConnection: close\r\n\r\n`, PARSER),
    raw('NUL inside a header value', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-Note: a\x00b\r\nConnection: close\r\n\r\n`, PARSER),
    raw('space inside a header name', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX Note: a\r\nConnection: close\r\n\r\n`, PARSER),
    raw('control character inside a header name', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-No\x01te: a\r\nConnection: close\r\n\r\n`, PARSER),
    raw('a header line without a colon', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nGET /smuggled HTTP/1.1\r\nConnection: close\r\n\r\n`, PARSER),
    raw('one 20 KiB header', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`, TOO_LARGE),
    raw('300 headers of 64 bytes', `GET /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\n${Array.from({ length: 300 }, (_, i) => `X-H${i}: ${'b'.repeat(56)}\r\n`).join('')}Connection: close\r\n\r\n`, {
      ...TOO_LARGE,
    }),
    // request-line games
    raw('extra token after the HTTP version', `GET /x HTTP/1.1 extra\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: close\r\n\r\n`, PARSER),
    raw('two spaces between method and target (parsed as /x by gateway and upstream alike)', `GET  /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: close\r\n\r\n`, {
      status: 200, error: 'authenticated', upstreamPath: '/x',
    }),
    raw('HTTP/1.1 without Host', `GET /x HTTP/1.1\r\n${AUTH}\r\nConnection: close\r\n\r\n`, PARSER),
    raw('method with a control character', `G\x01T /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: close\r\n\r\n`, PARSER),
    raw('a lower-case method', `get /x HTTP/1.1\r\nHost: gateway.test\r\n${AUTH}\r\nConnection: close\r\n\r\n`, PARSER),
  ],
};

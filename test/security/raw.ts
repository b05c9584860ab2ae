// Raw HTTP/1.1 over node:net: the only way to send framing that HTTP clients refuse to produce.
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface RawExchange {
  /** Every complete response read from the connection, in order. */
  readonly responses: RawResponse[];
  /** Everything the server wrote, as latin1 text (for the secret checks). */
  readonly text: string;
  /** The server closed the connection (rather than the idle timer ending the read). */
  readonly closed: boolean;
}

/** Split what the server wrote into responses (Content-Length or chunked bodies; other bodies run to the end). */
export function parseResponses(all: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < all.length) {
    const end = all.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const head = all.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? NaN);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) {
        const name = line.slice(0, colon).trim().toLowerCase();
        headers[name] = headers[name] === undefined ? line.slice(colon + 1).trim() : `${headers[name]}, ${line.slice(colon + 1).trim()}`;
      }
    }
    let bodyStart = end + 4;
    let body = '';
    if (status >= 100 && status < 200) {
      at = bodyStart;
      continue;
    }
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = all.subarray(bodyStart, bodyStart + n).toString('utf8');
      at = bodyStart + n;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = all.indexOf('\r\n', bodyStart);
        if (lineEnd === -1) break;
        const size = parseInt(all.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          bodyStart = all.indexOf('\r\n\r\n', lineEnd) + 4;
          break;
        }
        parts.push(all.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
      at = bodyStart < 4 ? all.length : bodyStart;
    } else {
      body = all.subarray(bodyStart).toString('utf8');
      at = all.length;
    }
    out.push({ status, headers, body });
  }
  return out;
}

/**
 * Write `text` to 127.0.0.1:port and read until the server closes the connection or stays
 * silent for `idleMs` after its last byte (pipelined and kept-alive exchanges).
 */
export function rawExchange(port: number, text: string | Buffer, idleMs = 150, maxMs = 4000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(hard);
      socket.destroy();
      const all = Buffer.concat(chunks);
      resolve({ responses: parseResponses(all), text: all.toString('latin1'), closed });
    };
    const hard = setTimeout(() => finish(false), maxMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), idleMs);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.write(text);
  });
}

/** A request in HTTP/1.1 wire form; `Connection: close` unless the headers say otherwise. */
export function wire(method: string, target: string, headers: readonly (readonly [string, string])[], body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  const names = new Set(headers.map(([n]) => n.toLowerCase()));
  if (!names.has('host')) lines.push('Host: gateway.test');
  for (const [n, v] of headers) lines.push(`${n}: ${v}`);
  if (!names.has('connection')) lines.push('Connection: close');
  if (body !== '' && !names.has('content-length') && !names.has('transfer-encoding')) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

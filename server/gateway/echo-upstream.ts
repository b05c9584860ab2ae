// The built-in demo upstream: answers every request with what it received, so a first run has something to protect.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const MAX_ECHO_BODY = 64 * 1024;

export async function startEchoUpstream(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ECHO_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      const body = JSON.stringify({
        upstream: 'portcullis demo echo',
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

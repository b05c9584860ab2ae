// The ceiling: a bare keep-alive proxy, no auth, streaming undici's answer straight into the response (a child process of the bench).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';

const upstream = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']);

const server = createServer((req, res) => {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'host') headers[name] = value;
  agent
    .stream(
      { origin: upstream.origin, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: null },
      ({ statusCode, headers: answer }) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(statusCode, out);
        return res;
      },
    )
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));

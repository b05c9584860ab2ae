// The ceiling: a bare keep-alive proxy, no auth, streaming undici's answer straight into the response (a child process of the bench).
// With a public key (a JWK, argv[3]), row 2v: the same proxy verifying one RS256 signature per request with node:crypto, and
// nothing else (no claims, no cache): the physical limit for a token never seen before.
// With `--koa` (argv[3]), row 2k: the same proxy as the one middleware of a Koa app that answers with
// `ctx.respond = false`, as the gateway does: the floor of any Koa gateway, Koa's own cost per request.
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { Agent, type Dispatcher } from 'undici';

const upstream = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
const underKoa = process.argv[3] === '--koa';
const publicKey = process.argv[3] && !underKoa ? createPublicKey({ key: JSON.parse(process.argv[3]) as JsonWebKey, format: 'jwk' }) : undefined;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection']);

/** True when the bearer token's RS256 signature verifies with the key. */
function signed(authorization: string | undefined): boolean {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : '';
  const dot = token.lastIndexOf('.');
  if (dot < 0) return false;
  return verify('RSA-SHA256', Buffer.from(token.slice(0, dot)), publicKey!, Buffer.from(token.slice(dot + 1), 'base64url'));
}

/** Verify (2v), then stream the upstream's answer into `res`; settles when the exchange is over. */
function proxy(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (publicKey && !signed(req.headers.authorization)) {
    res.writeHead(401).end();
    return Promise.resolve();
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name) && name !== 'host') headers[name] = value;
  return agent
    .stream(
      { origin: upstream.origin, path: req.url ?? '/', method: req.method as Dispatcher.HttpMethod, headers, body: null },
      ({ statusCode, headers: answer }) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(statusCode, out);
        return res;
      },
    )
    .then(
      () => undefined,
      () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    );
}

function koaApp(): Koa {
  const app = new Koa();
  app.use(async (ctx) => {
    ctx.respond = false;
    await proxy(ctx.req, ctx.res);
  });
  return app;
}

const server = createServer(underKoa ? koaApp().callback() : (req, res) => void proxy(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port })}\n`);
});
process.once('SIGTERM', () => process.exit(0));

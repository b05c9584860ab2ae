// The bench's identity provider, in the harness process (idle while load runs): JWKS for JWTs, userinfo for opaque tokens.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface Idp {
  readonly url: string;
  readonly jwksUri: string;
  readonly userinfoUri: string;
  /** The same JWKS over https (self-signed): mod_auth_openidc fetches keys only over https. */
  readonly httpsJwksUri: string | undefined;
  /** Userinfo calls answered (each is a cache miss in the gateway). */
  userinfoCalls: number;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 in `dir` (openssl), made once; undefined when openssl is missing. */
function selfSignedCert(dir: string): { key: Buffer; cert: Buffer } | undefined {
  const key = join(dir, 'idp-key.pem');
  const cert = join(dir, 'idp-cert.pem');
  if (!existsSync(cert)) {
    const res = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    if (res.status !== 0) return undefined;
  }
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

export async function startIdp(jwks: unknown, certDir: string): Promise<Idp> {
  const jwksBody = JSON.stringify(jwks);
  const servers: Server[] = [];
  const idp = {
    url: '',
    jwksUri: '',
    userinfoUri: '',
    httpsJwksUri: undefined as string | undefined,
    userinfoCalls: 0,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r()))))).then(() => undefined),
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' }).end(jwksBody);
      return;
    }
    if (req.url === '/userinfo') {
      idp.userinfoCalls += 1;
      const token = /^Bearer (opq-[A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        return;
      }
      const sub = `opaque-${token.slice(4, 12)}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub, preferred_username: sub, groups: ['developers', 'bench'] }));
      return;
    }
    res.writeHead(404).end();
  };
  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  };
  idp.url = `http://127.0.0.1:${await listen(createServer(handler))}`;
  idp.jwksUri = `${idp.url}/jwks.json`;
  idp.userinfoUri = `${idp.url}/userinfo`;
  const tls = selfSignedCert(certDir);
  if (tls) idp.httpsJwksUri = `https://127.0.0.1:${await listen(createHttpsServer(tls, handler) as unknown as Server)}/jwks.json`;
  return idp;
}

// Self-check of the end-to-end fixtures: the real OP mints verifiable JWT access tokens and the echo upstream echoes.
import { expect } from 'chai';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { request } from 'undici';

import { asEcho, call } from './fixtures/http.js';
import { startOp, startProcess, stopAll, UPSTREAM_SCRIPT, type ProcessHandle } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey, type SigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

const OPAQUE_RESOURCE = 'https://opaque.example.test';

async function jwksOf(issuer: string): Promise<JSONWebKeySet> {
  const discovery = (await call(`${issuer}/.well-known/openid-configuration`)).json as { jwks_uri: string };
  const jwks = await call(discovery.jwks_uri);
  expect(jwks.status).to.equal(200);
  return jwks.json as JSONWebKeySet;
}

describe('e2e fixtures', function () {
  this.timeout(20_000);

  describe('OpenID provider (oidc-provider in a child process)', () => {
    let key: SigningKey;
    let op: ProcessHandle & { issuer: string };

    const opConfig = (signing: SigningKey, port = 0) => ({
      port,
      jwks: { keys: [signing.privateJwk] },
      clients: [E2E_CLIENT],
      resources: {
        [RESOURCE]: { scope: 'api:read api:write', accessTokenFormat: 'jwt' as const },
        [OPAQUE_RESOURCE]: { scope: 'api:read', accessTokenFormat: 'opaque' as const },
      },
      tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS },
    });

    before(async () => {
      key = await generateSigningKey('fixture-k1');
      op = await startOp(opConfig(key));
    });
    after(stopAll);

    it('prints a ready line with its port and an http://127.0.0.1 issuer, and no Node 20 warning', () => {
      expect(op.port).to.be.a('number').greaterThan(0);
      expect(op.issuer).to.equal(`http://127.0.0.1:${op.port}`);
      expect(op.stderr.join('\n')).not.to.match(/Unsupported runtime/);
    });

    it('issues a client-credentials JWT access token that verifies against its JWKS', async () => {
      const token = await clientCredentialsToken(op.issuer);
      expect(decodeProtectedHeader(token)).to.include({ alg: 'RS256', kid: 'fixture-k1', typ: 'at+jwt' });
      const { payload } = await jwtVerify(token, createLocalJWKSet(await jwksOf(op.issuer)), {
        issuer: op.issuer,
        audience: RESOURCE,
      });
      expect(payload.sub).to.equal(E2E_CLIENT.client_id);
      expect(payload.client_id).to.equal(E2E_CLIENT.client_id);
      expect(payload.scope).to.equal('api:read');
      expect(payload.preferred_username).to.equal('alice');
      expect(payload.groups).to.deep.equal(['developers', 'jira-users']);
      expect(payload.exp).to.be.a('number').greaterThan(Math.floor(Date.now() / 1000));
    });

    it('signs the token with the same private key the test holds', async () => {
      const token = await clientCredentialsToken(op.issuer);
      const { payload } = await jwtVerify(token, key.publicKey, { issuer: op.issuer, audience: RESOURCE });
      expect(payload.iss).to.equal(op.issuer);
    });

    it('issues opaque tokens for an opaque resource, which introspection reports active', async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      expect(token.split('.')).to.have.length(1);
      const discovery = (await call(`${op.issuer}/.well-known/openid-configuration`)).json as { introspection_endpoint: string };
      const basic = Buffer.from(`${E2E_CLIENT.client_id}:${E2E_CLIENT.client_secret ?? ''}`).toString('base64');
      const res = await request(discovery.introspection_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(res.statusCode).to.equal(200);
      const body = (await res.body.json()) as Record<string, unknown>;
      expect(body).to.include({ active: true, client_id: E2E_CLIENT.client_id, aud: OPAQUE_RESOURCE });
    });

    it('restarts on the same port with a new key set, and then signs with the new kid', async () => {
      const port = op.port ?? 0;
      const issuer = op.issuer;
      const exit = await op.stop('SIGTERM');
      expect(exit.code).to.equal(0);
      const rotated = await generateSigningKey('fixture-k2');
      op = await startOp(opConfig(rotated, port));
      expect(op.issuer).to.equal(issuer);
      const jwks = await jwksOf(op.issuer);
      expect(jwks.keys.map((k) => k.kid)).to.deep.equal(['fixture-k2']);
      const token = await clientCredentialsToken(op.issuer);
      expect(decodeProtectedHeader(token).kid).to.equal('fixture-k2');
      await jwtVerify(token, rotated.publicKey, { issuer, audience: RESOURCE });
    });
  });

  describe('echo upstream', () => {
    let inProcess: Upstream;
    let child: ProcessHandle;

    before(async () => {
      inProcess = await startUpstream();
      child = await startProcess(UPSTREAM_SCRIPT, {});
    });
    after(async () => {
      await inProcess.close();
      await stopAll();
    });

    it('echoes method, url, headers and body (in-process) and records the request', async () => {
      const res = await call(`${inProcess.url}/rest/api/2/issue?x=1`, {
        method: 'POST',
        headers: { 'x-test': 'yes' },
        body: { summary: 'hello' },
      });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('application/json');
      const echo = asEcho(res);
      expect(echo).to.include({ method: 'POST', url: '/rest/api/2/issue?x=1', body: '{"summary":"hello"}' });
      expect(echo.headers['x-test']).to.equal('yes');
      expect(inProcess.requests.at(-1)?.url).to.equal('/rest/api/2/issue?x=1');
    });

    it('runs as a child process and prints its port', async () => {
      expect(child.port).to.be.a('number').greaterThan(0);
      const res = await call(`http://127.0.0.1:${child.port}/anything`, { headers: { 'x-portcullis-user': 'seen' } });
      expect(res.status).to.equal(200);
      const echo = asEcho(res);
      expect(echo).to.include({ method: 'GET', url: '/anything', body: '' });
      expect(echo.headers['x-portcullis-user']).to.equal('seen');
    });
  });
});

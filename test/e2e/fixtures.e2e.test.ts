// Self-check of the end-to-end fixtures: the real OP mints verifiable JWT access tokens and the echo upstream echoes.
import { expect } from 'chai';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { request } from 'undici';

import {
  authorizationCodeToken,
  discover,
  driveAuthorization,
  introspectAtOp,
  pkce,
  postForm,
  revokeAtOp,
  userinfoAtOp,
  webClient,
  UNUSED_REDIRECT_URI,
} from './fixtures/authorization.js';
import { asEcho, call } from './fixtures/http.js';
import { startNode, stopAll, type ProcessHandle } from '../support/processes.js';
import { rotateOpKeys, startOp, UPSTREAM_SCRIPT, type Op } from './fixtures/processes.js';
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
    let op: Op;

    const opConfig = (signing: SigningKey) => ({
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

    it('rotates its key set in place: the same issuer then publishes and signs with the new kid only', async () => {
      const issuer = op.issuer;
      const rotated = await generateSigningKey('fixture-k2');
      await rotateOpKeys(op, [rotated.privateJwk]);
      const jwks = await jwksOf(op.issuer);
      expect(jwks.keys.map((k) => k.kid)).to.deep.equal(['fixture-k2']);
      const token = await clientCredentialsToken(op.issuer);
      expect(decodeProtectedHeader(token).kid).to.equal('fixture-k2');
      await jwtVerify(token, rotated.publicKey, { issuer, audience: RESOURCE });
    });

    it('refuses a rotation without keys, and keeps signing with the ones it has', async () => {
      const res = await call(`http://127.0.0.1:${op.port}/_fixture/keys`, { method: 'POST', body: { keys: [] } });
      expect(res.status).to.equal(400);
      expect((await jwksOf(op.issuer)).keys.map((k) => k.kid)).to.deep.equal(['fixture-k2']);
    });
  });

  describe('OpenID provider: opaque tokens, introspection, userinfo, authorization code with PKCE', () => {
    const web = webClient([UNUSED_REDIRECT_URI]);
    const stranger = { ...webClient([UNUSED_REDIRECT_URI], 'e2e-not-introspector') };
    let op: Op;

    before(async () => {
      const key = await generateSigningKey('fixture-code-k1');
      op = await startOp({
        jwks: { keys: [key.privateJwk] },
        clients: [E2E_CLIENT, web, stranger],
        resources: {
          [RESOURCE]: { scope: 'api:read api:write', accessTokenFormat: 'jwt' },
          [OPAQUE_RESOURCE]: { scope: 'api:read', accessTokenFormat: 'opaque' },
        },
        defaultResource: false,
        clientCredentialsResource: RESOURCE,
        introspectors: [E2E_CLIENT.client_id, web.client_id],
        tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS },
        accounts: { dave: { email: 'dave@example.test', groups: ['support'] } },
      });
    });
    after(stopAll);

    it('drives login and consent over HTTP and lands on the redirect URI with code, state and iss', async () => {
      const endpoints = await discover(op.issuer);
      const url = new URL(endpoints.authorization_endpoint);
      const { challenge } = pkce();
      for (const [k, v] of Object.entries({
        response_type: 'code', client_id: web.client_id, redirect_uri: UNUSED_REDIRECT_URI, scope: 'openid profile',
        state: 'fixture-state', code_challenge: challenge, code_challenge_method: 'S256',
      })) url.searchParams.set(k, v);
      const callback = await driveAuthorization(url.toString(), { login: 'dave' });
      expect(`${callback.origin}${callback.pathname}`).to.equal(UNUSED_REDIRECT_URI);
      expect(callback.searchParams.get('state')).to.equal('fixture-state');
      expect(callback.searchParams.get('code')).to.be.a('string').with.length.greaterThan(10);
      expect(callback.searchParams.get('iss')).to.equal(op.issuer);
    });

    it('exchanges the code for an opaque access token (no audience) that works at userinfo', async () => {
      const token = await authorizationCodeToken(op.issuer, web, { login: 'dave' });
      expect(token.access_token.split('.')).to.have.length(1);
      expect(token.token_type).to.equal('Bearer');
      expect(token.scope).to.equal('openid profile');
      expect(token.id_token?.split('.')).to.have.length(3);
      const info = await userinfoAtOp(op.issuer, token.access_token);
      expect(info.status).to.equal(200);
      expect(info.json).to.deep.equal({ sub: 'dave', preferred_username: 'dave', email: 'dave@example.test', groups: ['support'] });
    });

    it('introspects an opaque token for an allowed client, tells other clients nothing, and reports revoked tokens inactive', async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      const active = await introspectAtOp(op.issuer, web, token);
      expect(active.status).to.equal(200);
      expect(active.json).to.include({ active: true, client_id: E2E_CLIENT.client_id, aud: OPAQUE_RESOURCE, preferred_username: 'alice' });
      // A client that may not introspect learns nothing: the OP answers as for an unknown token.
      const refused = await introspectAtOp(op.issuer, stranger, token);
      expect(refused.status).to.equal(200);
      expect(refused.json).to.deep.equal({ active: false });
      expect(await revokeAtOp(op.issuer, E2E_CLIENT, token)).to.equal(200);
      expect((await introspectAtOp(op.issuer, web, token)).json).to.deep.equal({ active: false });
      expect((await introspectAtOp(op.issuer, web, 'never-issued-token')).json).to.deep.equal({ active: false });
    });

    it('gives client-credentials requests without a resource a JWT for clientCredentialsResource', async () => {
      const res = await postForm((await discover(op.issuer)).token_endpoint, E2E_CLIENT, { grant_type: 'client_credentials', scope: 'api:read' });
      expect(res.status).to.equal(200);
      const token = String(res.json.access_token);
      expect(decodeProtectedHeader(token).typ).to.equal('at+jwt');
      const { payload } = await jwtVerify(token, createLocalJWKSet(await jwksOf(op.issuer)), { issuer: op.issuer, audience: RESOURCE });
      expect(payload.scope).to.equal('api:read');
    });

    it('refuses a token with a resource audience at userinfo', async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      expect((await userinfoAtOp(op.issuer, token)).status).to.equal(401);
    });
  });

  describe('echo upstream', () => {
    let inProcess: Upstream;
    let child: ProcessHandle;

    before(async () => {
      inProcess = await startUpstream();
      child = await startNode(UPSTREAM_SCRIPT);
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

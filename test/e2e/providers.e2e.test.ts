// End-to-end: the discovery, introspection and OAuth 2.0 (userinfo) provider kinds and the admin provider helpers, against a real OP.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { authorizationCodeToken, discover, driveAuthorization, revokeAtOp, webClient, type Discovery } from './fixtures/authorization.js';
import { admin, asEcho, call, configureProvider, type HttpResult } from './fixtures/http.js';
import type { OpClient } from './fixtures/op.js';
import { stopAll } from '../support/processes.js';
import { CLI, startGateway, startOp, type Gateway, type Op } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

/** A resource server whose access tokens are opaque: only introspection can judge them. */
const OPAQUE_RESOURCE = 'https://opaque-api.example.test';

/** The confidential client the gateway's introspection provider authenticates with. */
const INTROSPECTOR: OpClient = {
  client_id: 'e2e-introspector',
  client_secret: 'e2e-introspector-secret-that-is-long-enough-0123',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

/** Accounts that log in through the OP's development interaction. */
const ACCOUNTS = {
  dave: { email: 'dave@example.test', groups: ['support'] },
  erin: { email: 'erin@example.test', groups: ['admins', 'support'] },
};
/** What the OP adds to those accounts' access tokens (seen in introspection answers). */
const ACCOUNT_TOKEN_CLAIMS = { dave: { preferred_username: 'dave', groups: ['support'] } };

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

// The provider documents, as an admin would PUT them.
const discoveryProvider = (issuer: string): Record<string, unknown> => ({
  kind: 'oidc-discovery',
  config: { issuer, audience: RESOURCE, clientId: E2E_CLIENT.client_id, clientSecret: E2E_CLIENT.client_secret, scope: 'api:read' },
  enabled: true,
  order: 0,
});
const introspectionProvider = (op: Discovery): Record<string, unknown> => ({
  kind: 'introspection',
  config: {
    introspectionEndpoint: op.introspection_endpoint,
    clientId: INTROSPECTOR.client_id,
    clientSecret: INTROSPECTOR.client_secret,
    issuer: op.issuer,
    audience: OPAQUE_RESOURCE,
    usernameClaim: 'preferred_username',
    groupsClaim: 'groups',
    // Client-credentials tokens name no user: the machine client acts as this account.
    serviceAccounts: { [E2E_CLIENT.client_id]: { username: 'ci-robot', groups: ['robots'] } },
  },
  enabled: true,
  order: 1,
});
const oauth2Provider = (op: Discovery, client: OpClient): Record<string, unknown> => ({
  kind: 'oauth2',
  config: {
    authorizationEndpoint: op.authorization_endpoint,
    tokenEndpoint: op.token_endpoint,
    userinfoEndpoint: op.userinfo_endpoint,
    clientId: client.client_id,
    clientSecret: client.client_secret,
    scope: 'openid profile',
    usernameClaim: 'preferred_username',
    emailClaim: 'email',
    groupsClaim: 'groups',
  },
  enabled: true,
  order: 0,
});

interface TestAnswer {
  provider: string;
  result: { outcome: string; identity?: { username?: string; groups?: string[]; provider?: string }; code?: string; description?: string };
  decision: { allow: boolean; status: number; reason: string; stage: string; trace: { stage: string; outcome: string }[] };
}

function expectStatus(res: HttpResult, status: number): void {
  expect(res.status, `${res.status} ${res.text.slice(0, 500)}`).to.equal(status);
}

describe('provider kinds and admin helpers against a real OP', function () {
  this.timeout(20_000);

  const dataDirs: string[] = [];
  const newDataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-providers-'));
    dataDirs.push(dir);
    return dir;
  };
  let upstream: Upstream;
  let op: Op;
  let endpoints: Discovery;
  /** JWTs (oidc-discovery) and opaque tokens judged by introspection. */
  let tokensGateway: Gateway;
  /** Opaque tokens judged by userinfo (oauth2), and the fetch-token helper. */
  let userinfoGateway: Gateway;
  /** The OP client the oauth2 provider uses; its redirect URI is userinfoGateway's callback. */
  let gatewayClient: OpClient;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    upstream = await startUpstream();
    const start = async () =>
      startGateway({ dataDir: await newDataDir(), upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
    [tokensGateway, userinfoGateway] = await Promise.all([start(), start()]);

    // The OP must know the fetch-token redirect URI, which depends on the admin port: start it once that is known.
    gatewayClient = {
      ...webClient([`${userinfoGateway.adminUrl}/oauth/callback`], 'e2e-gateway'),
      grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
    };
    const key = await generateSigningKey('providers-k1');
    op = await startOp({
      jwks: { keys: [key.privateJwk] },
      clients: [E2E_CLIENT, INTROSPECTOR, gatewayClient],
      resources: {
        [RESOURCE]: { scope: 'api:read api:write', accessTokenFormat: 'jwt' },
        [OPAQUE_RESOURCE]: { scope: 'api:read', accessTokenFormat: 'opaque' },
      },
      // Authorization-code tokens without a resource are opaque userinfo tokens; client credentials default to the JWT API.
      defaultResource: false,
      clientCredentialsResource: RESOURCE,
      introspectors: [INTROSPECTOR.client_id],
      tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS, ...ACCOUNT_TOKEN_CLAIMS },
      accounts: ACCOUNTS,
    });
    endpoints = await discover(op.issuer);
  });

  // Each group configures the providers it needs, once, so one missing kind fails only its own tests.
  const configured = new Map<string, Promise<void>>();
  const ensure = (gateway: Gateway, id: string, document: () => Record<string, unknown>): Promise<void> => {
    const key = `${gateway.adminUrl} ${id}`;
    let done = configured.get(key);
    if (!done) {
      done = configureProvider(gateway, id, document());
      configured.set(key, done);
    }
    return done;
  };
  const withJwtProvider = () => ensure(tokensGateway, 'op-jwt', () => discoveryProvider(op.issuer));
  const withIntrospection = () => ensure(tokensGateway, 'op-introspect', () => introspectionProvider(endpoints));
  const withUserinfo = () => ensure(userinfoGateway, 'op-userinfo', () => oauth2Provider(endpoints, gatewayClient));

  after(async () => {
    await stopAll();
    await upstream?.close();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  describe('oidc-discovery (issuer + audience)', () => {
    before(withJwtProvider);

    it('accepts a JWT access token of the OP for our audience', async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, RESOURCE);
      const res = await call(`${tokensGateway.url}/discovery/ok`, { headers: bearer(token) });
      expectStatus(res, 200);
      const echo = asEcho(res);
      expect(echo.headers['x-portcullis-user']).to.equal('alice');
      expect(echo.headers['x-portcullis-provider']).to.equal('op-jwt');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('developers');
    });
  });

  describe('introspection (RFC 7662, client credentials)', () => {
    before(withIntrospection);

    it("accepts a user's active opaque token and maps the identity from the introspection answer", async () => {
      const token = await authorizationCodeToken(op.issuer, gatewayClient, { login: 'dave', scope: 'openid api:read', resource: OPAQUE_RESOURCE });
      expect(token.access_token.split('.')).to.have.length(1);
      const res = await call(`${tokensGateway.url}/introspection/user`, { headers: bearer(token.access_token) });
      expectStatus(res, 200);
      const echo = asEcho(res);
      expect(echo.headers['x-portcullis-user']).to.equal('dave');
      expect(echo.headers['x-portcullis-provider']).to.equal('op-introspect');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('support');
    });

    it("accepts a machine client's opaque token as its service account", async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      expect(token.split('.')).to.have.length(1);
      const res = await call(`${tokensGateway.url}/introspection/machine`, { headers: bearer(token) });
      expectStatus(res, 200);
      const echo = asEcho(res);
      expect(echo.headers['x-portcullis-user']).to.equal('ci-robot');
      expect(echo.headers['x-portcullis-provider']).to.equal('op-introspect');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('robots');
    });

    it('refuses a revoked opaque token with 401 invalid_token', async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      expect(await revokeAtOp(op.issuer, E2E_CLIENT, token)).to.equal(200);
      const before = upstream.requests.length;
      const res = await call(`${tokensGateway.url}/introspection/revoked`, { headers: bearer(token) });
      expectStatus(res, 401);
      expect(res.json).to.include({ error: 'invalid_token' });
      expect(res.headers['www-authenticate']).to.match(/^Bearer\b/).and.include('error="invalid_token"');
      expect(upstream.requests.length).to.equal(before);
    });

    it('refuses an active opaque token minted for another audience with 401 invalid_token', async () => {
      // A userinfo token of the same OP: active, but not meant for this API.
      const token = await authorizationCodeToken(op.issuer, gatewayClient, { login: 'dave', scope: 'openid profile' });
      const res = await call(`${tokensGateway.url}/introspection/other-audience`, { headers: bearer(token.access_token) });
      expectStatus(res, 401);
      expect(res.json).to.include({ error: 'invalid_token' });
    });

    it('refuses an opaque token the OP never issued with 401 invalid_token', async () => {
      const res = await call(`${tokensGateway.url}/introspection/unknown`, { headers: bearer(`never-issued-${randomUUID()}`) });
      expectStatus(res, 401);
      expect(res.json).to.include({ error: 'invalid_token' });
    });
  });

  describe('oauth2 (opaque tokens validated at userinfo)', () => {
    before(withUserinfo);

    it('accepts an opaque openid token from the authorization-code flow', async () => {
      const token = await authorizationCodeToken(op.issuer, gatewayClient, { login: 'dave', scope: 'openid profile' });
      expect(token.access_token.split('.')).to.have.length(1);
      const res = await call(`${userinfoGateway.url}/userinfo/ok`, { headers: bearer(token.access_token) });
      expectStatus(res, 200);
      const echo = asEcho(res);
      expect(echo.headers['x-portcullis-user']).to.equal('dave');
      expect(echo.headers['x-portcullis-provider']).to.equal('op-userinfo');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('support');
    });

    it('refuses an opaque token userinfo does not accept with 401 invalid_token', async () => {
      const res = await call(`${userinfoGateway.url}/userinfo/unknown`, { headers: bearer(`never-issued-${randomUUID()}`) });
      expectStatus(res, 401);
      expect(res.json).to.include({ error: 'invalid_token' });
    });
  });

  describe('admin helper: test token (POST /providers/{id}/test)', () => {
    before(withIntrospection);

    it("shows the provider's identity and the pipeline's decision with its trace", async () => {
      const token = await clientCredentialsToken(op.issuer, E2E_CLIENT, OPAQUE_RESOURCE);
      const res = await admin(tokensGateway, 'POST', '/providers/op-introspect/test', { scheme: 'Bearer', token });
      expectStatus(res, 200);
      const body = res.json as TestAnswer;
      expect(body.provider).to.equal('op-introspect');
      expect(body.result.outcome).to.equal('identity');
      expect(body.result.identity).to.include({ username: 'ci-robot', provider: 'op-introspect' });
      expect(body.decision).to.include({ allow: true, status: 200 });
      expect(body.decision.reason).to.be.a('string');
      expect(body.decision.stage).to.be.a('string');
      expect(body.decision.trace.map((t) => t.stage)).to.include('authenticate');
    });

    it('shows the failure code and a refusing decision for a token the provider refuses', async () => {
      const res = await admin(tokensGateway, 'POST', '/providers/op-introspect/test', { scheme: 'Bearer', token: `never-issued-${randomUUID()}` });
      expectStatus(res, 200);
      const body = res.json as TestAnswer;
      expect(body.result).to.include({ outcome: 'failure', code: 'invalid_token' });
      expect(body.result.description).to.be.a('string').and.not.equal('');
      expect(body.decision).to.include({ allow: false, status: 401, reason: 'invalid_token', stage: 'authenticate' });
    });
  });

  describe('admin helper: userinfo attributes (POST /providers/{id}/userinfo)', () => {
    before(withUserinfo);

    it("answers the provider's raw userinfo document and its attribute paths", async () => {
      const token = await authorizationCodeToken(op.issuer, gatewayClient, { login: 'erin', scope: 'openid profile' });
      const res = await admin(userinfoGateway, 'POST', '/providers/op-userinfo/userinfo', { token: token.access_token });
      expectStatus(res, 200);
      const body = res.json as { raw: unknown; attributes: { path: string; value: unknown }[] };
      expect(body.raw).to.deep.equal({ sub: 'erin', preferred_username: 'erin', email: 'erin@example.test', groups: ['admins', 'support'] });
      const byPath = new Map(body.attributes.map((a) => [a.path, a.value]));
      expect(byPath.get('preferred_username')).to.equal('erin');
      expect(byPath.get('email')).to.equal('erin@example.test');
      expect(byPath.get('groups')).to.deep.equal(['admins', 'support']);
    });
  });

  describe('admin helper: fetch token', () => {
    before(async () => {
      await withUserinfo();
      await withJwtProvider();
    });

    it('runs the authorization-code flow through the OP login and hands the token over once at /oauth/callback', async () => {
      const begin = await admin(userinfoGateway, 'GET', '/providers/op-userinfo/authorize');
      expectStatus(begin, 200);
      const flow = begin.json as { authorizationUrl: string; redirectUri: string; state: string; expiresAt: string };
      expect(flow.redirectUri).to.equal(`${userinfoGateway.adminUrl}/oauth/callback`);
      expect(flow.state).to.be.a('string').with.length.greaterThan(16);
      expect(Date.parse(flow.expiresAt)).to.be.greaterThan(Date.now());
      const authorize = new URL(flow.authorizationUrl);
      expect(`${authorize.origin}${authorize.pathname}`).to.equal(endpoints.authorization_endpoint);
      expect(authorize.searchParams.get('code_challenge_method')).to.equal('S256');
      expect(authorize.searchParams.get('state')).to.equal(flow.state);

      const callback = await driveAuthorization(flow.authorizationUrl, { login: 'erin' });
      expect(`${callback.origin}${callback.pathname}`).to.equal(flow.redirectUri);
      expect(callback.searchParams.get('state')).to.equal(flow.state);
      expect(callback.searchParams.get('code')).to.be.a('string');

      const done = await call(callback.toString(), { headers: { accept: 'application/json' } });
      expectStatus(done, 200);
      const token = done.json as { access_token: string; token_type?: string; expires_in?: number; scope?: string; id_token?: string };
      expect(token.access_token).to.be.a('string');
      expect(token.token_type).to.equal('Bearer');
      expect(token.expires_in).to.be.a('number').greaterThan(0);
      expect(token.scope).to.equal('openid profile');
      expect(token.id_token?.split('.')).to.have.length(3);

      const replay = await call(callback.toString(), { headers: { accept: 'application/json' } });
      expectStatus(replay, 400);

      const res = await call(`${userinfoGateway.url}/fetched/ok`, { headers: bearer(token.access_token) });
      expectStatus(res, 200);
      expect(asEcho(res).headers['x-portcullis-user']).to.equal('erin');
    });

    it('fetches a client-credentials token for a provider with a token endpoint and client secret', async () => {
      const res = await admin(userinfoGateway, 'POST', '/providers/op-userinfo/token', {});
      expectStatus(res, 200);
      const token = res.json as { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
      expect(token.access_token).to.be.a('string');
      expect(token.token_type).to.equal('Bearer');
      expect(token.expires_in).to.be.a('number');
    });

    it('fetches a client-credentials token through an oidc-discovery provider, which the gateway then accepts', async () => {
      const res = await admin(tokensGateway, 'POST', '/providers/op-jwt/token', {});
      expectStatus(res, 200);
      const token = res.json as { access_token: string; scope?: string };
      expect(token.scope).to.equal('api:read');
      const proxied = await call(`${tokensGateway.url}/fetched/jwt`, { headers: bearer(token.access_token) });
      expectStatus(proxied, 200);
      expect(asEcho(proxied).headers['x-portcullis-provider']).to.equal('op-jwt');
    });
  });
});

// End-to-end: a self-service gateway token created with a real OIDC identity, used through the gateway, revoked; and across two gateways on one SQLite file.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import { admin, asEcho, call, configureProvider, oidcProvider, type HttpResult } from './fixtures/http.js';
import { CLI, startGateway, startOp, type Gateway } from './fixtures/processes.js';
import { E2E_CLIENT, RESOURCE, clientCredentialsToken, generateSigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function expectStatus(res: HttpResult, status: number): void {
  expect(res.status, `${res.status} ${res.text.slice(0, 500)}`).to.equal(status);
}

describe('gateway tokens end to end (real OP, built gateway processes, one SQLite file)', function () {
  this.timeout(30_000);

  let dataDir: string;
  let upstream: Upstream;
  let issuer: string;
  let first: Gateway;
  let second: Gateway;
  const adminToken = `pca_e2e_${randomUUID()}`;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    dataDir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-tokens-'));
    upstream = await startUpstream();
    const key = await generateSigningKey('tokens-k1');
    const op = await startOp({
      jwks: { keys: [key.privateJwk] },
      clients: [E2E_CLIENT],
      tokenClaims: { [E2E_CLIENT.client_id]: { preferred_username: 'alice', groups: ['developers', 'jira-users'] } },
    });
    issuer = op.issuer;
    first = await startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: adminToken } });
    await configureProvider(first, 'op', oidcProvider(issuer, RESOURCE));
    const patched = await admin(first, 'PATCH', '/settings', { tokens: { allowUserCreate: true }, groups: { tokenCreators: ['developers'] } });
    expectStatus(patched, 200);
    // A second node on the same store: it learns tokens and revocations through the event subscription.
    second = await startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: adminToken } });
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('creates a token with an OIDC identity, uses it on both nodes, and refuses it everywhere once revoked', async () => {
    const jwt = await clientCredentialsToken(issuer, E2E_CLIENT, RESOURCE);

    const created = await call(`${first.url}/_portcullis/tokens`, { method: 'POST', headers: bearer(jwt), body: { name: 'e2e laptop', expiresInDays: 30 } });
    expectStatus(created, 201);
    const body = created.json as { id: string; token: string; owner: string; groups: string[]; state: string };
    expect(body.token).to.match(/^pcl_[0-9A-Za-z]{49}$/);
    expect(body).to.deep.include({ owner: 'alice', state: 'active' });
    expect(body.groups).to.include('developers');

    const used = await call(`${first.url}/rest/api/2/myself`, { headers: bearer(body.token) });
    expectStatus(used, 200);
    const echo = asEcho(used);
    expect(echo.headers['x-portcullis-user']).to.equal('alice');
    expect(echo.headers['x-portcullis-provider']).to.equal('gateway');
    expect(echo.headers['x-portcullis-token-id']).to.equal(body.id);
    expect(echo.headers.authorization, 'the token is not forwarded').to.equal(undefined);

    const basic = Buffer.from(`alice:${body.token}`).toString('base64');
    expectStatus(await call(`${first.url}/x`, { headers: { authorization: `Basic ${basic}` } }), 200);

    // The other node learns it through its subscription to the store (it polls the file).
    await eventually(async () => expectStatus(await call(`${second.url}/x`, { headers: bearer(body.token) }), 200), { within: 10_000 });

    const listed = await call(`${first.url}/_portcullis/tokens`, { headers: bearer(jwt) });
    expectStatus(listed, 200);
    expect((listed.json as { tokens: { id: string }[] }).tokens.map((t) => t.id)).to.deep.equal([body.id]);
    expect(listed.text).not.to.include(body.token);

    const revoked = await call(`${first.url}/_portcullis/tokens/${body.id}`, { method: 'DELETE', headers: bearer(jwt) });
    expectStatus(revoked, 204);

    // The node that accepted the revocation refuses the very next request.
    const next = await call(`${first.url}/x`, { headers: bearer(body.token) });
    expectStatus(next, 401);
    expect((next.json as { error: string }).error).to.equal('token_revoked');

    // The other node refuses it too, once its subscription has seen the revocation.
    const elsewhere = await eventually(
      async () => {
        const res = await call(`${second.url}/x`, { headers: bearer(body.token) });
        expectStatus(res, 401);
        return res;
      },
      { within: 10_000 },
    );
    expect((elsewhere.json as { error: string }).error).to.equal('token_revoked');

    // The admin view on the second node shows the revocation and who did it.
    const view = await admin(second, 'GET', `/tokens/${body.id}`);
    expectStatus(view, 200);
    expect(view.json).to.deep.include({ state: 'revoked', revokedBy: 'user:alice', owner: 'alice' });
    expect(view.text).not.to.include(body.token);
  });

  it('an admin revocation of a service-account token on one node is refused by the other without a restart', async () => {
    const created = await admin(second, 'POST', '/tokens', { owner: 'ci-robot', kind: 'service', name: 'pipeline', groups: ['robots'] });
    expectStatus(created, 201);
    const { id, token } = created.json as { id: string; token: string };
    await eventually(async () => expectStatus(await call(`${first.url}/x`, { headers: bearer(token) }), 200), { within: 10_000 });

    expectStatus(await admin(second, 'DELETE', `/tokens/${id}?reason=rotated`), 204);
    const res = await eventually(
      async () => {
        const answer = await call(`${first.url}/x`, { headers: bearer(token) });
        expectStatus(answer, 401);
        return answer;
      },
      { within: 10_000 },
    );
    expect((res.json as { error: string }).error).to.equal('token_revoked');
  });
});

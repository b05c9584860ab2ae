// The admin token routes in-process: issue (secret shown once), list with state and usage, revoke one or all of an owner.
import { expect } from 'chai';
import request from 'supertest';

import type { AccessDecidedData } from '../../../core/decision-log/legacy.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import type { ManualClock } from '../../../core/clock.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { ADMIN_TOKEN, changeSettings, FIXED_TIME, listen, startRuntime, type Listening } from '../fixtures.js';

const DAY = 24 * 60 * 60 * 1000;

describe('server/admin tokens', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let clock: ManualClock;
  let listening: Listening;
  /** Every secret handed out: none may appear in any answer but its creation, nor in any event. */
  let secrets: string[];

  beforeEach(async () => {
    ({ runtime, store, clock } = await startRuntime());
    listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
    secrets = [];
  });

  afterEach(async () => {
    const everything = JSON.stringify(await store.readAll());
    for (const secret of secrets) expect(everything, 'a secret in an event').not.to.include(secret);
    await listening.close();
    await runtime.close();
  });

  async function call(method: 'get' | 'post' | 'delete', path: string, body?: object): Promise<request.Response> {
    let test = request(listening.url)[method](path).set('authorization', `Bearer ${ADMIN_TOKEN}`);
    if (body !== undefined) test = test.send(body);
    const res = await test;
    for (const secret of secrets) expect(res.text ?? '', `${method} ${path} echoes a token`).not.to.include(secret);
    return res;
  }

  async function create(body: object): Promise<request.Response> {
    const res = await call('post', '/api/v1/tokens', body);
    if (res.status === 201) secrets.push(res.body.token as string);
    return res;
  }

  it('POST /tokens → 201 with the token, once; the stored event has only its hash', async () => {
    const res = await create({ owner: 'alice', name: 'jira sync', groups: ['devs'], readOnly: true, pathPrefixes: ['/rest/api/2'], ipAllow: ['10.0.0.0/8'] });
    expect(res.status, res.text).to.equal(201);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body.token).to.match(/^pcl_[0-9A-Za-z]{49}$/);
    expect(res.headers.location).to.equal(`/api/v1/tokens/${res.body.id}`);
    expect(res.body).to.deep.include({
      owner: 'alice',
      name: 'jira sync',
      kind: 'user',
      groups: ['devs'],
      readOnly: true,
      pathPrefixes: ['/rest/api/2'],
      ipAllow: ['10.0.0.0/8'],
      state: 'active',
      createdBy: 'admin',
      createdAt: new Date(FIXED_TIME).toISOString(),
      expiresAt: new Date(FIXED_TIME + 90 * DAY).toISOString(),
      lastUsedAt: null,
      useCount: 0,
    });
    expect(res.body).not.to.have.property('hash');
    const shown = await call('get', `/api/v1/tokens/${res.body.id}`);
    expect(shown.status).to.equal(200);
    expect(shown.body).not.to.have.property('token');
    expect(shown.body.id).to.equal(res.body.id);
  });

  it('refuses an invalid request with 400 and every field, and a policy breach with 400 or 409', async () => {
    const bad = await create({ name: '', expiresInDays: 0, pathPrefixes: ['x'], ipAllow: ['300.1.1.1'], bogus: true });
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.equal('invalid_request');
    expect((bad.body.fields as { path: string }[]).map((f) => f.path)).to.include.members(['owner', 'name', 'expiresInDays', 'pathPrefixes[0]', 'ipAllow[0]', 'bogus']);
    const long = await create({ owner: 'alice', name: 'x', expiresInDays: 400 });
    expect(long.status).to.equal(400);
    expect(long.body.fields).to.deep.equal([{ path: 'expiresInDays', message: 'at most 365 days (tokens.maxExpiryDays)' }]);

    await changeSettings(runtime, { tokens: { maxPerUser: 1 } });
    expect((await create({ owner: 'alice', name: 'one' })).status).to.equal(201);
    const second = await create({ owner: 'alice', name: 'two' });
    expect(second.status).to.equal(409);
    expect(second.body.error).to.equal('token_limit_reached');
  });

  it('creates service-account tokens with the groups the admin sets, and never-expiring ones where the policy allows', async () => {
    await changeSettings(runtime, { tokens: { maxExpiryDays: false } });
    const res = await create({ owner: 'ci-robot', name: 'pipeline', kind: 'service', groups: ['robots'], expiresInDays: null });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.deep.include({ kind: 'service', groups: ['robots'], expiresAt: null, state: 'active' });
  });

  it('GET /tokens filters by owner and state (active, expiring_soon, expired, revoked), newest first', async () => {
    const a = (await create({ owner: 'alice', name: 'a', expiresInDays: 3 })).body;
    clock.advance(1000);
    const b = (await create({ owner: 'alice', name: 'b', expiresInDays: 30 })).body;
    clock.advance(1000);
    const c = (await create({ owner: 'alice', name: 'c', expiresInDays: 1 })).body;
    clock.advance(1000);
    const d = (await create({ owner: 'bob', name: 'd' })).body;
    expect((await call('delete', `/api/v1/tokens/${b.id}?reason=rotated`)).status).to.equal(204);
    clock.advance(DAY);

    const ids = async (query: string) => ((await call('get', `/api/v1/tokens${query}`)).body.tokens as { id: string }[]).map((t) => t.id);
    expect(await ids('')).to.deep.equal([d.id, c.id, b.id, a.id]);
    expect(await ids('?owner=alice')).to.deep.equal([c.id, b.id, a.id]);
    expect(await ids('?owner=alice&state=expiring_soon')).to.deep.equal([a.id]);
    expect(await ids('?state=expired')).to.deep.equal([c.id]);
    expect(await ids('?state=revoked')).to.deep.equal([b.id]);
    expect(await ids('?state=active')).to.deep.equal([d.id]);
    expect(await ids('?owner=nobody')).to.deep.equal([]);
    const listed = (await call('get', '/api/v1/tokens?state=revoked')).body.tokens[0];
    expect(listed).to.deep.include({ state: 'revoked', revokedBy: 'admin', revokeReason: 'rotated' });
    const bad = await call('get', '/api/v1/tokens?state=sleeping');
    expect(bad.status).to.equal(400);
    expect(bad.body.fields[0].path).to.equal('state');
  });

  it('DELETE /tokens/{id} → 204 (again: 204, unknown: 404); DELETE /tokens?owner= revokes all of an owner', async () => {
    const one = (await create({ owner: 'alice', name: 'one' })).body;
    await create({ owner: 'alice', name: 'two' });
    await create({ owner: 'bob', name: 'three' });
    expect((await call('delete', `/api/v1/tokens/${one.id}`)).status).to.equal(204);
    expect((await call('delete', `/api/v1/tokens/${one.id}`)).status).to.equal(204);
    expect((await call('delete', '/api/v1/tokens/ffffffffffffffff')).status).to.equal(404);
    const all = await call('delete', '/api/v1/tokens?owner=alice&reason=left');
    expect(all.status).to.equal(200);
    expect(all.body).to.deep.equal({ owner: 'alice', revoked: 1 });
    expect((await call('delete', '/api/v1/tokens')).status, 'owner is required').to.equal(400);
    const states = ((await call('get', '/api/v1/tokens')).body.tokens as { owner: string; state: string }[]).map((t) => `${t.owner}:${t.state}`);
    expect(states.sort()).to.deep.equal(['alice:revoked', 'alice:revoked', 'bob:active']);
    const revokedEvents = (await store.readAll({ streamPrefixes: ['token-'] })).filter((e) => e.type === 'TokenRevoked');
    expect(revokedEvents).to.have.length(2);
    expect(revokedEvents[1]!.data).to.deep.include({ by: 'admin', reason: 'left' });
    expect(revokedEvents[1]!.metadata.actor).to.equal('admin');
  });

  it('shows last use and use count from the decision log’s blocks (the usage projection)', async () => {
    const { id } = (await create({ owner: 'alice', name: 'used' })).body;
    const use = (at: number, provider = 'gateway') =>
      sampleDecision({ time: at, identity: { subject: 'alice', username: 'alice', provider, groups: [], tokenId: id }, allow: at % 2 === 0 });
    await store.decisions.appendBlocks([sealedBlock('b1', [use(FIXED_TIME + 1000), sampleDecision({ time: FIXED_TIME, identity: undefined }), use(FIXED_TIME + 5001)])]);
    // A JWT's id may equal a gateway token's: only gateway identities count.
    const { position } = await store.decisions.appendBlocks([sealedBlock('b2', [use(FIXED_TIME + 9000, 'idp'), use(FIXED_TIME + 3000)])]);
    await runtime.tokenUsage.waitFor(position);
    const res = await call('get', `/api/v1/tokens/${id}`);
    expect(res.body).to.deep.include({ useCount: 3, lastUsedAt: new Date(FIXED_TIME + 5001).toISOString() });
  });

  it('still counts the AccessDecided events of a store from before the decision log', async () => {
    const { id } = (await create({ owner: 'alice', name: 'used' })).body;
    const used = (n: number, at: number) => ({
      id: `req-${n}`,
      type: 'AccessDecided',
      data: { requestId: `req-${n}`, allow: true, identity: { subject: 'alice', username: 'alice', provider: 'gateway', groups: [], tokenId: id } } as Partial<AccessDecidedData>,
      metadata: { actor: 'gateway', time: new Date(at).toISOString() },
    });
    const jwt = { ...used(9, FIXED_TIME), id: 'req-jwt', data: { identity: { subject: 's', username: 'x', provider: 'idp', groups: [], tokenId: id } } };
    const result = await store.append('access-2024-03-05', [used(1, FIXED_TIME + 1000), used(2, FIXED_TIME + 5000), jwt]);
    await runtime.tokenUsage.waitFor(result.position);
    const res = await call('get', `/api/v1/tokens/${id}`);
    expect(res.body).to.deep.include({ useCount: 2, lastUsedAt: new Date(FIXED_TIME + 5000).toISOString() });
    expect((await call('get', '/api/v1/tokens')).body.tokens[0]).to.deep.include({ useCount: 2 });
  });

  it('needs the admin token', async () => {
    const res = await request(listening.url).get('/api/v1/tokens');
    expect(res.status).to.equal(401);
    const post = await request(listening.url).post('/api/v1/tokens').set('authorization', 'Bearer pcl_nope').send({ owner: 'a', name: 'b' });
    expect(post.status).to.equal(401);
  });
});

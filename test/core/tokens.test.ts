// Gateway tokens in core: the format, the index projection, and the issue/revoke commands with a fake clock.
import { expect } from 'chai';

import { ManualClock } from '../../core/clock.js';
import { GatewayError, ServiceUnavailableError, ValidationError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import { StoreUnavailableError, type AppendOptions, type AppendResult, type NewEvent } from '../../core/store/port.js';
import { generateToken, hashToken, isWellFormedToken, TOKEN_LENGTH, TOKEN_PATTERN } from '../../core/tokens/format.js';
import { tokenState } from '../../core/tokens/token-index.js';
import { ADMIN_TOKEN, changeSettings, FIXED_TIME, plugins, startRuntime, type TestRuntime } from '../server/fixtures.js';

const DAY = 24 * 60 * 60 * 1000;
const admin = { actor: 'admin', sourceIp: '127.0.0.1', correlationId: 'req-1' };

/** The first ValidationError or GatewayError a call throws, for asserting on its code and fields. */
async function failure(call: Promise<unknown>): Promise<GatewayError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('core/tokens/format', () => {
  it('makes pcl_ + 49 base62 characters that carry their own checksum, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const token = generateToken();
      expect(token).to.match(TOKEN_PATTERN);
      expect(token).to.have.length(TOKEN_LENGTH);
      expect(isWellFormedToken(token), token).to.equal(true);
      seen.add(token);
    }
    expect(seen.size).to.equal(200);
  });

  it('rejects a typo, a truncated copy and a foreign prefix by the checksum alone', () => {
    const token = generateToken();
    const at = 10;
    const typo = token.slice(0, at) + (token[at] === 'a' ? 'b' : 'a') + token.slice(at + 1);
    expect(isWellFormedToken(typo)).to.equal(false);
    expect(isWellFormedToken(token.slice(0, -1))).to.equal(false);
    expect(isWellFormedToken(`pcx_${token.slice(4)}`)).to.equal(false);
    expect(isWellFormedToken(`${token}0`)).to.equal(false);
  });

  it('stores a sha256, never the token', () => {
    const token = generateToken();
    expect(hashToken(token)).to.match(/^[0-9a-f]{64}$/).and.not.include(token.slice(4));
  });
});

describe('core/tokens: issue and revoke', () => {
  let t: TestRuntime;
  let runtime: Runtime;
  let clock: ManualClock;

  beforeEach(async () => {
    t = await startRuntime();
    ({ runtime, clock } = t);
  });
  afterEach(async () => runtime.close());

  const issue = (body: Record<string, unknown>) => runtime.tokenCommands.issue({ name: 'ci', owner: 'alice', ...body }, admin);

  it('issues with the default expiry and goes active → expiring soon → expired with the clock', async () => {
    const { record, token } = await issue({ groups: ['devs'] });
    expect(isWellFormedToken(token)).to.equal(true);
    expect(record).to.include({ owner: 'alice', name: 'ci', kind: 'user', readOnly: false, createdBy: 'admin', createdAt: FIXED_TIME });
    expect(record.expiresAt).to.equal(FIXED_TIME + 90 * DAY);
    expect(runtime.tokens.state.findByHash(hashToken(token))).to.equal(record);
    expect(tokenState(record, clock.now())).to.equal('active');
    clock.advance(82 * DAY);
    expect(tokenState(record, clock.now()), '8 days left').to.equal('active');
    clock.advance(1 * DAY);
    expect(tokenState(record, clock.now())).to.equal('expiring_soon');
    clock.advance(7 * DAY - 1);
    expect(tokenState(record, clock.now())).to.equal('expiring_soon');
    clock.advance(1);
    expect(tokenState(record, clock.now())).to.equal('expired');
  });

  it('caps the expiry at tokens.maxExpiryDays and allows "never" only where the policy does', async () => {
    expect((await issue({ expiresInDays: 365 })).record.expiresAt).to.equal(FIXED_TIME + 365 * DAY);
    const tooLong = await failure(issue({ expiresInDays: 366 }));
    expect(tooLong).to.be.instanceOf(ValidationError);
    expect((tooLong as ValidationError).fields.map((f) => f.path)).to.deep.equal(['expiresInDays']);
    const never = await failure(issue({ expiresInDays: null }));
    expect((never as ValidationError).fields[0]?.message).to.match(/must expire/);

    await changeSettings(runtime, { tokens: { maxExpiryDays: false, defaultExpiryDays: false } });
    const forever = await issue({ expiresInDays: null });
    expect(forever.record.expiresAt).to.equal(null);
    expect(tokenState(forever.record, FIXED_TIME + 10_000 * DAY)).to.equal('active');
    expect((await issue({})).record.expiresAt, 'no default and no maximum: never').to.equal(null);
  });

  it('validates every field before appending, and lists every problem', async () => {
    const before = (await t.store.readAll()).length;
    const err = await failure(
      runtime.tokenCommands.issue({ owner: '', name: 'x'.repeat(101), pathPrefixes: ['no-slash', '/a/../../b;x'], ipAllow: ['10.0.0.0/33'], kind: 'robot', extra: 1 }, admin),
    );
    expect(err).to.be.instanceOf(ValidationError);
    const paths = (err as ValidationError).fields.map((f) => f.path);
    expect(paths).to.include.members(['owner', 'name', 'pathPrefixes[0]', 'pathPrefixes[1]', 'ipAllow[0]', 'kind', 'extra']);
    expect((await t.store.readAll()).length, 'nothing appended').to.equal(before);
  });

  it('normalises path prefixes as the gateway normalises request paths', async () => {
    const { record } = await issue({ pathPrefixes: ['/rest//api/./2/', '/%7Euser'] });
    expect(record.pathPrefixes).to.deep.equal(['/rest/api/2', '/~user']);
  });

  it('enforces tokens.maxPerUser on active user tokens; expired, revoked and service tokens do not count', async () => {
    await changeSettings(runtime, { tokens: { maxPerUser: 2 } });
    const first = await issue({ expiresInDays: 1 });
    await issue({});
    const over = await failure(issue({}));
    expect(over).to.include({ code: 'token_limit_reached', status: 409 });
    expect((await issue({ owner: 'bob' })).record.owner, 'others are not affected').to.equal('bob');
    expect((await issue({ kind: 'service' })).record.kind, 'service tokens are not counted').to.equal('service');

    clock.advance(DAY); // the first expires
    const third = await issue({});
    expect((await failure(issue({}))).code).to.equal('token_limit_reached');
    await runtime.tokenCommands.revoke(third.record.id, 'rotated', admin);
    await issue({});
    void first;
  });

  it('counts tokens that never expire against tokens.maxPerUser, and revokes them with the owner’s others', async () => {
    await changeSettings(runtime, { tokens: { maxPerUser: 1, maxExpiryDays: false, defaultExpiryDays: false } });
    const forever = await issue({ expiresInDays: null });
    expect(forever.record.expiresAt).to.equal(null);
    clock.advance(10_000 * DAY);
    expect(await failure(issue({}))).to.include({ code: 'token_limit_reached', status: 409 });
    expect(await runtime.tokenCommands.revokeAllOf('alice', 'left the company', admin)).to.equal(1);
    expect(runtime.tokens.state.get(forever.record.id)?.revokedAt).to.equal(clock.now());
  });

  it('does not race past maxPerUser with concurrent requests for the same owner', async () => {
    await changeSettings(runtime, { tokens: { maxPerUser: 3 } });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => issue({})));
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(3);
    expect(results.filter((r) => r.status === 'rejected' && (r.reason as GatewayError).code === 'token_limit_reached')).to.have.length(3);
  });

  it('records TokenIssued and TokenRevoked in the token stream with the actor, and never the secret', async () => {
    const { record, token } = await issue({ groups: ['devs'], readOnly: true, pathPrefixes: ['/rest'], ipAllow: ['10.0.0.0/8'] });
    await runtime.tokenCommands.revoke(record.id, 'laptop lost', admin);
    const events = await t.store.readStream(`token-${record.id}`);
    expect(events.map((e) => e.type)).to.deep.equal(['TokenIssued', 'TokenRevoked']);
    expect(events[0]!.data).to.deep.equal({
      id: record.id,
      hash: hashToken(token),
      owner: 'alice',
      name: 'ci',
      kind: 'user',
      groups: ['devs'],
      readOnly: true,
      pathPrefixes: ['/rest'],
      ipAllow: ['10.0.0.0/8'],
      expiresAt: new Date(FIXED_TIME + 90 * DAY).toISOString(),
    });
    expect(events[1]!.data).to.deep.equal({ id: record.id, by: 'admin', reason: 'laptop lost' });
    for (const e of events) expect(e.metadata).to.include({ actor: 'admin', sourceIp: '127.0.0.1', correlationId: 'req-1' });
    const everything = JSON.stringify(await t.store.readAll());
    expect(everything).not.to.include(token);
    expect(everything).not.to.include(token.slice(4, 30));
  });

  it('revokes at once, idempotently; a revoked token stays revoked; unknown ids are 404', async () => {
    const { record } = await issue({});
    const revoked = await runtime.tokenCommands.revoke(record.id, undefined, admin);
    expect(tokenState(revoked, clock.now())).to.equal('revoked');
    expect(revoked).to.include({ revokedAt: FIXED_TIME, revokedBy: 'admin' });
    const again = await runtime.tokenCommands.revoke(record.id, 'again', admin);
    expect(again.revokeReason).to.equal(undefined);
    expect(await t.store.readStream(`token-${record.id}`)).to.have.length(2);
    expect(await failure(runtime.tokenCommands.revoke('0000000000000000', undefined, admin))).to.include({ status: 404 });
    expect(await failure(runtime.tokenCommands.revoke(record.id, undefined, admin, 'bob')), 'not the owner').to.include({ status: 404 });
  });

  it('revokes every active token of an owner, and counts them', async () => {
    await issue({});
    await issue({});
    const gone = await issue({});
    await runtime.tokenCommands.revoke(gone.record.id, undefined, admin);
    await issue({ owner: 'bob' });
    expect(await runtime.tokenCommands.revokeAllOf('alice', 'left the company', admin)).to.equal(2);
    expect(runtime.tokens.state.ofOwner('alice').every((r) => r.revokedAt !== undefined)).to.equal(true);
    expect(runtime.tokens.state.ofOwner('bob').every((r) => r.revokedAt === undefined)).to.equal(true);
  });

  it('answers 409 when another revocation won the race', async () => {
    const { record } = await issue({});
    // Another node revoked it; this node has not folded that event yet when the command checks.
    await t.store.append(`token-${record.id}`, [{ id: 'other-node', type: 'TokenRevoked', data: { id: record.id, by: 'admin' } }], { expectedRevision: 0 });
    const stale = { ...record };
    const state = runtime.tokens.state;
    const get = state.get.bind(state);
    state.get = (id) => (id === record.id ? stale : get(id));
    try {
      expect(await failure(runtime.tokenCommands.revoke(record.id, undefined, admin))).to.include({ code: 'conflict', status: 409 });
    } finally {
      state.get = get;
    }
  });
});

/** A memory store that can be switched to refuse writes, as a full disk does. */
class FailingStore extends MemoryEventStore {
  failing = false;
  override append(stream: string, events: readonly NewEvent[], options?: AppendOptions): Promise<AppendResult> {
    if (this.failing) return Promise.reject(new StoreUnavailableError('disk full'));
    return super.append(stream, events, options);
  }
}

describe('core/tokens: store and restart', () => {
  it('answers 503 store_unavailable when the store cannot write', async () => {
    const clock = new ManualClock(FIXED_TIME);
    const store = new FailingStore({ clock });
    const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: ADMIN_TOKEN });
    try {
      store.failing = true;
      const err = await failure(runtime.tokenCommands.issue({ owner: 'alice', name: 'x' }, admin));
      expect(err).to.be.instanceOf(ServiceUnavailableError);
      expect(err).to.include({ code: 'store_unavailable', status: 503 });
    } finally {
      store.failing = false;
      await runtime.close();
    }
  });

  it('resumes from its checkpoint after a restart, and a replay from zero gives the same index', async () => {
    const clock = new ManualClock(FIXED_TIME);
    const store = new MemoryEventStore({ clock });
    const start = () => Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: ADMIN_TOKEN });
    const first = await start();
    const a = await first.tokenCommands.issue({ owner: 'alice', name: 'a', groups: ['devs'] }, admin);
    const b = await first.tokenCommands.issue({ owner: 'bob', name: 'b' }, admin);
    await first.tokenCommands.revoke(b.record.id, 'done', admin);
    await first.close();

    const checkpoint = await store.loadCheckpoint('tokens');
    expect(checkpoint, 'a checkpoint was saved').not.to.equal(undefined);
    const second = await start();
    expect(second.tokens.state.findByHash(hashToken(a.token))).to.deep.equal(a.record);
    expect(second.tokens.state.get(b.record.id)?.revokedAt).to.equal(FIXED_TIME);
    const fromCheckpoint = second.tokens.state.snapshot();
    await second.close();

    await store.saveCheckpoint('tokens', { position: checkpoint!.position, state: { version: -1 } });
    const third = await start();
    expect(third.tokens.state.snapshot(), 'replay from zero').to.deep.equal(fromCheckpoint);
    expect(third.tokens.state.ofOwner('alice').map((r) => r.id)).to.deep.equal([a.record.id]);
    await third.close();
  });
});

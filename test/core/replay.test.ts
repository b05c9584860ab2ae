// Replay stops at a time or a position (inclusive), judges tokens at that instant, skips access events, and refuses points outside the history.
import { BLOCK_EVENT } from '../../core/decision-log/record.js';
import { expect } from 'chai';

import type { Decision } from '../../core/access.js';
import { AsOfError, parseAsOf } from '../../core/as-of.js';
import { ManualClock } from '../../core/clock.js';
import { silentLogger } from '../../core/logger.js';
import { replayState, type ReplayedState } from '../../core/replay.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import type { Position } from '../../core/store/port.js';
import { tokenState } from '../../core/tokens/token-index.js';
import { request } from '../fixtures/requests.js';
import { plugins } from '../fixtures/static-provider.js';

const T0 = Date.UTC(2024, 4, 1, 10, 0, 0);
const HOUR = 3_600_000;
const admin = { actor: 'admin' };
const allowed: Decision = { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', trace: [], credentialConsumed: false };

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(AsOfError);
    expect((err as AsOfError).status).to.equal(400);
    return (err as AsOfError).code;
  }
  return expect.fail('expected an AsOfError');
}

describe('core/replay', () => {
  let clock: ManualClock;
  let store: MemoryEventStore;
  let runtime: Runtime;
  const at = (iso: string) => replayState(store, parseAsOf(iso), clock.now());

  beforeEach(async () => {
    clock = new ManualClock(T0);
    store = new MemoryEventStore({ clock });
    runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: 'x'.repeat(32) });
  });

  afterEach(async () => {
    await runtime.close();
  });

  /** 10:00 settings, 11:00 provider, 12:00 a one-day token (+ decisions), 13:00 settings, 14:00 revoked; now 15:00 next day. */
  async function history(): Promise<{ tokenId: string }> {
    await runtime.commands.changeSettings({ rateLimit: { enabled: true } }, undefined, admin);
    clock.advance(HOUR);
    await runtime.commands.configureProvider('corp', { kind: 'static', config: { tokens: {} } }, undefined, admin);
    clock.advance(HOUR);
    const { record } = await runtime.tokenCommands.issue({ owner: 'alice', name: 'laptop', expiresInDays: 1 }, admin);
    for (let i = 0; i < 3; i++) runtime.recordDecision(request({ id: `r${i}` }), allowed);
    await runtime.audit.flush();
    clock.advance(HOUR);
    await runtime.commands.changeSettings({ enabled: false }, undefined, admin);
    clock.advance(HOUR);
    await runtime.tokenCommands.revoke(record.id, 'lost', admin);
    clock.advance(25 * HOUR);
    return { tokenId: record.id };
  }

  it('stops at a time: every event recorded at or before it, none after', async () => {
    await history();
    const early = await at('2024-05-01T11:30:00Z');
    expect(early.config.document).to.deep.equal({ rateLimit: { enabled: true } });
    expect(Object.keys(early.config.providers)).to.deep.equal(['corp']);
    expect(early.tokens.size).to.equal(0);
    expect(early.lastChange?.time).to.equal('2024-05-01T11:00:00.000Z');
    expect(early.at).to.equal(Date.UTC(2024, 4, 1, 11, 30));

    // Exactly the time of an event: included.
    const onTheHour = await at('2024-05-01T13:00:00Z');
    expect(onTheHour.config.document).to.deep.equal({ rateLimit: { enabled: true }, enabled: false });
    expect(onTheHour.config.settingsRevision).to.equal(2);
    const [token] = [...onTheHour.tokens.all()];
    expect(token?.revokedAt, 'not revoked yet at 13:00').to.equal(undefined);
    expect(tokenState(token!, onTheHour.at)).to.equal('expiring_soon');
  });

  it('judges tokens at the point asked for: a token revoked later is active then, and expired later still', async () => {
    const { tokenId } = await history();
    const revoked = await at('2024-05-01T14:00:00Z');
    expect(revoked.tokens.get(tokenId)?.revokedAt).to.equal(Date.UTC(2024, 4, 1, 14));
    expect(tokenState(revoked.tokens.get(tokenId)!, revoked.at)).to.equal('revoked');
    const beforeRevocation = await at('2024-05-01T13:59:59.999Z');
    expect(tokenState(beforeRevocation.tokens.get(tokenId)!, beforeRevocation.at)).to.equal('expiring_soon');
  });

  it('stops at a position, inclusive, and judges tokens at the time of the event there', async () => {
    await history();
    const events = await store.readAll();
    const issued = events.find((e) => e.type === 'TokenIssued')!;
    const lastDecision = events.filter((e) => e.type === BLOCK_EVENT).at(-1)!;
    const atIssue = await replayState(store, { kind: 'position', position: issued.position }, clock.now());
    expect(atIssue.tokens.size).to.equal(1);
    expect(atIssue.lastChange?.position).to.equal(issued.position);
    expect(atIssue.at).to.equal(Date.parse(issued.time));
    // A decision's position: its state is that of the last configuration or token event before it.
    const atDecision = await replayState(store, { kind: 'position', position: lastDecision.position }, clock.now());
    expect(atDecision.lastChange?.position).to.equal(issued.position);
    const before = await replayState(store, { kind: 'position', position: String(Number(issued.position) - 1) as Position }, clock.now());
    expect(before.tokens.size).to.equal(0);
  });

  it('replays to a position whose event retention deleted, judging tokens at the last event before it', async () => {
    await history();
    const decision = (await store.readAll()).find((e) => e.type === BLOCK_EVENT)!;
    await store.deleteStream(decision.stream);
    const replayed = await replayState(store, { kind: 'position', position: decision.position }, clock.now());
    expect(replayed.tokens.size).to.equal(1);
    expect(replayed.at).to.equal(Date.UTC(2024, 4, 1, 12));
  });

  it('without a point, replays the whole history and judges tokens now', async () => {
    await history();
    const whole: ReplayedState = await replayState(store, undefined, clock.now());
    expect(whole.config).to.deep.equal(runtime.projection.state);
    expect([...whole.tokens.all()]).to.deep.equal([...runtime.tokens.state.all()]);
    expect(whole.at).to.equal(clock.now());
  });

  it('refuses a time before the first event, a time in the future and a position past the head', async () => {
    await history();
    const head = (await store.headPosition())!;
    expect(await refusal(at('2024-05-01T09:59:59.999Z'))).to.equal('as_of_before_history');
    expect(await refusal(at('2024-04-01'))).to.equal('as_of_before_history');
    expect(await refusal(replayState(store, { kind: 'time', time: clock.now() + 1 }, clock.now()))).to.equal('as_of_after_head');
    expect(await refusal(replayState(store, { kind: 'position', position: String(Number(head) + 1) as Position }, clock.now()))).to.equal('as_of_after_head');
    expect(await refusal(replayState(store, { kind: 'position', position: '0' as Position }, clock.now()))).to.equal('as_of_before_history');
    // The first event and the head themselves are inside the history.
    expect((await at('2024-05-01T10:00:00Z')).config.settingsRevision).to.equal(1);
    expect((await replayState(store, { kind: 'position', position: head }, clock.now())).tokens.size).to.equal(1);
  });

  it('refuses every point of an empty history', async () => {
    expect(await refusal(replayState(store, { kind: 'time', time: T0 }, clock.now()))).to.equal('as_of_before_history');
    expect(await refusal(replayState(store, { kind: 'position', position: '1' as Position }, clock.now()))).to.equal('as_of_before_history');
    expect((await replayState(store, undefined, clock.now())).config.settingsRevision).to.equal(0);
  });
});

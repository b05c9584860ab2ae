// GET /api/v1/state: the live state, or replayed as of a time or position; secrets masked, tokens without hashes; bad points refused with stable codes.
import { expect } from 'chai';
import type request from 'supertest';

import { MASK } from '../../../core/secrets.js';
import { buildHistory, HOUR, startKit, type Built, type Kit } from './history-kit.js';
import { FIXED_TIME, tokenHash } from '../fixtures.js';

const iso = (ms: number): string => new Date(ms).toISOString();

describe('server/admin state', () => {
  let kit: Kit;
  let built: Built;

  beforeEach(async () => {
    kit = await startKit();
    built = await buildHistory(kit);
  });

  afterEach(async () => {
    await kit.close();
  });

  const expectError = (res: request.Response, code: string) => {
    expect(res.status, res.text).to.equal(400);
    expect(res.body.error).to.equal(code);
    expect(res.body.error_description).to.be.a('string').and.not.equal('');
    expect(res.text).not.to.match(/\n\s+at /);
  };

  it('without asOf: the live state, secrets masked, every token without its hash', async () => {
    const res = await kit.call('/api/v1/state');
    expect(res.status, res.text).to.equal(200);
    expect(res.body.asOf).to.equal(null);
    expect(res.body.hash).to.match(/^[0-9a-f]{64}$/);
    expect(res.body.settings.revision).to.equal(3);
    expect(res.body.settings.document).to.deep.equal({ ip: { allow: ['10.0.0.0/8'] } });
    expect(res.body.providers).to.deep.equal([
      { id: 'keys', kind: 'jwt-key', enabled: true, order: 2, config: { secret: MASK, issuer: 'https://keys.example' }, revision: 2, updatedAt: iso(built.at.keysAgain!) },
    ]);
    const tokens = res.body.tokens as Record<string, unknown>[];
    expect(tokens.map((t) => [t.id, t.owner, t.name, t.state])).to.deep.equal([
      [built.bob, 'bob', 'ci', 'active'],
      [built.alice, 'alice', 'laptop', 'revoked'],
    ]);
    for (const t of tokens) expect(t).not.to.have.any.keys('hash', 'token', 'secret');
  });

  it('?asOf=<time> gives the state as it was then, with the point it stopped at', async () => {
    const asOf = iso(built.at.alice! + 30 * 60_000);
    const res = await kit.call(`/api/v1/state?asOf=${encodeURIComponent(asOf)}`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.asOf).to.deep.include({ requested: asOf, at: asOf });
    expect(res.body.asOf.lastChange.time).to.equal(iso(built.at.alice!));
    expect(res.body.settings).to.deep.include({ revision: 1, document: { rateLimit: { enabled: true, limit: 100 } } });
    expect((res.body.providers as { id: string; config: unknown; order: number }[]).map((p) => [p.id, p.order, p.config])).to.deep.equal([
      ['keys', 0, { secret: MASK, issuer: 'https://keys.example' }],
      ['corp', 1, { tokens: { [tokenHash('t')]: { username: 'carol' } } }],
    ]);
    expect((res.body.tokens as { owner: string; state: string }[]).map((t) => [t.owner, t.state])).to.deep.equal([['alice', 'active']]);
  });

  it('?asOf=<time with an offset> and the unescaped + a query string turns into a space', async () => {
    const plus = await kit.call('/api/v1/state?asOf=2024-03-05T09:07:08%2B02:00');
    const space = await kit.call('/api/v1/state?asOf=2024-03-05T09:07:08+02:00');
    expect(plus.status, plus.text).to.equal(200);
    expect(plus.body.asOf.at).to.equal(iso(FIXED_TIME + HOUR));
    expect(space.body.hash).to.equal(plus.body.hash);
    expect((plus.body.providers as { id: string }[]).map((p) => p.id)).to.deep.equal(['keys']);
  });

  it('?asOf=<now> and ?asOf=<head position> give the live state and its hash', async () => {
    const live = await kit.call('/api/v1/state');
    const now = await kit.call(`/api/v1/state?asOf=${iso(kit.clock.now())}`);
    expect(now.body.hash).to.equal(live.body.hash);
    const { asOf: _a, ...liveRest } = live.body as Record<string, unknown>;
    const { asOf: _b, ...nowRest } = now.body as Record<string, unknown>;
    expect(nowRest).to.deep.equal(liveRest);
    const head = (await kit.store.headPosition())!;
    const atHead = await kit.call(`/api/v1/state?asOf=${head}`);
    expect(atHead.status).to.equal(200);
    expect(atHead.body.asOf.requested).to.equal(head);
    expect(atHead.body.settings).to.deep.equal(live.body.settings);
    expect(atHead.body.providers).to.deep.equal(live.body.providers);
  });

  it('?asOf=<position> stops at that event, inclusive', async () => {
    const events = await kit.store.readAll();
    const issued = events.find((e) => e.type === 'TokenIssued')!;
    const res = await kit.call(`/api/v1/state?asOf=${issued.position}`);
    expect(res.body.asOf.lastChange).to.deep.equal({ position: issued.position, time: issued.time });
    expect((res.body.tokens as unknown[]).length).to.equal(1);
    const before = await kit.call(`/api/v1/state?asOf=${Number(issued.position) - 1}`);
    expect(before.body.tokens).to.deep.equal([]);
  });

  const refusals: [string, () => string, string][] = [
    ['an unparseable time', () => 'yesterday', 'invalid_as_of'],
    ['a time without a zone', () => '2024-03-05T10:00:00', 'invalid_as_of'],
    ['a date that does not exist', () => '2024-02-30', 'invalid_as_of'],
    ['a position with a leading zero', () => '012', 'invalid_as_of'],
    ['a time before the first event', () => iso(FIXED_TIME - 1), 'as_of_before_history'],
    ['position 0', () => '0', 'as_of_before_history'],
    ['a time in the future', () => iso(kit.clock.now() + 1000), 'as_of_after_head'],
    ['a position past the head', () => '999999', 'as_of_after_head'],
  ];
  for (const [what, value, code] of refusals) {
    it(`?asOf=<${what}> → 400 ${code}`, async () => {
      expectError(await kit.call(`/api/v1/state?asOf=${encodeURIComponent(value())}`), code);
    });
  }

  for (const query of ['asof=2024-03-05', 'at=1', 'asOf=1&asOf=2']) {
    it(`?${query} → 400 invalid_request (unknown or repeated parameter)`, async () => {
      expectError(await kit.call(`/api/v1/state?${query}`), 'invalid_request');
    });
  }
});

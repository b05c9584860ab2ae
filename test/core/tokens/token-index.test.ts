// The token index as a fold: given token events, the records it answers with, its checkpoint round trip, and its lookups.
import { randomBytes } from 'node:crypto';

import { expect } from 'chai';

import { tokenStream, type TokenIssuedData } from '../../../core/events.js';
import type { Position, RecordedEvent } from '../../../core/store/port.js';
import { generateToken, hashToken } from '../../../core/tokens/format.js';
import { evolveTokens, isUsable, TokenIndex, tokenState, type TokenRecord } from '../../../core/tokens/token-index.js';

const T0 = Date.UTC(2025, 0, 1);
const DAY = 24 * 60 * 60 * 1000;

/** A token stream written as the commands write it: TokenIssued at revision 0, then revocations. */
class Stream {
  readonly id = randomBytes(8).toString('hex');
  readonly token = generateToken();
  revision = -1;
  constructor(readonly data: Omit<TokenIssuedData, 'id' | 'hash'>) {}
}

let position = 0;

function event(stream: Stream, type: string, data: unknown, at: number, actor: string): RecordedEvent {
  position += 1;
  stream.revision += 1;
  return {
    id: `event-${position}`,
    type,
    stream: tokenStream(stream.id),
    revision: stream.revision,
    position: String(position) as Position,
    time: new Date(at).toISOString(),
    data,
    metadata: { actor },
    prevHash: '',
    hash: '',
  };
}

const issued = (stream: Stream, at = T0, actor = 'admin'): RecordedEvent =>
  event(stream, 'TokenIssued', { id: stream.id, hash: hashToken(stream.token), ...stream.data }, at, actor);

const revoked = (stream: Stream, at: number, by: string, reason?: string): RecordedEvent =>
  event(stream, 'TokenRevoked', { id: stream.id, by, ...(reason !== undefined ? { reason } : {}) }, at, by);

function token(owner: string, over: Partial<TokenIssuedData> = {}): Stream {
  return new Stream({
    owner,
    name: `${owner}'s token`,
    kind: 'user',
    groups: [],
    readOnly: false,
    pathPrefixes: [],
    ipAllow: [],
    expiresAt: new Date(T0 + 90 * DAY).toISOString(),
    ...over,
  });
}

const fold = (events: readonly RecordedEvent[], index = new TokenIndex()): TokenIndex => events.reduce(evolveTokens, index);

/** Through JSON, as the store keeps a checkpoint. */
const restored = (index: TokenIndex): TokenIndex => TokenIndex.restore(JSON.parse(JSON.stringify(index.snapshot())));

describe('core/tokens/token-index', () => {
  it('answers a TokenIssued with the record: times in milliseconds, the actor, the revision, lists as issued', () => {
    const alice = token('alice', { groups: ['devs', 'ops'], readOnly: true, pathPrefixes: ['/rest/api/2'], ipAllow: ['10.0.0.0/8'], name: 'CI – nightly ✓' });
    const index = fold([issued(alice, T0 + 5, 'user:alice')]);

    const record = index.findByHash(hashToken(alice.token));
    expect(record).to.deep.equal({
      id: alice.id,
      hash: hashToken(alice.token),
      owner: 'alice',
      name: 'CI – nightly ✓',
      kind: 'user',
      groups: ['devs', 'ops'],
      readOnly: true,
      pathPrefixes: ['/rest/api/2'],
      ipAllow: ['10.0.0.0/8'],
      expiresAt: T0 + 90 * DAY,
      createdAt: T0 + 5,
      createdBy: 'user:alice',
      revision: 0,
    });
    expect(index.get(alice.id)).to.equal(record);
    expect(index.size).to.equal(1);
    expect(Object.isFrozen(record!.groups), 'lists are shared, so frozen').to.equal(true);
  });

  it('keeps a token that never expires, and a service account', () => {
    const robot = token('ci-bot', { kind: 'service', expiresAt: null });
    const record = fold([issued(robot)]).get(robot.id)!;
    expect(record).to.include({ kind: 'service', expiresAt: null });
    expect(tokenState(record, T0 + 10_000 * DAY)).to.equal('active');
  });

  it('revokes: the first revocation counts, and a repeated one only moves the revision', () => {
    const alice = token('alice');
    const index = fold([issued(alice), revoked(alice, T0 + DAY, 'admin')]);
    const first = index.get(alice.id)!;
    expect(first).to.include({ revokedAt: T0 + DAY, revokedBy: 'admin', revision: 1 });
    expect(first).not.to.have.property('revokeReason');
    expect(tokenState(first, T0 + DAY)).to.equal('revoked');

    fold([revoked(alice, T0 + 2 * DAY, 'user:alice', 'again')], index);
    const again = index.get(alice.id)!;
    expect(again).to.include({ revokedAt: T0 + DAY, revokedBy: 'admin', revision: 2 });
    expect(again, 'a reason given later is not the first revocation’s').not.to.have.property('revokeReason');
    expect(index.findByHash(hashToken(alice.token)), 'the lookup sees the revocation').to.equal(again);
  });

  it('keeps the reason of the first revocation', () => {
    const alice = token('alice');
    const record = fold([issued(alice), revoked(alice, T0 + DAY, 'admin', 'laptop lost'), revoked(alice, T0 + 2 * DAY, 'admin', 'again')]).get(alice.id)!;
    expect(record).to.include({ revokedAt: T0 + DAY, revokedBy: 'admin', revokeReason: 'laptop lost', revision: 2 });
  });

  it('answers the same record object until the token changes, then a new one (the old one keeps what it said)', () => {
    const alice = token('alice');
    const index = fold([issued(alice)]);
    const before = index.findByHash(hashToken(alice.token))!;
    expect(index.findByHash(hashToken(alice.token))).to.equal(before);
    expect(index.get(alice.id)).to.equal(before);

    fold([revoked(alice, T0 + DAY, 'admin')], index);
    const after = index.findByHash(hashToken(alice.token))!;
    expect(after).not.to.equal(before);
    expect(before.revokedAt).to.equal(undefined);
    expect(after.revokedAt).to.equal(T0 + DAY);
  });

  it('finds nothing for an unknown, malformed or differently written hash', () => {
    const alice = token('alice');
    const index = fold([issued(alice)]);
    const hash = hashToken(alice.token);
    expect(index.findByHash(hashToken(generateToken()))).to.equal(undefined);
    expect(index.findByHash(hash.toUpperCase())).to.equal(undefined);
    expect(index.findByHash(hash.slice(0, -1))).to.equal(undefined);
    expect(index.findByHash(`${hash.slice(0, -1)}g`)).to.equal(undefined);
    expect(index.findByHash('')).to.equal(undefined);
    expect(index.get('0000000000000000')).to.equal(undefined);
    expect(index.get(alice.id.toUpperCase())).to.equal(undefined);
    expect(new TokenIndex().findByHash(hash)).to.equal(undefined);
  });

  it('lists an owner’s tokens oldest first, and nothing for an unknown owner or another string it holds', () => {
    const [a1, b1, a2, a3] = [token('alice'), token('bob'), token('alice'), token('alice')];
    const index = fold([issued(a1), issued(b1), issued(a2), revoked(a1, T0 + 1, 'admin'), issued(a3)]);
    expect(index.ofOwner('alice').map((r) => r.id)).to.deep.equal([a1.id, a2.id, a3.id]);
    expect(index.ofOwner('alice')[0]!.revokedAt).to.equal(T0 + 1);
    expect(index.ofOwner('bob').map((r) => r.id)).to.deep.equal([b1.id]);
    expect(index.ofOwner('carol')).to.deep.equal([]);
    expect(index.ofOwner('admin'), 'an actor, not an owner').to.deep.equal([]);
    expect([...index.all()].map((r) => r.id)).to.deep.equal([a1.id, b1.id, a2.id, a3.id]);
  });

  it('ignores a second TokenIssued for a known id, a revocation of an unknown id, and other event types', () => {
    const alice = token('alice');
    const index = fold([issued(alice)]);
    const impostor = token('mallory');
    const again = issued(impostor);
    fold([{ ...again, data: { ...(again.data as TokenIssuedData), id: alice.id } }, revoked(token('nobody'), T0, 'admin'), { ...revoked(alice, T0, 'admin'), type: 'TokenRenamed' }], index);
    expect(index.size).to.equal(1);
    expect(index.get(alice.id)).to.include({ owner: 'alice', revision: 0 });
    expect(index.get(alice.id)!.revokedAt).to.equal(undefined);
    expect(index.findByHash(hashToken(impostor.token))).to.equal(undefined);
    expect(index.ofOwner('mallory')).to.deep.equal([]);
  });

  it('counts a token as usable until it is revoked or expires, and one that never expires as usable', () => {
    const [expiring, forever] = [token('alice'), token('alice', { expiresAt: null })];
    const index = fold([issued(expiring), issued(forever)]);
    const at = T0 + 90 * DAY;
    expect(isUsable(index.get(expiring.id)!, at - 1)).to.equal(true);
    expect(isUsable(index.get(expiring.id)!, at), 'expired at its expiry').to.equal(false);
    expect(isUsable(index.get(forever.id)!, T0 + 10_000 * DAY)).to.equal(true);
    fold([revoked(forever, T0 + 1, 'admin')], index);
    expect(isUsable(index.get(forever.id)!, T0 + 2)).to.equal(false);
  });

  it('records "unknown" as the creator when TokenIssued names no actor', () => {
    const alice = token('alice');
    const index = fold([{ ...issued(alice), metadata: {} }]);
    expect(index.get(alice.id)).to.include({ createdBy: 'unknown' });
  });

  it('leaves nothing behind, in the checkpoint either, for the events it ignores', () => {
    const alice = token('alice');
    const index = fold([issued(alice)]);
    const before = index.snapshot();
    const impostor = issued(token('mallory', { groups: ['admins'] }));
    fold([{ ...impostor, data: { ...(impostor.data as TokenIssuedData), id: alice.id } }, revoked(token('nobody'), T0, 'user:somebody', 'a reason')], index);
    expect(index.snapshot()).to.deep.equal(before);
  });

  it('builds from records as it folds: a repeated id is ignored, a revocation without its actor has none', () => {
    const [alice, bob] = [token('alice'), token('bob')];
    const records: TokenRecord[] = [...fold([issued(alice), issued(bob), revoked(bob, T0 + DAY, 'admin')]).all()];
    const { revokedBy: _by, ...revokedByNobody } = records[1]!;
    const repeated = { ...records[0]!, owner: 'mallory', revokedAt: T0, revokedBy: 'user:mallory', revokeReason: 'taken' };
    const index = TokenIndex.restore([records[0]!, revokedByNobody, repeated]);
    expect(index.get(bob.id)).to.deep.equal(revokedByNobody);
    expect(index.get(bob.id)).not.to.have.property('revokedBy');
    expect(index.get(alice.id)).to.deep.equal(records[0]);
    expect(index.snapshot(), 'the repeated record leaves nothing').to.deep.equal(TokenIndex.restore([records[0]!, revokedByNobody]).snapshot());
  });

  describe('past the first 4096 tokens (the lately-built records wrap around)', () => {
    /** `count` tokens of three owners, each issued by an actor of its own. */
    function crowd(count: number): { index: TokenIndex; streams: Stream[] } {
      const streams = Array.from({ length: count }, (_, i) => token(`owner${i % 3}`));
      return { index: fold(streams.map((s, i) => issued(s, T0 + i, `user:actor${i}`))), streams };
    }

    it('finds nothing for an unknown hash or id after looking up the token whose slot shares the empty marker', () => {
      const { index, streams } = crowd(4100);
      expect(index.get(streams[4095]!.id)).to.include({ id: streams[4095]!.id });
      expect(index.findByHash(hashToken(streams[4095]!.token))).to.include({ id: streams[4095]!.id });
      expect(index.findByHash(hashToken(generateToken()))).to.equal(undefined);
      expect(index.get('0000000000000000')).to.equal(undefined);
      expect(index.get(streams[4095]!.id)?.id, 'still the right record').to.equal(streams[4095]!.id);
    });

    it('keeps answering the same record for a looked-up token across listings and other tokens’ revocations', () => {
      const { index, streams } = crowd(4100);
      const [one, twin] = [streams[1]!, streams[4097]!]; // slots 1 and 4097 share a place among the lately built
      const record = index.findByHash(hashToken(one.token))!;
      expect([...index.all()]).to.have.length(4100);
      expect(index.findByHash(hashToken(one.token)), 'after listing every token').to.equal(record);
      expect(index.ofOwner('owner2').length, 'the owner of slot 4097').to.be.greaterThan(1300);
      expect(index.findByHash(hashToken(one.token)), 'after listing an owner’s tokens').to.equal(record);

      const twinRecord = index.findByHash(hashToken(twin.token))!;
      fold([revoked(one, T0 + DAY, 'admin')], index);
      expect(index.findByHash(hashToken(twin.token)), 'after the other token’s revocation').to.equal(twinRecord);
      expect(index.findByHash(hashToken(one.token))).to.include({ revokedAt: T0 + DAY });
    });

    it('lists no tokens for a name that is only an actor, wherever its number falls', () => {
      const { index } = crowd(1500);
      for (let i = 0; i < 1500; i++) expect(index.ofOwner(`user:actor${i}`), `user:actor${i}`).to.deep.equal([]);
      expect(index.ofOwner('owner2')).to.have.length(500);
    });
  });

  it('takes ids and hashes of any form from history, not only the hex the commands write', () => {
    const odd = token('alice');
    const first = issued(odd);
    const events = [
      { ...first, data: { ...(first.data as TokenIssuedData), id: 'legacy-1', hash: 'not-a-sha256' } },
      { ...revoked(odd, T0 + 1, 'admin'), data: { id: 'legacy-1', by: 'admin' } },
    ];
    for (const index of [fold(events), restored(fold(events))]) {
      expect(index.get('legacy-1')).to.include({ id: 'legacy-1', hash: 'not-a-sha256', revokedAt: T0 + 1 });
      expect(index.findByHash('not-a-sha256')?.id).to.equal('legacy-1');
      expect(index.get(odd.id)).to.equal(undefined);
    }
  });

  describe('checkpoint', () => {
    /** A few owners, scopes, revocations, and enough tokens for the tables to grow. */
    function history(count: number): { events: RecordedEvent[]; streams: Stream[] } {
      const events: RecordedEvent[] = [];
      const streams: Stream[] = [];
      for (let i = 0; i < count; i++) {
        const stream = token(`user${i % 7}@example.com`, {
          name: i % 5 === 0 ? `tökén ${i}` : `token ${i}`,
          kind: i % 10 === 0 ? 'service' : 'user',
          groups: i % 3 === 0 ? ['developers', 'jira-users'] : i % 3 === 1 ? ['developers'] : [],
          readOnly: i % 4 === 0,
          pathPrefixes: i % 5 === 0 ? ['/rest/api/2'] : [],
          ipAllow: i % 7 === 0 ? [`10.${i % 256}.0.0/16`] : [],
          expiresAt: i % 11 === 0 ? null : new Date(T0 + i * 1000).toISOString(),
        });
        streams.push(stream);
        events.push(issued(stream, T0 + i, i % 2 === 0 ? 'admin' : `user:${stream.data.owner}`));
        if (i % 6 === 0) events.push(revoked(stream, T0 + i + 1, 'admin', i % 12 === 0 ? `reason ${i}` : undefined));
        if (i % 18 === 0) events.push(revoked(stream, T0 + i + 2, 'admin'));
      }
      return { events, streams };
    }

    it('restores from its snapshot (through JSON) the index a replay builds, and folds on from there alike', () => {
      const { events, streams } = history(5000);
      const replayed = fold(events.slice(0, 4000));
      const resumed = restored(replayed);
      expect(resumed.size).to.equal(replayed.size);
      expect([...resumed.all()]).to.deep.equal([...replayed.all()]);
      expect(resumed.snapshot()).to.deep.equal(replayed.snapshot());

      fold(events.slice(4000), resumed);
      const whole = fold(events);
      expect([...resumed.all()]).to.deep.equal([...whole.all()]);
      expect(resumed.snapshot()).to.deep.equal(whole.snapshot());
      for (const stream of [streams[0]!, streams[1234]!, streams[4999]!]) {
        expect(resumed.findByHash(hashToken(stream.token))).to.deep.equal(whole.get(stream.id));
      }
      expect(resumed.ofOwner('user3@example.com').map((r) => r.id)).to.deep.equal(whole.ofOwner('user3@example.com').map((r) => r.id));
    });

    it('restores an empty index', () => {
      const empty = restored(new TokenIndex());
      expect(empty.size).to.equal(0);
      expect([...empty.all()]).to.deep.equal([]);
      expect(empty.ofOwner('alice')).to.deep.equal([]);
    });

    it('restores from plain records, the form of older checkpoints', () => {
      const { events } = history(50);
      const replayed = fold(events);
      const records: TokenRecord[] = JSON.parse(JSON.stringify([...replayed.all()]));
      expect([...TokenIndex.restore(records).all()]).to.deep.equal([...replayed.all()]);
    });

    it('refuses a checkpoint it cannot read, rather than start with no tokens', () => {
      const saved = JSON.parse(JSON.stringify(fold(history(20).events).snapshot()));
      const broken = [
        null,
        'tokens',
        { ...saved, format: 'token-columns/0' },
        { ...saved, count: 21 },
        { ...saved, hashes: { ...saved.hashes, bytes: [] } },
        { ...saved, columns: { ...saved.columns, owner: 'AAAA' } },
        { ...saved, names: { ...saved.names, count: 19 } },
      ];
      for (const checkpoint of [...broken, undefined, { ...saved, ids: { ...saved.ids, bytes: [] } }, { ...saved, names: 'names' }]) {
        expect(() => TokenIndex.restore(checkpoint), JSON.stringify(checkpoint)?.slice(0, 60)).to.throw(TypeError, 'not a token index checkpoint');
      }
    });
  });
});

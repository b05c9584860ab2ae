// The identity cache: hits make no call, one call per token in flight, TTL bounded by expiry, maximum and clock.
import { expect } from 'chai';
import type { Identity } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { IdentityCache } from '../../core/identity-cache.js';
import type { AuthResult } from '../../core/provider.js';

const identity = (expiresAt?: number): AuthResult => ({
  outcome: 'identity',
  identity: { subject: 's', username: 'u', groups: [], scopes: [], provider: 'p', ...(expiresAt ? { expiresAt } : {}) },
});

describe('core/identity-cache', () => {
  let clock: ManualClock;
  let cache: IdentityCache;
  let calls: number;
  const load = (result: AuthResult) => async () => {
    calls += 1;
    await new Promise((r) => setImmediate(r)); // an answer that comes later, so concurrent misses overlap
    return result;
  };
  beforeEach(() => {
    clock = new ManualClock(1_000_000);
    cache = new IdentityCache({ clock, maxTtlSeconds: 60, failureTtlSeconds: 5 });
    calls = 0;
  });
  afterEach(() => cache.close());

  it('keys bind provider, fingerprint and token, and never contain the token', () => {
    const k = IdentityCache.key('p', 'f', 'secret-token');
    expect(k).to.not.include('secret');
    expect(k).to.not.equal(IdentityCache.key('q', 'f', 'secret-token'));
    expect(k).to.not.equal(IdentityCache.key('p', 'g', 'secret-token'));
  });

  it('answers a hit without calling, and shares one call among concurrent misses', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.resolve('k', load(identity()))));
    expect(calls).to.equal(1);
    expect(results.every((r) => r.outcome === 'identity')).to.equal(true);
    await cache.resolve('k', load(identity()));
    expect(calls).to.equal(1);
  });

  it('holds at most maxEntries answers and serves the rest uncached', async () => {
    const small = new IdentityCache({ clock, maxEntries: 2 });
    try {
      for (const key of ['a', 'b', 'c']) await small.resolve(key, load(identity()));
      expect(small.size).to.equal(2);
      const before = calls;
      await small.resolve('c', load(identity()));
      expect(calls).to.equal(before + 1);
      await small.resolve('a', load(identity()));
      expect(calls).to.equal(before + 1);
    } finally {
      small.close();
    }
  });

  it('never keeps an answer beyond the token expiry or the maximum', async () => {
    await cache.resolve('short', load(identity(clock.now() + 10_000)));
    clock.advance(9_000);
    await cache.resolve('short', load(identity()));
    expect(calls).to.equal(1);
    clock.advance(1_001);
    await cache.resolve('short', load(identity()));
    expect(calls).to.equal(2);

    await cache.resolve('long', load(identity(clock.now() + 3_600_000)));
    clock.advance(60_001);
    await cache.resolve('long', load(identity()));
    expect(calls).to.equal(4);
  });

  it('keeps a refusal briefly and never keeps provider_unavailable', async () => {
    const refused: AuthResult = { outcome: 'failure', code: 'invalid_token', description: 'revoked' };
    await cache.resolve('bad', load(refused));
    clock.advance(4_000);
    await cache.resolve('bad', load(refused));
    expect(calls).to.equal(1);
    clock.advance(1_001);
    await cache.resolve('bad', load(refused));
    expect(calls).to.equal(2);
    const down: AuthResult = { outcome: 'failure', code: 'provider_unavailable', description: 'down' };
    await cache.resolve('down', load(down));
    await cache.resolve('down', load(down));
    expect(calls).to.equal(4);
  });

  it('keeps an identity equal to the answer, fields in order, with group and scope lists shared and frozen', async () => {
    const person = (subject: string): Identity => ({
      subject, username: subject, email: `${subject}@example.com`, groups: ['dev', 'ops'], scopes: ['read'], provider: 'p', claims: { sub: subject },
    });
    const answer = (subject: string): AuthResult => ({ outcome: 'identity', identity: person(subject) });
    const first = await cache.resolve('a', load(answer('a')));
    const second = await cache.resolve('b', load(answer('b')));
    expect(first).to.deep.equal(answer('a'));
    expect(second).to.deep.equal(answer('b'));
    if (first.outcome !== 'identity' || second.outcome !== 'identity') throw new Error('identities expected');
    expect(Object.keys(first.identity)).to.deep.equal(Object.keys(person('a')));
    // One copy per distinct list, whoever carries it, and nobody can change it for the others.
    expect(second.identity.groups).to.equal(first.identity.groups);
    expect(second.identity.scopes).to.equal(first.identity.scopes);
    expect(Object.isFrozen(first.identity.groups)).to.equal(true);
    // A hit is the very object the miss gave.
    expect(await cache.resolve('a', load(answer('a')))).to.equal(first);
    expect(calls).to.equal(2);
  });

  it('does not cache an already expired identity', async () => {
    await cache.resolve('old', load(identity(clock.now() - 1)));
    await cache.resolve('old', load(identity()));
    expect(calls).to.equal(2);
  });
});

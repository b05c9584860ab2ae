// Rate limits on a manual clock: keys, windows, per-route overrides, exemptions, and the 429 and RateLimit headers.
import { expect } from 'chai';
import { ManualClock } from '../../core/clock.js';
import { LocalRateLimiter } from '../../core/rate-limit.js';
import { bearer, kit, request, tableProvider } from './kit.js';

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0); // a window boundary
const people = tableProvider('idp', {
  'tok-a1': { username: 'ann', tokenId: 'tid-1' },
  'tok-a2': { username: 'ann', tokenId: 'tid-2' },
  'tok-bob': { username: 'bob', groups: ['bots'] },
  'tok-carl': { username: 'carl' },
});

describe('policies/rate-limit', () => {
  it('allows `limit` requests per window, then 429 rate_limited with Retry-After and the RateLimit headers', async () => {
    const clock = new ManualClock(T0 + 15_000);
    const { pipeline } = kit({ rateLimit: { enabled: true, limit: 3, windowSeconds: 60 } }, [people], { clock });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await pipeline.decide(request(bearer('tok-a1'))));
    expect(results.slice(0, 3).map((d) => d.allow)).to.deep.equal([true, true, true]);
    expect(results[0]!.headers).to.deep.equal({
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=2;t=45',
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '2024-01-01T00:01:00.000Z',
    });
    expect(results[2]!.headers?.['x-ratelimit-remaining']).to.equal('0');
    const refused = results[3]!;
    expect(refused).to.include({ allow: false, status: 429, reason: 'rate_limited', stage: 'rate_limit' });
    expect(refused.headers).to.deep.equal({
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=0;t=45',
      'x-ratelimit-limit': '3',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '2024-01-01T00:01:00.000Z',
      'retry-after': '45',
    });

    clock.advance(44_000);
    expect((await pipeline.decide(request(bearer('tok-a1')))).headers?.['retry-after']).to.equal('1');
    clock.advance(1_000); // the next window
    const again = await pipeline.decide(request(bearer('tok-a1')));
    expect(again).to.include({ allow: true });
    expect(again.headers?.ratelimit).to.equal('"default";r=2;t=60');
  });

  it('counts per user by default, per token with key: token, per address with key: ip', async () => {
    const byUser = kit({ rateLimit: { enabled: true, limit: 1 } }, [people]).pipeline;
    expect(await byUser.decide(request(bearer('tok-a1')))).to.include({ allow: true });
    expect(await byUser.decide(request(bearer('tok-a2')))).to.include({ reason: 'rate_limited' });
    expect(await byUser.decide(request(bearer('tok-carl')))).to.include({ allow: true });

    const byToken = kit({ rateLimit: { enabled: true, limit: 1, key: 'token' } }, [people]).pipeline;
    expect(await byToken.decide(request(bearer('tok-a1')))).to.include({ allow: true });
    expect(await byToken.decide(request(bearer('tok-a2')))).to.include({ allow: true });
    expect(await byToken.decide(request(bearer('tok-a1')))).to.include({ reason: 'rate_limited' });
    expect(await byToken.decide(request(bearer('tok-carl')))).to.include({ allow: true }); // no token id: hash of the credential
    expect(await byToken.decide(request(bearer('tok-carl')))).to.include({ reason: 'rate_limited' });

    const byIp = kit({ rateLimit: { enabled: true, limit: 1, key: 'ip' } }, [people]).pipeline;
    expect(await byIp.decide(request({ clientIp: '192.0.2.1', ...bearer('tok-a1') }))).to.include({ allow: true });
    expect(await byIp.decide(request({ clientIp: '192.0.2.1', ...bearer('tok-carl') }))).to.include({ reason: 'rate_limited' });
    expect(await byIp.decide(request({ clientIp: '2001:db8::1', ...bearer('tok-carl') }))).to.include({ allow: true });
  });

  it('key: token counts each provider token without a token id on its own, and anonymous callers by address', async () => {
    const { pipeline } = kit({ rateLimit: { enabled: true, limit: 1, key: 'token' }, paths: { public: ['/pub'] } }, [people]);
    expect(await pipeline.decide(request(bearer('tok-carl')))).to.include({ allow: true });
    expect(await pipeline.decide(request(bearer('tok-bob'))), 'another token from the same address').to.include({ allow: true });
    expect(await pipeline.decide(request(bearer('tok-bob')))).to.include({ reason: 'rate_limited' });
    expect(await pipeline.decide(request({ path: '/pub' }))).to.include({ allow: true, reason: 'anonymous' });
    expect(await pipeline.decide(request({ path: '/pub' }))).to.include({ reason: 'rate_limited' });
  });

  it('never keys on the raw secret', async () => {
    const seen: string[] = [];
    const clock = new ManualClock(T0);
    const local = new LocalRateLimiter(clock);
    const spy = { consume: (key: string, p: { limit: number; windowMs: number }) => (seen.push(key), local.consume(key, p)) };
    const { pipeline } = kit({ rateLimit: { enabled: true, key: 'token' } }, [people], { clock, limiter: spy });
    await pipeline.decide(request(bearer('tok-carl')));
    await pipeline.decide(request(bearer('tok-a1')));
    expect(seen).to.have.length(2);
    expect(seen.join(' ')).not.to.include('tok-');
    expect(seen[1]).to.equal('g|t:idp:tid-1');
  });

  it('counts anonymous callers by address', async () => {
    const { pipeline } = kit({ rateLimit: { enabled: true, limit: 1 }, paths: { public: ['/pub'] } }, [people]);
    expect(await pipeline.decide(request({ path: '/pub' }))).to.include({ allow: true });
    expect(await pipeline.decide(request({ path: '/pub' }))).to.include({ reason: 'rate_limited' });
    expect(await pipeline.decide(request({ path: '/pub', clientIp: '192.0.2.99' }))).to.include({ allow: true });
  });

  it('exempts users, groups and addresses', async () => {
    const { pipeline } = kit(
      { rateLimit: { enabled: true, limit: 1, exempt: { users: ['carl'], groups: ['bots'], ips: ['10.0.0.0/8', '2001:db8::/32'] } } },
      [people],
    );
    for (let i = 0; i < 3; i++) {
      expect(await pipeline.decide(request(bearer('tok-carl')))).to.include({ allow: true });
      expect(await pipeline.decide(request(bearer('tok-bob')))).to.include({ allow: true });
      expect(await pipeline.decide(request({ clientIp: '10.1.1.1', ...bearer('tok-a1') }))).to.include({ allow: true });
      expect(await pipeline.decide(request({ clientIp: '2001:db8::5', ...bearer('tok-a2') }))).to.include({ allow: true });
    }
    // Only the listed addresses: another one, or one that does not parse, is counted.
    for (const [clientIp, token] of [['192.0.2.1', 'tok-a1'], ['unix-socket', 'tok-a2']] as const) {
      const fresh = kit({ rateLimit: { enabled: true, limit: 1, key: 'ip', exempt: { ips: ['10.0.0.0/8'] } } }, [people]).pipeline;
      expect(await fresh.decide(request({ clientIp, ...bearer(token) })), clientIp).to.include({ allow: true });
      expect(await fresh.decide(request({ clientIp, ...bearer(token) })), clientIp).to.include({ reason: 'rate_limited' });
    }
    const exempt = await pipeline.decide(request(bearer('tok-carl')));
    expect(exempt.headers).to.equal(undefined);
    expect(exempt.trace.find((t) => t.stage === 'rate_limit')?.detail).to.equal('exempt');
  });

  it('per-route overrides: own limit and counters (even with the global limit off), or none at all', async () => {
    const clock = new ManualClock(T0);
    const { pipeline } = kit(
      {
        rateLimit: { enabled: true, limit: 2 },
        routes: [
          { name: 'search', path: '/search', rateLimit: { limit: 1, windowSeconds: 10 } },
          { name: 'bulk', path: '/bulk', rateLimit: false },
        ],
      },
      [people],
      { clock },
    );
    const at = (path: string) => pipeline.decide(request({ path, ...bearer('tok-carl') }));
    const first = await at('/search');
    expect(first.headers?.['ratelimit-policy']).to.equal('"search";q=1;w=10');
    expect(first.headers?.ratelimit).to.equal('"search";r=0;t=10');
    expect(first.trace.find((t) => t.stage === 'rate_limit')?.detail).to.equal('remaining=0');
    expect(await at('/search')).to.include({ reason: 'rate_limited' });
    clock.advance(5_000); // half the route's window: still counted
    expect(await at('/search')).to.include({ reason: 'rate_limited' });
    expect(await at('/other')).to.include({ allow: true });
    expect(await at('/other')).to.include({ allow: true });
    expect(await at('/other')).to.include({ reason: 'rate_limited' });
    for (let i = 0; i < 5; i++) expect(await at('/bulk')).to.include({ allow: true });
    expect((await at('/bulk')).trace.find((t) => t.stage === 'rate_limit')?.detail).to.equal('route not limited');
    clock.advance(10_000);
    expect(await at('/search')).to.include({ allow: true });

    const off = kit({ routes: [{ name: 'r', path: '/r', rateLimit: { limit: 1 } }] }, [people]).pipeline;
    expect(await off.decide(request({ path: '/r', ...bearer('tok-carl') }))).to.include({ allow: true });
    expect(await off.decide(request({ path: '/r', ...bearer('tok-carl') }))).to.include({ reason: 'rate_limited' });
    expect((await off.decide(request({ path: '/x', ...bearer('tok-carl') }))).headers).to.equal(undefined);

    // Each route counts on its own.
    const two = kit({ routes: [{ name: 'r1', path: '/r1', rateLimit: { limit: 1 } }, { name: 'r2', path: '/r2', rateLimit: { limit: 1 } }] }, [people]).pipeline;
    expect(await two.decide(request({ path: '/r1', ...bearer('tok-carl') }))).to.include({ allow: true });
    expect(await two.decide(request({ path: '/r2', ...bearer('tok-carl') }))).to.include({ allow: true });
    expect(await two.decide(request({ path: '/r2', ...bearer('tok-carl') }))).to.include({ reason: 'rate_limited' });
  });

  // A change can no longer give two routes one name; settings stored before that rule still can.
  it('a route of stored settings counts under its own limit and window even where another route has the same name', async () => {
    const { pipeline } = kit(
      {
        routes: [
          { name: 'api', path: '/a', rateLimit: { limit: 1, windowSeconds: 10 } },
          { name: 'api', path: '/b', rateLimit: { limit: 5, windowSeconds: 10 } },
          { name: 'api', path: '/c', rateLimit: { limit: 5, windowSeconds: 60 } },
        ],
      },
      [people],
      { clock: new ManualClock(T0), stored: true },
    );
    const policyAt = async (path: string, token: string) => (await pipeline.decide(request({ path, ...bearer(token) }))).headers?.['ratelimit-policy'];
    // Each differs from the one before in one part only: the limit, then the window.
    expect(await policyAt('/a', 'tok-a1')).to.equal('"api";q=1;w=10');
    expect(await policyAt('/b', 'tok-carl')).to.equal('"api";q=5;w=10');
    expect(await policyAt('/c', 'tok-bob')).to.equal('"api";q=5;w=60');
  });

  it('a shared limiter that answers in a promise (Redis) gives the same verdicts and headers', async () => {
    const clock = new ManualClock(T0 + 15_000);
    const local = new LocalRateLimiter(clock);
    const shared = { consume: (key: string, p: { limit: number; windowMs: number }) => Promise.resolve(local.consume(key, p)) };
    const { pipeline } = kit({ rateLimit: { enabled: true, limit: 1, windowSeconds: 60 } }, [people], { clock, limiter: shared });
    const first = await pipeline.decide(request(bearer('tok-a1')));
    expect(first).to.include({ allow: true, reason: 'authenticated' });
    expect(first.headers).to.include({ ratelimit: '"default";r=0;t=45', 'x-ratelimit-limit': '1' });
    const second = await pipeline.decide(request(bearer('tok-a1')));
    expect(second).to.include({ allow: false, status: 429, reason: 'rate_limited', stage: 'rate_limit' });
    expect(second.headers).to.include({ 'retry-after': '45' });
  });

  it('LocalRateLimiter forgets idle keys once their window has passed', () => {
    const clock = new ManualClock(T0);
    const limiter = new LocalRateLimiter(clock);
    for (let i = 0; i < 50; i++) limiter.consume(`k${i}`, { limit: 5, windowMs: 1000 });
    expect(limiter.size).to.equal(50);
    clock.advance(61_000);
    limiter.consume('fresh', { limit: 5, windowMs: 1000 });
    expect(limiter.size).to.equal(1);
  });
});

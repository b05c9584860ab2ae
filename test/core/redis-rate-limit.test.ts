// Rate limits shared through Redis (the real server at 127.0.0.1:6379): one count across nodes, per-node counting while Redis is away, and back.
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

import { expect } from 'chai';
import { Redis } from 'ioredis';

import { systemClock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { RateLimitResult } from '../../core/rate-limit.js';
import { RedisRateLimiter } from '../../core/redis-rate-limit.js';
import { eventually } from '../support/eventually.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../support/redis.js';

/** A TCP relay in front of Redis that can be switched off (every connection cut and refused) and on again. */
async function redisRelay(): Promise<{ url: string; down(): void; up(): void; close(): Promise<void> }> {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<Socket>();
  let isDown = false;
  const server: Server = createServer((client) => {
    if (isDown) return void client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    down: () => {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up: () => {
      isDown = false;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function recordingLogger(): { logger: Logger; warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const text = (a: unknown, b?: string): string => (typeof a === 'string' ? a : (b ?? ''));
  const logger: Logger = {
    ...silentLogger,
    warn: (a: unknown, b?: string) => void warnings.push(text(a, b)),
    info: (a: unknown, b?: string) => void infos.push(text(a, b)),
    child: () => logger,
  } as Logger;
  return { logger, warnings, infos };
}

/** Per window (they are told apart by resetAt): the count admitted is the limit, or all there were when fewer. */
function expectExactlyLimitPerWindow(results: readonly RateLimitResult[], limit: number): void {
  const windows = new Map<number, RateLimitResult[]>();
  for (const r of results) windows.set(r.resetAt, [...(windows.get(r.resetAt) ?? []), r]);
  for (const inWindow of windows.values()) {
    expect(inWindow.filter((r) => r.allowed)).to.have.length(Math.min(limit, inWindow.length));
  }
}

const DAY_MS = 86_400_000;

describe('core/redis-rate-limit', function () {
  this.timeout(30_000);
  requireRedis();
  let prefix: string;
  let limiters: RedisRateLimiter[];

  beforeEach(() => {
    prefix = testKeyPrefix();
    limiters = [];
  });
  afterEach(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    await dropKeys(prefix);
  });

  async function limiter(url = TEST_REDIS_URL, logger: Logger = silentLogger): Promise<RedisRateLimiter> {
    const made = new RedisRateLimiter({ url, keyPrefix: prefix, clock: systemClock, logger });
    limiters.push(made);
    expect(await made.whenConnected(10_000), 'connected to Redis').to.equal(true);
    return made;
  }

  it('three nodes share one count: a limit of 10 admits 10 across them, not 30', async () => {
    const nodes = [await limiter(), await limiter(), await limiter()];
    const policy = { limit: 10, windowMs: 60_000 };
    const results = await Promise.all(Array.from({ length: 45 }, (_, i) => nodes[i % 3]!.consume('ip:10.0.0.1', policy)));
    expectExactlyLimitPerWindow(results, 10);
    expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0 && r.limit === 10)).to.equal(true);
    for (const r of results) expect(r.resetAt % 60_000).to.equal(0);
    expect(nodes.every((n) => n.state === 'redis' && n.localCounts === 0)).to.equal(true);
  });

  it('keeps keys and windows apart, counts down remaining, and lets the key expire with its window', async () => {
    const node = await limiter();
    const a = await node.consume('a', { limit: 3, windowMs: 3_600_000 });
    const b = await node.consume('b', { limit: 3, windowMs: 3_600_000 });
    const a2 = await node.consume('a', { limit: 3, windowMs: 3_600_000 });
    expect([a.remaining, b.remaining, a2.remaining]).to.deep.equal([2, 2, 1]);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const ttl = await redis.pttl(`${prefix}rl:a`);
      expect(ttl).to.be.greaterThan(0).and.at.most(3_600_000);
    } finally {
      redis.disconnect();
    }
  });

  it('Redis away: counts per node (never unlimited, never refusing all), warns once, says so in status; back when Redis returns', async () => {
    const relay = await redisRelay();
    try {
      const log = recordingLogger();
      const node = await limiter(relay.url, log.logger);
      const policy = { limit: 3, windowMs: 3_600_000 };
      expect((await node.consume('k', policy)).allowed).to.equal(true);
      expect(node.state).to.equal('redis');

      relay.down();
      await eventually(() => node.state === 'local_fallback', { within: 10_000, what: 'the limiter notices Redis is gone' });
      const local = await Promise.all(Array.from({ length: 5 }, () => node.consume('k', policy)));
      expect(local.map((r) => r.allowed)).to.deep.equal([true, true, true, false, false]);
      expect(node.localCounts).to.equal(5);
      expect(node.fallbacks).to.equal(1);
      expect(log.warnings.filter((w) => /counted per node/.test(w))).to.have.length(1);
      expect(node.status()).to.deep.include({ ready: true, degraded: true });
      expect(node.status().detail).to.match(/counted per node/);
      // Known to be away: answered at once, without a round trip to wait for.
      expect(node.consume('other', policy)).not.to.be.instanceOf(Promise);

      relay.up();
      await eventually(() => node.state === 'redis', { within: 15_000, what: 'the limiter is back on Redis' });
      expect(node.status()).to.deep.equal({ ready: true, detail: 'rate limits shared through Redis' });
      expect(log.infos.filter((i) => /shared through Redis/.test(i)).length).to.be.at.least(2);
      const counted = await node.consume('k', policy);
      expect(counted.allowed).to.equal(true);
      expect(counted.remaining).to.equal(1); // the count kept in Redis before the outage: 1, now 2
    } finally {
      await relay.close();
    }
  });

  describe('leases (take and giveBack, the cluster primary\'s asks)', () => {
    // Windows of a day: a test that runs across a window's end would see its counts start over.
    const daily = { limit: 100, windowMs: DAY_MS };
    /** The count Redis holds for `key`, read straight from its hash. */
    async function stored(key: string): Promise<number> {
      const redis = new Redis(TEST_REDIS_URL);
      try {
        return Number((await redis.hget(`${prefix}rl:${key}`, 'c')) ?? 0);
      } finally {
        redis.disconnect();
      }
    }

    it('takes a share of what is left, or what is wanted when more, and shares one count with consume', async () => {
      const node = await limiter();
      const first = await node.take('k', daily, 1, 4);
      expect(first).to.deep.include({ granted: 25, remaining: 75 });
      expect(first.resetAt % daily.windowMs).to.equal(0);
      expect(await node.consume('k', daily)).to.deep.include({ allowed: true, remaining: 74 });
      expect(await node.take('k', daily, 30, 4)).to.deep.include({ granted: 30, remaining: 44 });
      expect(await node.take('k', daily, 1, 1)).to.deep.include({ granted: 44, remaining: 0 });
      expect(await node.take('k', daily, 5, 4)).to.deep.include({ granted: 0, remaining: 0 });
      expect(await node.consume('k', daily)).to.deep.include({ allowed: false, remaining: 0 });
      expect(await stored('k')).to.equal(100);
      expect(node.localCounts).to.equal(0);
    });

    it('two nodes taking at once lease exactly the limit between them, never more', async () => {
      const nodes = [await limiter(), await limiter()];
      const policy = { limit: 50, windowMs: DAY_MS };
      const grants = await Promise.all(Array.from({ length: 40 }, (_, i) => nodes[i % 2]!.take('k', policy, 1 + (i % 3), 4)));
      const byWindow = new Map<number, number>();
      for (const g of grants) byWindow.set(g.resetAt, (byWindow.get(g.resetAt) ?? 0) + g.granted);
      for (const granted of byWindow.values()) expect(granted).to.equal(50);
      expect((await nodes[0]!.consume('k', policy)).allowed).to.equal(false);
    });

    it('counts given back are counted again, never more than were leased, and nothing once their window is over', async () => {
      const node = await limiter();
      const policy = { limit: 10, windowMs: DAY_MS };
      const grant = await node.take('k', policy, 10, 1);
      expect(grant.granted).to.equal(10);
      node.giveBack('k', grant.resetAt - policy.windowMs, 5); // an earlier window: nothing
      node.giveBack('k', grant.resetAt, 4);
      await eventually(async () => (await stored('k')) === 6, { within: 5000, what: 'Redis takes 4 counts back' });
      node.giveBack('k', grant.resetAt, 100); // only the 6 still leased go back
      await eventually(async () => (await stored('k')) === 0, { within: 5000, what: 'Redis takes the other 6 back' });
      node.giveBack('k', grant.resetAt, 3); // nothing is leased any more
      expect(await node.consume('k', policy)).to.deep.include({ allowed: true, remaining: 9 });
      expect(await stored('k')).to.equal(1);
    });

    it('while Redis is away, leases come from the per-node counts and go back there, never into Redis', async () => {
      const relay = await redisRelay();
      try {
        const node = await limiter(relay.url);
        const other = await limiter();
        const policy = { limit: 10, windowMs: DAY_MS };
        const fromRedis = await node.take('k', policy, 2, 5);
        expect(fromRedis.granted).to.equal(2);

        relay.down();
        await eventually(() => node.state === 'local_fallback', { within: 10_000, what: 'the limiter notices Redis is gone' });
        const fromNode = node.take('k', policy, 3, 5);
        expect(fromNode, 'answered at once from the per-node counts').not.to.be.instanceOf(Promise);
        expect(fromNode).to.deep.include({ granted: 3, remaining: 7 });
        expect(node.localCounts).to.equal(3);

        relay.up();
        await eventually(() => node.state === 'redis', { within: 15_000, what: 'the limiter is back on Redis' });
        for (let i = 0; i < 4; i++) expect((await other.consume('k', policy)).allowed).to.equal(true);
        expect(await stored('k')).to.equal(6); // 2 leased by `node`, 4 counted by `other`
        // 5 come back: 3 to the per-node counts they were taken from, 2 to Redis; Redis keeps `other`'s 4.
        node.giveBack('k', fromRedis.resetAt, 5);
        await eventually(async () => (await stored('k')) === 4, { within: 5000, what: 'Redis takes back the 2 it leased' });
        relay.down();
        await eventually(() => node.state === 'local_fallback', { within: 10_000, what: 'Redis gone again' });
        // The per-node counts have all 10 again: the 3 leased from them came back.
        const local = Array.from({ length: 11 }, () => node.consume('k', policy) as RateLimitResult);
        expect(local.filter((r) => r.allowed)).to.have.length(10);
      } finally {
        await relay.close();
      }
    });
  });

  it('Redis never reached: counts per node from the first request and warns', async () => {
    const relay = await redisRelay();
    relay.down();
    try {
      const log = recordingLogger();
      const node = new RedisRateLimiter({ url: relay.url, keyPrefix: prefix, clock: systemClock, logger: log.logger });
      limiters.push(node);
      await eventually(() => log.warnings.length > 0, { within: 10_000, what: 'a warning about Redis' });
      const results = [1, 2, 3].map(() => node.consume('k', { limit: 2, windowMs: 60_000 }) as RateLimitResult);
      expect(results.map((r) => r.allowed)).to.deep.equal([true, true, false]);
      expect(node.state).to.equal('local_fallback');
    } finally {
      await relay.close();
    }
  });
});

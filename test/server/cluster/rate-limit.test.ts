// The cluster's shared rate limit: workers take leases of the primary's one set of counts over a (faked, then real) IPC channel, and never admit more than the limit.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { ManualClock, systemClock } from '../../../core/clock.js';
import { LocalRateLimiter, type RateLimitPolicy, type RateLimitResult } from '../../../core/rate-limit.js';
import { silentLogger } from '../../../core/logger.js';
import { RedisRateLimiter } from '../../../core/redis-rate-limit.js';
import { ClusterRateLimiter, RateLimitUnavailableError, answerRateLimits } from '../../../server/cluster/rate-limit.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../../support/redis.js';

/** Two ends of an IPC channel: what one sends, the other receives (asynchronously, as over a pipe). */
function channelPair() {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const sent = { a: [] as unknown[], b: [] as unknown[] };
  const end = (self: EventEmitter, other: EventEmitter, log: unknown[]) => ({
    send: (message: unknown) => {
      log.push(message);
      const copy: unknown = JSON.parse(JSON.stringify(message));
      setImmediate(() => other.emit('message', copy));
      return true;
    },
    on: (event: 'message', listener: (message: unknown) => void) => self.on(event, listener),
    off: (event: 'message', listener: (message: unknown) => void) => self.off(event, listener),
  });
  return { worker: end(a, b, sent.a), primary: end(b, a, sent.b), sent };
}

describe('ClusterRateLimiter (leases of the primary\'s counts, over IPC)', () => {
  const policy = { limit: 10, windowMs: 60_000 };
  const clock = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 30));

  it('two workers share one count: exactly the limit is allowed across both', async () => {
    const counts = new LocalRateLimiter(clock);
    const one = channelPair();
    const two = channelPair();
    answerRateLimits(one.primary, counts);
    answerRateLimits(two.primary, counts);
    const workers = [new ClusterRateLimiter(one.worker), new ClusterRateLimiter(two.worker)];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => workers[i % 2]!.consume('ip:10.0.0.1', policy)));
    expect(results.filter((r) => r.allowed)).to.have.length(10);
    expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0 && r.limit === 10)).to.equal(true);
    expect(results[0]!.resetAt).to.equal(Date.UTC(2024, 0, 1, 0, 1, 0));
  });

  it('sends the lease requests of one event-loop turn as one message', async () => {
    const pair = channelPair();
    answerRateLimits(pair.primary, new LocalRateLimiter(clock));
    const limiter = new ClusterRateLimiter(pair.worker);
    await Promise.all(Array.from({ length: 25 }, (_, i) => limiter.consume(`k${i}`, policy)));
    expect(pair.sent.a).to.have.length(1);
    expect(pair.sent.b).to.have.length(1);
    expect(limiter.waiting).to.equal(0);
  });

  it('refuses with 503 rate_limit_unavailable once the channel to the primary is gone', async () => {
    const pair = channelPair();
    const limiter = new ClusterRateLimiter(pair.worker); // nobody answers
    const waiting = Promise.resolve(limiter.consume('k', policy));
    limiter.close();
    const err = await waiting.then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RateLimitUnavailableError);
    expect(err).to.include({ code: 'rate_limit_unavailable', status: 503 });
    const later = await Promise.resolve(limiter.consume('k', policy)).then(() => undefined, (e: unknown) => e);
    expect(later).to.be.instanceOf(RateLimitUnavailableError);
  });

  /** `n` workers (no idle-return timer: tests return idle leases by hand) sharing `counts` through the primary's end. */
  const workersOf = (n: number, counts: LocalRateLimiter, at: ManualClock) =>
    Array.from({ length: n }, () => {
      const pair = channelPair();
      answerRateLimits(pair.primary, counts, { workers: n });
      return new ClusterRateLimiter(pair.worker, { clock: at, timer: false });
    });

  /** Every worker runs `lanes` concurrent request loops on `key`; a loop stops at its first refusal. */
  const hammer = async (workers: readonly ClusterRateLimiter[], key: string, limits: RateLimitPolicy, lanes = 4) => {
    const results: RateLimitResult[] = [];
    const lane = async (worker: ClusterRateLimiter) => {
      for (;;) {
        const result = await worker.consume(key, limits);
        results.push(result);
        if (!result.allowed) return;
      }
    };
    await Promise.all(workers.flatMap((w) => Array.from({ length: lanes }, () => lane(w))));
    return results;
  };

  /** Lets messages queued on the faked channels arrive (each hop is one setImmediate). */
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it('all workers hammering one key admit exactly the limit per window, and a lease never outlives its window', async () => {
    const at = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 30));
    const counts = new LocalRateLimiter(at);
    const workers = workersOf(3, counts, at);
    const limits = { limit: 50, windowMs: 60_000 };
    const ends = [1, 2, 3].map((m) => Date.UTC(2024, 0, 1, 0, m, 0));

    // Window 1: five requests each, then the window ends with counts still leased out.
    for (const w of workers) for (let i = 0; i < 5; i++) expect((await w.consume('u:a', limits)).allowed).to.equal(true);
    expect(workers.reduce((n, w) => n + w.held('u:a'), 0)).to.be.greaterThan(0);

    for (const [i, end] of ends.slice(1).entries()) {
      at.set(ends[i]! + 1);
      const results = await hammer(workers, 'u:a', limits);
      const admitted = results.filter((r) => r.allowed);
      expect(admitted, `window ${i + 2}`).to.have.length(50);
      expect(admitted.every((r) => r.resetAt === end && r.remaining >= 0)).to.equal(true);
      const refused = results.filter((r) => !r.allowed);
      expect(refused).to.have.length(12);
      expect(refused.every((r) => r.resetAt === end && r.remaining === 0 && r.limit === 50)).to.equal(true);
      expect(workers.map((w) => w.held('u:a'))).to.deep.equal([0, 0, 0]);
    }
  });

  it('hands an idle lease back to the primary, where another worker can take it', async () => {
    const at = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 10));
    const counts = new LocalRateLimiter(at);
    const [a, b] = workersOf(2, counts, at) as [ClusterRateLimiter, ClusterRateLimiter];
    const limits = { limit: 20, windowMs: 60_000 };
    expect(await a.consume('u:a', limits)).to.deep.include({ allowed: true, remaining: 19 });
    expect(a.held('u:a')).to.equal(4); // ceil(20 / (2 × 2)) = 5 taken, one used

    at.advance(999);
    a.returnIdle();
    expect(a.held('u:a')).to.equal(4); // not idle long enough
    at.advance(1);
    a.returnIdle();
    expect(a.held('u:a')).to.equal(0);
    await turns(2);

    const results = await hammer([b], 'u:a', limits, 1);
    expect(results.filter((r) => r.allowed)).to.have.length(19);
    // A took a new lease for its next request: none is left, so it is refused until the window ends.
    expect(await a.consume('u:a', limits)).to.deep.equal({ allowed: false, limit: 20, remaining: 0, resetAt: Date.UTC(2024, 0, 1, 0, 1, 0) });
  });

  it('counts exactly while one worker is the only one asking: remaining goes down by one per request', async () => {
    const at = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 10));
    const [one] = workersOf(2, new LocalRateLimiter(at), at) as [ClusterRateLimiter];
    const limits = { limit: 600, windowMs: 60_000 };
    const remaining: number[] = [];
    for (let i = 0; i < 600; i++) remaining.push((await one.consume('u:a', limits)).remaining);
    expect(remaining).to.deep.equal(Array.from({ length: 600 }, (_, i) => 599 - i));
    expect(await one.consume('u:a', limits)).to.include({ allowed: false, remaining: 0 });
  });

  it('hands its leases back when a route\'s limit changes and when the worker stops', async () => {
    const at = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 10));
    const counts = new LocalRateLimiter(at);
    const [a, b] = workersOf(2, counts, at) as [ClusterRateLimiter, ClusterRateLimiter];
    expect((await a.consume('r:x|u:a', { limit: 40, windowMs: 60_000 })).allowed).to.equal(true);
    expect(a.held('r:x|u:a')).to.equal(9);
    // The same bucket under a new limit: the old lease goes back, the new one counts the window so far.
    expect(await a.consume('r:x|u:a', { limit: 12, windowMs: 60_000 })).to.include({ allowed: true, remaining: 10 });
    a.close();
    await turns(2);
    const results = await hammer([b], 'r:x|u:a', { limit: 12, windowMs: 60_000 }, 1);
    expect(results.filter((r) => r.allowed)).to.have.length(10);
  });

  describe('with the counts in Redis (the primary\'s limiter when `redis` is set)', function () {
    this.timeout(30_000);
    requireRedis();
    let prefix: string;
    const opened: RedisRateLimiter[] = [];
    const redisLimiter = async (): Promise<RedisRateLimiter> => {
      const made = new RedisRateLimiter({ url: TEST_REDIS_URL, keyPrefix: prefix, clock: systemClock, logger: silentLogger });
      opened.push(made);
      expect(await made.whenConnected(10_000), 'connected to Redis').to.equal(true);
      return made;
    };
    beforeEach(() => {
      prefix = testKeyPrefix();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((l) => l.close()));
      await dropKeys(prefix);
    });

    it('workers admit from leases taken in Redis, several requests a message, and with another node never more than the limit', async () => {
      const day = { limit: 40, windowMs: 86_400_000 };
      const primary = await redisLimiter();
      const otherNode = await redisLimiter();
      const one = channelPair();
      const two = channelPair();
      answerRateLimits(one.primary, primary, { workers: 2 });
      answerRateLimits(two.primary, primary, { workers: 2 });
      const workers = [new ClusterRateLimiter(one.worker, { timer: false }), new ClusterRateLimiter(two.worker, { timer: false })];
      const results: RateLimitResult[] = [];
      // One request at a time per worker: without leases, each would be a message to the primary.
      for (let i = 0; i < 20; i++) for (const w of workers) results.push(await w.consume('u:a', day));
      for (let i = 0; i < 20; i++) results.push(await otherNode.consume('u:a', day));
      const byWindow = new Map<number, number>();
      for (const r of results) if (r.allowed) byWindow.set(r.resetAt, (byWindow.get(r.resetAt) ?? 0) + 1);
      for (const admitted of byWindow.values()) expect(admitted).to.equal(40);
      const asked = [...one.sent.a, ...two.sent.a].length;
      expect(asked, 'lease requests for 40 worker requests').to.be.at.most(20);
      expect(primary.localCounts).to.equal(0);
      for (const w of workers) w.close();
    });
  });

  describe('in real worker processes', function () {
    this.timeout(60_000);
    const children: ChildProcess[] = [];
    after(() => {
      for (const child of children) child.kill('SIGKILL');
    });

    it('one key hammered from three forked workers: never more than the limit in a window, exactly the limit in a window all of them exhausted', async () => {
      const script = fileURLToPath(new URL('./lease-worker.js', import.meta.url));
      const counts = new LocalRateLimiter(systemClock);
      const go = { t: 'go', key: 'u:hammer', limit: 400, windowMs: 500, lanes: 4, windows: 2 };
      type Done = { t: 'done'; admitted: Record<string, number>; refusedIn: number[][] };
      const dones = await Promise.all(
        Array.from({ length: 3 }, () => {
          const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          children.push(child);
          answerRateLimits(child, counts, { workers: 3 });
          return {
            ready: new Promise<void>((resolve) => child.on('message', (m: { t?: string }) => m.t === 'ready' && resolve())),
            done: new Promise<Done>((resolve, reject) => {
              child.on('message', (m: { t?: string }) => m.t === 'done' && resolve(m as Done));
              child.once('exit', (code) => reject(new Error(`lease worker exited with ${code}`)));
            }),
            child,
          };
        }),
      ).then(async (started) => {
        await Promise.all(started.map((s) => s.ready));
        for (const s of started) s.child.send(go);
        return Promise.all(started.map((s) => s.done));
      });

      const admitted = new Map<number, number>();
      for (const d of dones) for (const [end, n] of Object.entries(d.admitted)) admitted.set(Number(end), (admitted.get(Number(end)) ?? 0) + n);
      for (const [end, n] of admitted) expect(n, `window ending ${end}`).to.be.at.most(400);
      const lanes = dones.flatMap((d) => d.refusedIn);
      expect(lanes).to.have.length(12);
      expect(lanes.every((windows) => windows.length === 2)).to.equal(true);
      // A window in which every lane was refused: every worker's lease was spent, so all of the limit was admitted.
      const exhausted = lanes.reduce((common, windows) => common.filter((end) => windows.includes(end)));
      expect(exhausted).to.not.be.empty;
      for (const end of exhausted) expect(admitted.get(end), `window ending ${end}`).to.equal(400);
    });
  });
});

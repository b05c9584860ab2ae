// Cost of the cluster's shared rate limit: a forked worker counting from leases of the primary's counts, taken over IPC (a child process of the bench).
// argv[2] picks the primary's counts: `local` (the default, serve --workers N alone), `redis=<url>` (with `redis` set:
// leases taken in Redis), or `redis-per-request=<url>` (Redis asked one count per request, as before leases over Redis).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { LocalRateLimiter, type RateLimiter } from '../core/rate-limit.js';
import { RedisRateLimiter } from '../core/redis-rate-limit.js';
import { answerRateLimits, ClusterRateLimiter } from '../server/cluster/rate-limit.js';

const SECONDS = Number(process.env.BENCH_IPC_SECONDS ?? 1.5);
const policy = { limit: 1_000_000_000, windowMs: 60_000 };

if (process.send) {
  // The worker side: count with 1 and with 32 in flight, as the gateway's concurrent requests do.
  const limiter = new ClusterRateLimiter({ send: (m) => process.send!(m), on: (e, l) => process.on(e, l) });
  const run = async (width: number) => {
    let n = 0;
    const end = performance.now() + SECONDS * 1000;
    const lane = async () => {
      while (performance.now() < end) {
        await limiter.consume(`u:bench:${n % 100}`, policy);
        n += 1;
      }
    };
    await Promise.all(Array.from({ length: width }, lane));
    return n / SECONDS;
  };
  await run(1);
  const one = await run(1);
  const many = await run(32);
  process.send({ t: 'result', one, many });
} else {
  const [mode, redisUrl] = (process.argv[2] ?? 'local').split('=');
  if (mode !== 'local' && mode !== 'redis' && mode !== 'redis-per-request') throw new TypeError(`unknown mode ${mode} (local, redis=<url>, redis-per-request=<url>)`);
  const counts = new LocalRateLimiter(systemClock);
  const redis = mode === 'local' ? undefined : new RedisRateLimiter({ url: redisUrl ?? '', keyPrefix: `portcullis-bench-${process.pid}:`, clock: systemClock, logger: silentLogger });
  if (redis && !(await redis.whenConnected(5000))) throw new Error(`Redis cannot be reached at ${redisUrl}`);
  // Without take, the primary asks Redis one count per waiting request.
  const primary: RateLimiter = !redis ? counts : mode === 'redis' ? redis : { consume: (key, limits) => redis.consume(key, limits) };
  const local = (() => {
    const start = performance.now();
    for (let i = 0; i < 1_000_000; i++) counts.consume(`u:bench:${i % 100}`, policy);
    return (performance.now() - start) * 1000 / 1_000_000;
  })();
  const child = fork(fileURLToPath(import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Leases sized as for `serve --workers 2`; with this limit a lease lasts the whole run, so this is the cost of a count between renewals.
  answerRateLimits(child, primary, { workers: 2 });
  child.on('message', (m: { t?: string; one?: number; many?: number }) => {
    if (m.t !== 'result') return;
    const out = {
      localMicros: Number(local.toFixed(3)),
      ipcSequentialPerSecond: Math.round(m.one ?? 0),
      ipcSequentialMicros: Number((1e6 / (m.one ?? 1)).toFixed(1)),
      ipc32InFlightPerSecond: Math.round(m.many ?? 0),
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    child.kill();
    void redis?.close();
  });
}

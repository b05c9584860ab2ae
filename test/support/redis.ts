// Redis for tests: each test writes under a key prefix of its own and deletes it; absent, suites skip (with a message), or fail under CI=true.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The test server: PORTCULLIS_TEST_REDIS, else the one scripts/services.sh makes sure of. */
export const TEST_REDIS_URL = process.env.PORTCULLIS_TEST_REDIS ?? 'redis://127.0.0.1:6379';

let reachable: Promise<string | undefined> | undefined;

/** undefined when the test server answers PING, else why not. Asked once per run. */
export function redisUnreachable(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new Redis(TEST_REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG' ? undefined : 'no PONG';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    } finally {
      client.disconnect();
    }
  })();
  return reachable;
}

/**
 * Call inside a describe: its tests skip, saying so on stderr, when Redis cannot be reached;
 * under CI=true they fail instead, since a skip in CI would hide missing coverage.
 */
export function requireRedis(): void {
  before(async function () {
    const why = await redisUnreachable();
    if (why === undefined) return;
    if (process.env.CI === 'true') throw new Error(`Redis is required under CI=true and cannot be reached at ${TEST_REDIS_URL}: ${why}`);
    process.stderr.write(`      skipped: Redis cannot be reached at ${TEST_REDIS_URL} (${why}); set PORTCULLIS_TEST_REDIS or run scripts/services.sh\n`);
    this.skip();
  });
}

/** A fresh key prefix, so tests (and parallel runs) never count into each other's windows. */
export function testKeyPrefix(): string {
  return `portcullis-test:${randomBytes(6).toString('hex')}:`;
}

/** Delete every key under `prefix`. */
export async function dropKeys(prefix: string): Promise<void> {
  const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

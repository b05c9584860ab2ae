// Many live gateway tokens in a SQLite store, appended directly (one POST /api/v1/tokens per token would take hours): for the memory measurements.
import { randomBytes, randomUUID } from 'node:crypto';
import { tokenStream, type TokenIssuedData } from '../../core/events.js';
import { SqliteEventStore } from '../../core/store/sqlite.js';
import { generateToken, hashToken } from '../../core/tokens/format.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SAMPLE_EVERY = 10_000;
const PROGRESS_EVERY = 10_000;

/**
 * The token `i` of the mix: user and service accounts, 20k owners, a third in groups, some
 * read-only, some limited to a path or to an address range, all valid for 90 days.
 */
function tokenData(i: number, id: string, hash: string, now: number): TokenIssuedData {
  return {
    id,
    hash,
    owner: `user${i % 20_000}@example.com`,
    name: `token ${i}`,
    kind: i % 10 === 0 ? 'service' : 'user',
    groups: i % 3 === 0 ? ['developers', 'jira-users'] : [],
    readOnly: i % 4 === 0,
    pathPrefixes: i % 5 === 0 ? ['/rest/api/2'] : [],
    ipAllow: i % 7 === 0 ? ['10.0.0.0/8'] : [],
    expiresAt: new Date(now + 90 * DAY_MS).toISOString(),
  };
}

/** A token the bench's full-path gateway lets through on any GET from loopback: in `developers`, no path or address limit. */
const passesBenchGateway = (i: number): boolean => i % 3 === 0 && i % 5 !== 0 && i % 7 !== 0;

/**
 * Append `count` TokenIssued events, as admins would have issued them, to the store at `file`
 * (created if absent), reporting progress on stderr. Returns a sample of the secrets, about one
 * per 10,000 tokens spread over the whole range, each one a token the bench gateway accepts.
 */
export async function seed(file: string, count: number): Promise<string[]> {
  const store = await SqliteEventStore.open(file);
  const sample: string[] = [];
  const started = Date.now();
  try {
    for (let i = 0; i < count; i++) {
      const token = generateToken();
      if (i >= sample.length * SAMPLE_EVERY && passesBenchGateway(i)) sample.push(token);
      const id = randomBytes(8).toString('hex');
      await store.append(tokenStream(id), [{ id: randomUUID(), type: 'TokenIssued', data: tokenData(i, id, hashToken(token), started), metadata: { actor: 'admin' } }], {
        expectedRevision: 'no_stream',
        durable: false,
      });
      if ((i + 1) % PROGRESS_EVERY === 0 || i + 1 === count) {
        process.stderr.write(`[seed] ${i + 1}/${count} gateway tokens in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }
  } finally {
    await store.close();
  }
  return sample;
}

// Many live gateway tokens in a SQLite store, inserted directly in large transactions (one POST /api/v1/tokens per token would take hours): for the memory measurements.
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { tokenStream, type TokenIssuedData } from '../../core/events.js';
import { timeOrderedId } from '../../core/ids.js';
import { hashCanonicalEvent, serializeEvent } from '../../core/store/hash.js';
import { prepareStatements } from '../../core/store/sqlite-schema.js';
import { SqliteEventStore } from '../../core/store/sqlite.js';
import { generateToken, hashToken } from '../../core/tokens/format.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SAMPLE_EVERY = 10_000;
const PROGRESS_EVERY = 100_000;
/** Events per transaction: one commit per batch instead of one per token. */
const BATCH = 20_000;
/** A token id is `randomBytes(8)` in hex (core/tokens/commands.ts); a hash is a sha256 (hashToken). */
const ID_BYTES = 8;
const HASH_BYTES = 32;

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
 *
 * The rows are the ones `SqliteEventStore.append` writes (its insert statement, the same hash
 * chain, revision 0 of a new stream each, time-ordered event ids as commands give them), but
 * `BATCH` of them per transaction and without an fsync per commit: a million tokens in about a
 * minute rather than an hour.
 */
export async function seed(file: string, count: number): Promise<string[]> {
  // Creates the file and its schema (or checks an existing one), as the gateway will open it.
  await (await SqliteEventStore.open(file)).close();
  const db = new Database(file);
  const sample: string[] = [];
  const started = Date.now();
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const sql = prepareStatements(db);
    const time = new Date(started).toISOString();
    let prevHash = sql.headHash.get()?.hash ?? '';
    const insert = db.transaction((from: number, to: number) => {
      // Ids and hashes from one random draw per batch. Only the sampled tokens are ever presented,
      // so only they are real secrets; the others' hashes are random bytes, as sha256 output is.
      const random = randomBytes((to - from) * (ID_BYTES + HASH_BYTES));
      for (let i = from; i < to; i++) {
        const at = (i - from) * (ID_BYTES + HASH_BYTES);
        const id = random.toString('hex', at, at + ID_BYTES);
        let hash = random.toString('hex', at + ID_BYTES, at + ID_BYTES + HASH_BYTES);
        if (i >= sample.length * SAMPLE_EVERY && passesBenchGateway(i)) {
          const token = generateToken();
          sample.push(token);
          hash = hashToken(token);
        }
        const stream = tokenStream(id);
        const e = serializeEvent({ id: timeOrderedId(), type: 'TokenIssued', data: tokenData(i, id, hash, started), metadata: { actor: 'admin' } });
        const chained = hashCanonicalEvent(prevHash, { id: e.id, type: e.type, stream, revision: 0, time }, e.data, e.metadata);
        sql.insert.run(e.id, stream, 0, e.type, time, e.data, e.metadata, prevHash, chained);
        prevHash = chained;
      }
    });
    for (let from = 0; from < count; from += BATCH) {
      const to = Math.min(count, from + BATCH);
      insert.immediate(from, to);
      if (Math.floor(to / PROGRESS_EVERY) > Math.floor(from / PROGRESS_EVERY) || to === count) {
        process.stderr.write(`[seed] ${to}/${count} gateway tokens in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return sample;
}

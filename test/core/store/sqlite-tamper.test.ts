// An attacker with write access to the SQLite file edits, inserts, reorders and deletes rows, or rewrites the whole chain: verify names where.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import { checkpointKey, parseSignedCheckpoint, signCheckpoint, type CheckpointKey, type SignedCheckpoint } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { readCheckpoints } from '../../../core/checkpoints/stored.js';
import { verifyHistory, type HistoryVerification } from '../../../core/checkpoints/verify-history.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { canonicalJson, hashCanonicalEvent, verifyChain } from '../../../core/store/hash.js';
import type { EventRow } from '../../../core/store/sqlite-schema.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { ev } from './contract.js';

/**
 * The history every test starts from (positions in brackets, cp = a ChainCheckpointSigned event):
 * a b c [1-3], cp→3 [4], d e f [5-7], cp→7 [8], g h i [9-11], cp→11 [12], j [13].
 */
async function writeHistory(file: string, key: CheckpointKey): Promise<SignedCheckpoint[]> {
  const store = SqliteEventStore.open(file);
  try {
    const signer = new CheckpointSigner(store, key, new ManualClock(Date.UTC(2024, 0, 1)), silentLogger, { everyEvents: 3, everySeconds: 3600 });
    const batches: [string, string[]][] = [['s-1', ['a', 'b', 'c']], ['s-2', ['d', 'e', 'f']], ['s-1', ['g', 'h', 'i']]];
    for (const [stream, ids] of batches) {
      await store.append(stream, ids.map((id) => ev(id)), { durable: false });
      expect(await signer.tick(), `a checkpoint after ${ids.join(' ')}`).to.not.equal(undefined);
    }
    await store.append('s-3', [ev('j')]);
    // What the operator exported and keeps elsewhere.
    return (await readCheckpoints(store, 0, 100)).checkpoints as SignedCheckpoint[];
  } finally {
    await store.close();
  }
}

/** Recompute prev_hash and hash of every row from `from` on, as an attacker covering an edit would. */
function rechain(db: Database.Database, from: number): void {
  let prev = db.prepare<[number], { hash: string }>('SELECT hash FROM events WHERE position < ? ORDER BY position DESC LIMIT 1').get(from)?.hash ?? '';
  const rows = db.prepare<[number], EventRow>('SELECT * FROM events WHERE position >= ? ORDER BY position').all(from);
  const update = db.prepare('UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?');
  for (const r of rows) {
    const hash = hashCanonicalEvent(prev, { id: r.id, type: r.type, stream: r.stream, revision: r.revision, time: r.time }, r.data, r.metadata);
    update.run(prev, hash, r.position);
    prev = hash;
  }
}

const hashAt = (db: Database.Database, position: number): string =>
  db.prepare<[number], { hash: string }>('SELECT hash FROM events WHERE position = ?').get(position)!.hash;

const forgedData = (db: Database.Database, position: number): void => {
  db.prepare('UPDATE events SET data = ? WHERE position = ?').run(canonicalJson({ n: 'forged' }), position);
};

describe('SQLite store under attack: verify', () => {
  let dir: string;
  let file: string;
  let key: CheckpointKey;
  let exported: SignedCheckpoint[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-tamper-'));
    file = join(dir, 'events.db');
    key = checkpointKey(generateKeyPairSync('ed25519').privateKey);
    exported = await writeHistory(file, key);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Change the file as an attacker would: better-sqlite3 on the file, no store in between. */
  function attack(change: (db: Database.Database) => void): void {
    const db = new Database(file);
    try {
      db.transaction(() => change(db))();
    } finally {
      db.close();
    }
  }

  async function verify(withExport = true): Promise<HistoryVerification> {
    const store = SqliteEventStore.open(file, { readonly: true });
    try {
      return await verifyHistory(store, withExport ? { exported } : {});
    } finally {
      await store.close();
    }
  }

  it('an untouched store verifies, against its own checkpoints and the exported ones', async () => {
    expect(exported.map((c) => [c.position, c.count])).to.deep.equal([['3', 3], ['7', 7], ['11', 11]]);
    const result = await verify();
    expect(result).to.deep.include({ ok: true, events: 13 });
    expect(result.checkpoints).to.deep.equal({ stored: 3, file: 3, matched: 6, keyIds: [key.keyId], anchoredThrough: '11' });
  });

  for (const [column, value] of [
    ['time', '2023-12-31T23:59:59.999Z'],
    ['data', '{"n":"forged"}'],
    ['metadata', '{"actor":"someone else"}'],
    ['type', 'Forged'],
    ['id', 'forged-id'],
    ['stream', 's-9'],
    ['revision', 7],
  ] as const) {
    it(`an edited ${column}: the chain breaks at that event`, async () => {
      attack((db) => db.prepare(`UPDATE events SET ${column} = ? WHERE position = 6`).run(value));
      expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '6', reason: 'hash does not match the event content' });
      // The hash chain alone sees it too.
      const store = SqliteEventStore.open(file, { readonly: true });
      expect(await verifyChain(store)).to.deep.include({ ok: false, position: '6', count: 6 });
      await store.close();
    });
  }

  it('an inserted event chained to its predecessor: the chain breaks at the event after it', async () => {
    attack((db) => {
      // Make room at 6 (two steps, so no position is ever taken twice), then insert a well-formed forged event there.
      db.prepare('UPDATE events SET position = position + 1000 WHERE position >= 6').run();
      db.prepare('UPDATE events SET position = position - 999 WHERE position >= 1006').run();
      const prev = hashAt(db, 5);
      const forged = { id: 'forged', type: 'Tested', stream: 's-2', revision: 9, time: '2024-01-01T00:00:00.000Z' };
      const data = canonicalJson({ n: 'forged' });
      const hash = hashCanonicalEvent(prev, forged, data, '{}');
      db.prepare('INSERT INTO events (position, id, stream, revision, type, time, data, metadata, prev_hash, hash) VALUES (6, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(forged.id, forged.stream, forged.revision, forged.type, forged.time, data, '{}', prev, hash);
    });
    expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '7', reason: 'prevHash does not match the previous event' });
  });

  it('an inserted event with a made-up hash: the chain breaks at the inserted event', async () => {
    attack((db) => {
      db.prepare('UPDATE events SET position = position + 1000 WHERE position >= 6').run();
      db.prepare('UPDATE events SET position = position - 999 WHERE position >= 1006').run();
      db.prepare("INSERT INTO events (position, id, stream, revision, type, time, data, metadata, prev_hash, hash) VALUES (6, 'x', 's-2', 9, 'Tested', '2024-01-01T00:00:00.000Z', '{}', '{}', ?, ?)")
        .run(hashAt(db, 5), 'f'.repeat(64));
    });
    expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '6', reason: 'hash does not match the event content' });
  });

  it('two events swapped: the chain breaks at the first of them', async () => {
    attack((db) => {
      db.prepare('UPDATE events SET position = 1000 WHERE position = 5').run();
      db.prepare('UPDATE events SET position = 5 WHERE position = 6').run();
      db.prepare('UPDATE events SET position = 6 WHERE position = 1000').run();
    });
    expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '5', reason: 'prevHash does not match the previous event' });
  });

  it('a deleted event: the chain breaks at the event after it', async () => {
    attack((db) => db.prepare('DELETE FROM events WHERE position = 6').run());
    expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '7', reason: 'prevHash does not match the previous event' });
  });

  it('the first event deleted: the chain breaks at the new first event', async () => {
    attack((db) => db.prepare('DELETE FROM events WHERE position = 1').run());
    expect((await verify()).problem).to.deep.equal({ kind: 'chain', position: '2', reason: 'first event does not start the chain' });
  });

  it('events cut from the end: only the exported checkpoints notice, naming the one that is gone', async () => {
    attack((db) => db.prepare('DELETE FROM events WHERE position >= 10').run());
    // The stored checkpoints that remain (→3, →7) still match: a cut tail took its checkpoints with it.
    expect(await verify(false)).to.deep.include({ ok: true, events: 9 });
    const result = await verify();
    expect(result.ok).to.equal(false);
    expect(result.problem).to.deep.equal({ kind: 'checkpoint_mismatch', source: { kind: 'file', entry: 3 }, checkpoint: exported[2], since: '7' });
  });

  describe('the whole chain rewritten consistently (every hash recomputed after an edit)', () => {
    it('the stored checkpoints, which the attacker cannot re-sign, no longer match', async () => {
      attack((db) => {
        forgedData(db, 6);
        rechain(db, 6);
      });
      const stored = await verify(false);
      expect(stored.ok).to.equal(false);
      const problem = stored.problem!;
      expect(problem).to.deep.include({ kind: 'checkpoint_mismatch', source: { kind: 'stored', eventPosition: '8' }, since: '3' });
      expect(problem.kind === 'checkpoint_mismatch' && problem.checkpoint.position).to.equal('7');
      expect(problem.kind === 'checkpoint_mismatch' && problem.found?.hash).to.not.equal(exported[1]?.hash);
    });

    it('stored checkpoints edited to the new hashes: their signatures fail', async () => {
      attack((db) => {
        forgedData(db, 6);
        rechain(db, 6);
        for (const position of [8, 12]) {
          const row = db.prepare<[number], { data: string }>('SELECT data FROM events WHERE position = ?').get(position)!;
          const checkpoint = parseSignedCheckpoint(JSON.parse(row.data))!;
          const data = canonicalJson({ ...checkpoint, hash: hashAt(db, Number(checkpoint.position)) });
          db.prepare('UPDATE events SET data = ? WHERE position = ?').run(data, position);
          rechain(db, position);
        }
      });
      expect((await verify(false)).problem).to.deep.equal({
        kind: 'bad_signature',
        source: { kind: 'stored', eventPosition: '8' },
        reason: 'the signature of a stored checkpoint does not verify',
      });
    });

    it('stored checkpoints deleted too: the exported checkpoints name the first that no longer matches', async () => {
      attack((db) => {
        forgedData(db, 6);
        db.prepare("DELETE FROM events WHERE type = 'ChainCheckpointSigned'").run();
        rechain(db, 1);
      });
      expect(await verify(false)).to.deep.include({ ok: true, events: 10 });
      const result = await verify();
      expect(result.problem).to.deep.include({ kind: 'checkpoint_mismatch', source: { kind: 'file', entry: 2 }, checkpoint: exported[1], since: '3' });
    });

    it('stored checkpoints re-signed with a key of the attacker: the store alone looks intact, the exported checkpoints do not match', async () => {
      const attacker = checkpointKey(generateKeyPairSync('ed25519').privateKey);
      attack((db) => {
        forgedData(db, 6);
        rechain(db, 6);
        for (const position of [4, 8, 12]) {
          const row = db.prepare<[number], { data: string }>('SELECT data FROM events WHERE position = ?').get(position)!;
          const { keyId: _k, algorithm: _a, publicKey: _p, signature: _s, ...statement } = parseSignedCheckpoint(JSON.parse(row.data))!;
          const resigned = signCheckpoint({ ...statement, hash: hashAt(db, Number(statement.position)) }, attacker);
          db.prepare('UPDATE events SET data = ? WHERE position = ?').run(canonicalJson(resigned), position);
          rechain(db, position);
        }
      });
      const alone = await verify(false);
      expect(alone.ok).to.equal(true);
      expect(alone.checkpoints.keyIds, 'the key id changed: the only sign without an export').to.deep.equal([attacker.keyId]);
      const result = await verify();
      expect(result.problem).to.deep.include({ kind: 'checkpoint_mismatch', source: { kind: 'file', entry: 2 }, since: '3' });
    });
  });
});

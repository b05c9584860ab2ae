// `portcullis checkpoints export` and `portcullis verify [--checkpoints <file>] [--json]` on a real SQLite file: exit 0 intact, 1 broken, 2 a file it cannot use.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import { checkpointKey, type SignedCheckpoint } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { readCheckpoints } from '../../../core/checkpoints/stored.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { canonicalJson, hashCanonicalEvent } from '../../../core/store/hash.js';
import type { EventRow } from '../../../core/store/sqlite-schema.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';

interface Result {
  status: number | 'running';
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCommandLine(PORTCULLIS, argv, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  return { status, stdout: out.join(''), stderr: err.join('') };
}

const key = checkpointKey(generateKeyPairSync('ed25519').privateKey);

describe('portcullis checkpoints export, and verify against the export', () => {
  let dir: string;
  let config: string;
  let file: string;
  let stored: readonly SignedCheckpoint[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-checkpoints-cli-'));
    file = join(dir, 'data', 'portcullis.db');
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${file}\nlogLevel: error\n`);
    // a b c, checkpoint→3, d e f, checkpoint→7, g
    const store = SqliteEventStore.open(file);
    const signer = new CheckpointSigner(store, key, new ManualClock(Date.UTC(2024, 0, 1)), silentLogger, { everyEvents: 3, everySeconds: 3600 });
    for (const ids of [['a', 'b', 'c'], ['d', 'e', 'f']]) {
      await store.append('s-1', ids.map((id) => ({ id, type: 'Tested', data: { id } })));
      await signer.tick();
    }
    await store.append('s-1', [{ id: 'g', type: 'Tested', data: {} }]);
    stored = (await readCheckpoints(store, 0, 10)).checkpoints;
    await store.close();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Edit event 6 and recompute every hash after it, as an attacker with the file would. */
  function rewriteConsistently(): void {
    const db = new Database(file);
    db.prepare('UPDATE events SET data = ? WHERE position = 6').run(canonicalJson({ id: 'forged' }));
    let prev = db.prepare<[], { hash: string }>('SELECT hash FROM events WHERE position = 5').get()!.hash;
    for (const r of db.prepare<[], EventRow>('SELECT * FROM events WHERE position >= 6 ORDER BY position').all()) {
      const hash = hashCanonicalEvent(prev, { id: r.id, type: r.type, stream: r.stream, revision: r.revision, time: r.time }, r.data, r.metadata);
      db.prepare('UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?').run(prev, hash, r.position);
      prev = hash;
    }
    db.close();
  }

  it('export writes one signed checkpoint a line to stdout, oldest first; --json the admin API document', async () => {
    const lines = await cli('checkpoints', 'export', '--config', config);
    expect(lines.status, lines.stderr).to.equal(0);
    expect(lines.stderr).to.equal('');
    expect(lines.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown)).to.deep.equal(stored);
    const json = await cli('checkpoints', 'export', '--json', '--config', config);
    expect(JSON.parse(json.stdout)).to.deep.equal({ checkpoints: stored });
  });

  it('export --output writes a 0600 file and says what it wrote on stderr', async () => {
    const out = join(dir, 'elsewhere.ndjson');
    const result = await cli('checkpoints', 'export', '--output', out, '--config', config);
    expect(result).to.deep.include({ status: 0, stdout: '' });
    expect(result.stderr).to.equal(`exported 2 checkpoints, the last at position 7, to ${out}\n`);
    expect(statSync(out).mode & 0o777).to.equal(0o600);
    expect(readFileSync(out, 'utf8').trimEnd().split('\n')).to.have.length(2);
  });

  it('export and verify on a store that does not exist: exit 1 naming it, nothing created', async () => {
    await writeFile(config, `store: sqlite:${join(dir, 'nowhere', 'x.db')}\n`);
    for (const argv of [['checkpoints', 'export'], ['verify']]) {
      const result = await cli(...argv, '--config', config);
      expect(result.status, argv.join(' ')).to.equal(1);
      expect(result.stderr).to.contain(join(dir, 'nowhere', 'x.db'));
    }
    expect(existsSync(join(dir, 'nowhere'))).to.equal(false);
  });

  it('verify --checkpoints: an intact store matches the export, in either form (exit 0)', async () => {
    const ndjson = join(dir, 'cp.ndjson');
    const document = join(dir, 'cp.json');
    await cli('checkpoints', 'export', '--output', ndjson, '--config', config);
    await cli('checkpoints', 'export', '--json', '--output', document, '--config', config);
    for (const exported of [ndjson, document]) {
      const result = await cli('verify', '--checkpoints', exported, '--config', config);
      expect(result, exported).to.deep.equal({
        status: 0,
        stderr: '',
        stdout: [
          'hash chain intact: 9 events checked',
          `signed checkpoints: 2 in the store (key ${key.keyId}), signatures valid, all match, the last at position 7`,
          `exported checkpoints: 2 in ${exported}, all match the store`,
          '',
        ].join('\n'),
      });
    }
  });

  it('verify after a consistent rewrite: exit 1 naming the checkpoint that no longer matches, stored or exported', async () => {
    const exported = join(dir, 'cp.ndjson');
    await cli('checkpoints', 'export', '--output', exported, '--config', config);
    rewriteConsistently();
    const alone = await cli('verify', '--config', config);
    expect(alone.status).to.equal(1);
    expect(alone.stdout).to.match(/^history does NOT MATCH the stored checkpoint at position 8, which anchors position 7 \(signed 2024-01-01T00:00:00\.000Z by key [\w-]+\): the event there has hash [0-9a-f]{64}, the checkpoint says [0-9a-f]{64}; the history was changed after position 3 and at or before 7\n$/);
    const withExport = await cli('verify', '--checkpoints', exported, '--json', '--config', config);
    expect(withExport.status).to.equal(1);
    const result = JSON.parse(withExport.stdout) as { ok: boolean; problem: { kind: string; source: unknown; since: string; checkpoint: unknown } };
    expect(result.ok).to.equal(false);
    // The stored checkpoint and the exported one name the same position: the first in the walk is reported.
    expect(result.problem).to.deep.include({ kind: 'checkpoint_mismatch', since: '3', checkpoint: stored[1] });
  });

  it('verify after an edit: exit 1 naming the first bad position, in text and JSON', async () => {
    const db = new Database(file);
    db.prepare("UPDATE events SET time = '2020-01-01T00:00:00.000Z' WHERE position = 2").run();
    db.close();
    const text = await cli('verify', '--config', config);
    expect(text).to.deep.include({ status: 1, stdout: 'hash chain BROKEN at position 2 (event 2; the 1 before it check out): hash does not match the event content\n' });
    const json = await cli('verify', '--json', '--config', config);
    expect(JSON.parse(json.stdout)).to.deep.include({ ok: false, events: 2, problem: { kind: 'chain', position: '2', reason: 'hash does not match the event content' } });
  });

  it('verify --checkpoints with a file it cannot use: exit 2, one line naming the file; an altered entry: exit 1', async () => {
    const missing = join(dir, 'missing.ndjson');
    const garbage = join(dir, 'garbage.ndjson');
    writeFileSync(garbage, `${JSON.stringify(stored[0])}\nnot json\n`);
    const notCheckpoint = join(dir, 'other.json');
    writeFileSync(notCheckpoint, '{"checkpoints":[{"position":"1"}]}');
    for (const [path, says] of [[missing, 'no such file'], [garbage, 'line 2 is not JSON'], [notCheckpoint, 'checkpoints[0] is not a signed checkpoint']] as const) {
      const result = await cli('verify', '--checkpoints', path, '--config', config);
      expect(result.status, path).to.equal(2);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.match(/^portcullis: [^\n]+\n$/).and.contain(path).and.contain(says);
    }
    const altered = join(dir, 'altered.ndjson');
    writeFileSync(altered, `${JSON.stringify({ ...stored[0], count: 2 })}\n`);
    const result = await cli('verify', '--checkpoints', altered, '--config', config);
    expect(result.status).to.equal(1);
    expect(result.stdout).to.equal(`the exported checkpoint 1 of ${altered} does not verify (the signature does not verify): that file cannot vouch for the store\n`);
  });

  it('verify reports progress on stderr through a long history', async () => {
    const store = SqliteEventStore.open(file);
    await store.append('bulk', Array.from({ length: 20_000 }, (_, i) => ({ id: `b${i}`, type: 'Tested', data: { i } })), { durable: false });
    await store.close();
    const result = await cli('verify', '--config', config);
    expect(result.status).to.equal(0);
    expect(result.stderr).to.equal('verified 10000 events...\nverified 20000 events...\n');
  });
});

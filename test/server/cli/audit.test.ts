// `portcullis audit query|export|stats`: the audit views from a SQLite store opened read-only, as tables and as JSON; bad options exit 2.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { sealedBlock } from '../../fixtures/decisions.js';
import { at, DECISIONS, OLD } from '../admin/audit-kit.js';

interface Result {
  status: number | 'running';
  stdout: string;
  stderr: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const DAY = ['--from', '2026-01-05T00:00:00Z', '--to', '2026-01-06T00:00:00Z'];

describe('portcullis audit', () => {
  let dir: string;
  let config: string;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-audit-'));
    file = join(dir, 'portcullis.db');
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${file}\nlogLevel: error\n`);
    const store = SqliteEventStore.open(file);
    try {
      await store.decisions.appendBlocks([sealedBlock('old', [OLD])]);
      await store.decisions.appendBlocks([sealedBlock('first', DECISIONS.slice(0, 3)), sealedBlock('second', DECISIONS.slice(3))]);
    } finally {
      await store.close();
    }
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function audit(...argv: string[]): Promise<Result> {
    const out: string[] = [];
    const err: string[] = [];
    const status = await runCommandLine(PORTCULLIS, ['audit', ...argv, '--config', config], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    return { status, stdout: out.join(''), stderr: err.join('') };
  }
  const ids = (r: Result): string[] => {
    expect(r.status, r.stderr).to.equal(0);
    return (JSON.parse(r.stdout) as { decisions: { requestId: string }[] }).decisions.map((d) => d.requestId);
  };

  it('query --json lists a range newest first, filtered, in the admin API’s shape', async () => {
    expect(ids(await audit('query', ...DAY, '--json'))).to.deep.equal(['x2', 'b2', 'a2', 'x1', 'b1', 'a1']);
    expect(ids(await audit('query', '--from', '2026-01-03T00:00:00Z', '--to', '2026-01-04T00:00:00Z', '--json'))).to.deep.equal(['old']);
    expect(ids(await audit('query', ...DAY, '--user', 'ann', '--json'))).to.deep.equal(['a2', 'a1']);
    expect(ids(await audit('query', ...DAY, '--ip', '10.1.0.0/16', '--decision', 'allow', '--json'))).to.deep.equal(['b2', 'b1']);
  });

  it('query pages with --limit and the --cursor each page prints', async () => {
    const first = await audit('query', ...DAY, '--limit', '4', '--json');
    expect(ids(first)).to.deep.equal(['x2', 'b2', 'a2', 'x1']);
    const next = (JSON.parse(first.stdout) as { next: string }).next;
    expect(ids(await audit('query', ...DAY, '--limit', '4', '--cursor', next, '--json'))).to.deep.equal(['b1', 'a1']);
    const table = await audit('query', ...DAY, '--limit', '4');
    expect(table.status).to.equal(0);
    expect(table.stdout.split('\n')[0]).to.match(/^TIME\s+DECISION\s+STATUS\s+METHOD\s+PATH\s+USER\s+CLIENT IP\s+REASON$/);
    expect(table.stdout).to.include(`more: --cursor ${next}\n`);
    expect((await audit('query', ...DAY, '--user', 'nobody')).stdout).to.equal('no decisions\n');
  });

  it('export writes CSV or NDJSON to stdout or a file (mode 0600)', async () => {
    const csv = await audit('export', ...DAY, '--format', 'csv', '--decision', 'deny');
    expect(csv.status, csv.stderr).to.equal(0);
    const lines = csv.stdout.split('\r\n');
    expect(lines[0]).to.match(/^time,requestId,/);
    expect(lines).to.have.length(5);
    const out = join(dir, 'ann.ndjson');
    const nd = await audit('export', ...DAY, '--user', 'ann', '--output', out);
    expect(nd).to.deep.equal({ status: 0, stdout: '', stderr: '' });
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { requestId: string; time: string });
    expect(rows.map((r) => [r.requestId, r.time])).to.deep.equal([['a2', iso(at(10))], ['a1', iso(at(9))]]);
    expect((await stat(out)).mode & 0o777).to.equal(0o600);
  });

  it('stats counts per bucket and lists the top reasons, callers and paths', async () => {
    const json = await audit('stats', '--from', iso(at(9)), '--to', iso(at(12)), '--bucket', '1h', '--json');
    expect(json.status, json.stderr).to.equal(0);
    const stats = JSON.parse(json.stdout) as { total: unknown; buckets: unknown[]; topCallers: unknown[] };
    expect(stats.total).to.deep.equal({ allow: 3, deny: 3 });
    expect(stats.buckets).to.have.length(3);
    expect(stats.topCallers).to.deep.equal([{ username: 'ann', count: 2 }, { username: 'bob', count: 2 }]);
    const text = await audit('stats', '--from', iso(at(9)), '--to', iso(at(12)), '--bucket', '1h');
    expect(text.status).to.equal(0);
    expect(text.stdout).to.include('3 allowed, 3 denied').and.include('TOP DENIAL REASON').and.include('unauthenticated');
  });

  it('refuses bad options with exit 2 and one line naming the option', async () => {
    const cases: [string[], string][] = [
      [['query', '--from', 'yesterday'], '--from'],
      [['query', '--decision', 'maybe'], '--decision'],
      [['query', '--ip', '10.0.0.0/33'], '--ip'],
      [['query', '--status', '999'], '--status'],
      [['query', '--limit', '0'], '--limit'],
      [['query', '--cursor', 'nope!'], '--cursor'],
      [['export', '--format', 'xml'], '--format'],
      [['stats', '--bucket', '1x'], '--bucket'],
      [['stats', '--user', 'ann'], '--user'],
    ];
    for (const [argv, option] of cases) {
      const r = await audit(...argv);
      expect(r.status, argv.join(' ')).to.equal(2);
      expect(r.stdout).to.equal('');
      expect(r.stderr, argv.join(' ')).to.match(/^portcullis: .*\n$/).and.include(option);
    }
  });

  it('never creates a store: a missing one fails with exit 1', async () => {
    const missing = join(dir, 'none.db');
    const other = join(dir, 'other.yaml');
    await writeFile(other, `store: sqlite:${missing}\nlogLevel: error\n`);
    const r = { out: [] as string[], err: [] as string[] };
    const status = await runCommandLine(PORTCULLIS, ['audit', 'query', '--config', other], { out: (t) => void r.out.push(t), err: (t) => void r.err.push(t) });
    expect(status).to.equal(1);
    expect(existsSync(missing)).to.equal(false);
  });
});

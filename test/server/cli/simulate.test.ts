// `portcullis simulate`: recorded decisions from a SQLite store re-run through a candidate file; text, --json, exit codes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const T0 = Date.UTC(2026, 0, 5, 9);

describe('portcullis simulate', () => {
  let dir: string;
  let config: string;

  /** Ten allowed decisions: even ones from 198.51.100.7 (ann), odd ones from 192.0.2.9 (bo), one a second. */
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-simulate-'));
    const file = join(dir, 'portcullis.db');
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${file}\nlogLevel: error\n`);
    const store = SqliteEventStore.open(file, { clock: new ManualClock(T0) });
    const decisions = Array.from({ length: 10 }, (_, i) =>
      sampleDecision({
        time: T0 + i * 1000,
        requestId: `req-${i}`,
        clientIp: i % 2 ? '192.0.2.9' : '198.51.100.7',
        peerIp: i % 2 ? '192.0.2.9' : '198.51.100.7',
        ...(i % 2 ? { identity: { subject: 's-bo', username: 'bo', provider: 'corp', groups: [] } } : {}),
      }),
    );
    await store.decisions.appendBlocks([sealedBlock('b1', decisions)]);
    await store.close();
    await writeFile(join(dir, 'same.yaml'), '{}\n');
    await writeFile(join(dir, 'deny.yaml'), 'ip:\n  deny: [198.51.100.7]\n');
    await writeFile(join(dir, 'apply-format.yaml'), 'settings:\n  ip:\n    deny: [198.51.100.7]\n');
    await writeFile(join(dir, 'bad.yaml'), 'ip:\n  deny: [not-an-address]\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function cli(...argv: string[]): Promise<{ status: number | 'running'; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const status = await runCommandLine(PORTCULLIS, ['simulate', '--config', config, ...argv], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    return { status, stdout: out.join(''), stderr: err.join('') };
  }
  const range = ['--from', '2026-01-05T09:00:00Z', '--to', '2026-01-05T10:00:00Z'];

  it('identical settings: nothing changed, exit 0', async () => {
    const result = await cli('--settings', join(dir, 'same.yaml'), ...range, '--json');
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.include({ decisions: 10, changed: 0 });
  });

  it('an IP deny list turns that address’s allows into denies (bare settings and the apply format alike)', async () => {
    for (const file of ['deny.yaml', 'apply-format.yaml']) {
      const result = await cli('--settings', join(dir, file), ...range, '--json');
      expect(result.status, result.stderr).to.equal(0);
      const answer = JSON.parse(result.stdout);
      expect(answer.transitions).to.deep.equal([{ from: 'allow/authenticated', to: 'deny/ip_not_allowed', count: 5 }]);
      expect(answer.samples.map((s: { requestId: string }) => s.requestId)).to.deep.equal(['req-0', 'req-2', 'req-4', 'req-6', 'req-8']);
    }
    const text = await cli('--settings', join(dir, 'deny.yaml'), ...range);
    expect(text.status).to.equal(0);
    expect(text.stdout).to.contain('allow/authenticated → deny/ip_not_allowed: 5');
  });

  it('reads only the range asked for', async () => {
    const result = await cli('--settings', join(dir, 'deny.yaml'), '--from', '2026-01-05T09:00:02Z', '--to', '2026-01-05T09:00:04Z', '--json');
    expect(JSON.parse(result.stdout)).to.include({ decisions: 2, changed: 1 });
  });

  it('exit 2 on usage errors, 1 on a candidate that is not valid settings or cannot be read', async () => {
    expect((await cli(...range)).status).to.equal(2);
    expect((await cli('--settings', join(dir, 'same.yaml'), '--from', '2026-01-05T09:00:00', '--to', '2026-01-05T10:00:00Z')).status).to.equal(2);
    expect((await cli('--settings', join(dir, 'same.yaml'), '--from', '2026-01-05T10:00:00Z', '--to', '2026-01-05T09:00:00Z')).status).to.equal(2);
    const bad = await cli('--settings', join(dir, 'bad.yaml'), ...range);
    expect(bad.status).to.equal(1);
    expect(bad.stdout).to.equal('');
    expect(bad.stderr).to.match(/ip\.deny/);
    const missing = await cli('--settings', join(dir, 'nope.yaml'), ...range);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).not.to.match(/^\s+at /m);
  });
});

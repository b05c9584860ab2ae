// `portcullis audit prune`: applies audit.retention from the store's settings once; --dry-run changes nothing; verify passes afterwards.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { RETENTION_STREAM } from '../../../core/retention/record.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const DAY = 86_400_000;

describe('portcullis audit prune', () => {
  let dir: string;
  let file: string;
  let config: string;

  /** Blocks 5 and 4 days ago and yesterday, then a settings change; `retention` set in the settings when given. */
  async function history(retention?: unknown): Promise<void> {
    const store = SqliteEventStore.open(file);
    try {
      const now = Date.now();
      for (const [i, ago] of [5, 4, 1].entries()) {
        await store.decisions.appendBlocks([sealedBlock(`b${i}`, [sampleDecision({ time: now - ago * DAY, requestId: `r${i}` })])]);
      }
      await store.append('settings', [{ id: 'c1', type: 'SettingsChanged', data: { patch: retention === undefined ? { enabled: true } : { audit: { retention } } } }]);
    } finally {
      await store.close();
    }
  }

  async function cli(...argv: string[]): Promise<{ status: number | 'running'; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const status = await runCommandLine(PORTCULLIS, [...argv, '--config', config], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    return { status, stdout: out.join(''), stderr: err.join('') };
  }

  async function streams(): Promise<string[]> {
    const store = SqliteEventStore.open(file, { readonly: true });
    try {
      return (await store.readAll()).map((e) => e.stream);
    } finally {
      await store.close();
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-prune-'));
    file = join(dir, 'portcullis.db');
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${file}\nlogLevel: error\n`);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('--dry-run --json names what would go and changes nothing', async () => {
    await history({ maxDays: 3 });
    const before = await streams();
    const result = await cli('audit', 'prune', '--dry-run', '--json');
    expect(result.status, result.stderr).to.equal(0);
    const answer = JSON.parse(result.stdout);
    expect(answer).to.deep.include({ dryRun: true, retention: { maxDays: 3, maxEntries: false }, decisions: 3, keptDecisions: 1 });
    expect(answer.wouldDrop.map((p: { stream: string; rule: string }) => p.rule)).to.deep.equal(['maxDays', 'maxDays']);
    expect(await streams()).to.deep.equal(before);
  });

  it('drops the days past maxDays, records it, and verify still passes; a second run drops nothing', async () => {
    await history({ maxDays: 3 });
    const result = await cli('audit', 'prune', '--json');
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout).dropped).to.have.length(2);
    const left = await streams();
    expect(left.filter((s) => s.startsWith('access-'))).to.have.length(1);
    expect(left.filter((s) => s === RETENTION_STREAM)).to.have.length(2);
    const verify = await cli('verify');
    expect(verify.status, verify.stdout).to.equal(0);
    const again = await cli('audit', 'prune');
    expect(again.status).to.equal(0);
    expect(again.stdout).to.contain('nothing to drop');
  });

  it('with no limit set, keeps everything', async () => {
    await history();
    const result = await cli('audit', 'prune');
    expect(result.status).to.equal(0);
    expect(result.stdout).to.contain('sets no limit');
    expect((await streams()).filter((s) => s.startsWith('access-'))).to.have.length(3);
  });

  it('refuses an argument or an unknown option (exit 2)', async () => {
    await history();
    expect((await cli('audit', 'prune', 'now')).status).to.equal(2);
    expect((await cli('audit', 'prune', '--force')).status).to.equal(2);
  });
});

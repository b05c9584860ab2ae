// `portcullis store migrate`: a SQLite history copied into PostgreSQL with its chain intact, `verify` passing there; refusals and usage errors.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import type { RecordedEvent } from '../../../core/store/port.js';
import { PostgresEventStore } from '../../../core/store/postgres.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { ev } from '../../core/store/contract.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { dropSchema, requirePostgres, storeUrl, testSchema } from '../../core/store/postgres-fixture.js';

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

/** Everything but the position, which is each store's own. */
const content = (events: readonly RecordedEvent[]) => events.map(({ position: _position, ...rest }) => rest);

describe('portcullis store migrate', () => {
  let dir = '';
  let file = '';
  let schema = '';
  let target = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-migrate-'));
    file = join(dir, 'portcullis.db');
    schema = testSchema();
    target = storeUrl(schema);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('usage', () => {
    it('exits 2 without --from or --to, with a --to that cannot take a history, or a URL no adapter reads', async () => {
      for (const argv of [
        ['--to', 'postgres://db/x'],
        ['--from', `sqlite:${file}`],
        ['--from', `sqlite:${file}`, '--to', `sqlite:${join(dir, 'other.db')}`],
        ['--from', `sqlite:${file}`, '--to', `sqlite:${file}`],
        ['--from', 'mysql://root:s3cret@db/x', '--to', 'postgres://127.0.0.1:1/x'],
      ]) {
        const result = await cli('store', 'migrate', ...argv);
        expect(result.status, argv.join(' ')).to.equal(2);
        expect(result.stderr).to.match(/^portcullis: [^\n]+\n$/).and.not.include('s3cret');
      }
    });
  });

  describe('against PostgreSQL', () => {
    requirePostgres();

    afterEach(async () => {
      await dropSchema(schema);
    });

    /** A source with config and access streams, and a deleted tail stream, so its positions have a gap. */
    async function source(): Promise<RecordedEvent[]> {
      const store = SqliteEventStore.open(file);
      try {
        await store.append('settings', [ev('s1', { enabled: true }), ev('s2', { rateLimit: { limit: 100 } })], { expectedRevision: 'no_stream' });
        await store.append('provider-okta', [{ id: 'p1', type: 'ProviderConfigured', data: { kind: 'oidc', issuer: 'https://id.example' }, metadata: { actor: 'admin', sourceIp: '192.0.2.1' } }]);
        await store.append('access-2024-01-01', Array.from({ length: 30 }, (_, i) => ev(`a${i}`, { status: 200, path: `/x/${i}` }, 'AccessDecided')), { durable: false });
        // Decision blocks: their decisions live beside the chain and must travel with their events.
        await store.decisions.appendBlocks([
          sealedBlock('block-1', [sampleDecision(), sampleDecision({ allow: false, status: 403, reason: 'ip_not_allowed', identity: undefined })]),
          sealedBlock('block-2', Array.from({ length: 50 }, (_, i) => sampleDecision({ path: `/rest/${i}`, time: Date.UTC(2026, 0, 5, 9, 0, i) }))),
        ]);
        await store.append('tmp-1', [ev('gone')]);
        await store.deleteStream('tmp-1');
        await store.append('tokens-1', [ev('t1', { owner: 'ünïcode ✓' }, 'TokenIssued')]);
        return await store.readAll();
      } finally {
        await store.close();
      }
    }

    it('copies every event with its chain, and verify passes on the target', async () => {
      const events = await source();
      const result = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target, '--json');
      expect(result.status, result.stderr).to.equal(0);
      const summary = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(summary).to.deep.include({ copied: events.length, kept: 0, events: events.length, head: events.at(-1)?.hash, verified: true });
      expect(result.stderr).to.include(`copied ${events.length} events`);

      const copy = await PostgresEventStore.open(target);
      try {
        const copied = await copy.readAll();
        expect(content(copied)).to.deep.equal(content(events));
        expect(copied.map((e) => e.position), 'positions are the target\'s own: the gap is gone').to.not.deep.equal(events.map((e) => e.position));
        const decisions = (await copy.decisions.read()).map((d) => d.decision);
        expect(decisions).to.have.length(52);
        expect(decisions[1]).to.deep.include({ allow: false, reason: 'ip_not_allowed' });
        expect(decisions[51]?.path).to.equal('/rest/49');
        // Appends continue the copied streams and the copied chain.
        expect((await copy.append('settings', [ev('s3')], { expectedRevision: 1 })).nextRevision).to.equal(2);
      } finally {
        await copy.close();
      }
      const config = join(dir, 'portcullis.yaml');
      await writeFile(config, `store: ${target}\nlogLevel: error\n`);
      const verified = await cli('verify', '--config', config);
      expect(verified.status).to.equal(0);
      expect(verified.stdout.split('\n')[0]).to.equal(`hash chain intact: ${events.length + 1} events checked`);
    });

    it('refuses a target that holds events, and copies nothing', async () => {
      await source();
      const other = await PostgresEventStore.open(target);
      await other.append('elsewhere', [ev('x')]);
      await other.close();
      const result = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target);
      expect(result.status).to.equal(1);
      expect(result.stdout).to.equal('');
      expect(result.stderr).to.include('already holds events').and.include('--resume');
      const check = await PostgresEventStore.open(target);
      expect((await check.readAll()).map((e) => e.id)).to.deep.equal(['x']);
      await check.close();
      // --resume does not help when the target's history is another one.
      expect((await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target, '--resume')).status).to.equal(1);
    });

    it('--resume continues an interrupted copy of the same history', async () => {
      const events = await source();
      const copy = await PostgresEventStore.open(target);
      await copy.importRecorded(events.slice(0, 10));
      await copy.close();
      const result = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target, '--resume', '--json');
      expect(result.status, result.stderr).to.equal(0);
      expect(JSON.parse(result.stdout)).to.deep.include({ copied: events.length - 10, kept: 10, events: events.length, verified: true });
      const again = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target, '--resume');
      expect(again.status).to.equal(0);
      expect(again.stdout).to.include('copied 0 events');
    });

    it('refuses a source whose chain is broken, naming where', async () => {
      const events = await source();
      const edited = events[5]!;
      const raw = new Database(file);
      raw.prepare('UPDATE events SET data = ? WHERE id = ?').run('{"forged":true}', edited.id);
      raw.close();
      const result = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', target);
      expect(result.status).to.equal(1);
      expect(result.stderr).to.match(new RegExp(`^portcullis: store migrate: at source position ${edited.position}: `));
      expect(result.stdout).to.equal('');
    });

    it('names an unreachable target by host, never by password (exit 1)', async () => {
      await source();
      const result = await cli('store', 'migrate', '--from', `sqlite:${file}`, '--to', 'postgres://postgres:s3cret@127.0.0.1:1/test');
      expect(result.status).to.equal(1);
      expect(result.stderr).to.include('127.0.0.1:1/test').and.not.include('s3cret');
    });
  });
});

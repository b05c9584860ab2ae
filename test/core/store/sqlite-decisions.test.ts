// The decision log in the SQLite file: what verify catches when rows are edited behind its back, whole blocks or none, old stores, size.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import type { DecisionRecord } from '../../../core/decision-log/record.js';
import { verifyChain } from '../../../core/store/hash.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const decisions = (prefix: string, n: number): DecisionRecord[] =>
  Array.from({ length: n }, (_, i) =>
    sampleDecision({
      requestId: `${prefix}-${i}`,
      time: Date.UTC(2026, 0, 5, 9) + i,
      identity: { subject: `sub-${i % 3}`, username: ['ann', 'bob', 'cy'][i % 3]!, provider: 'corp', groups: ['dev'] },
    }),
  );

describe('SqliteEventStore: the decision log on disk', () => {
  let dir: string;
  let file: string;
  const opened: SqliteEventStore[] = [];
  const open = (options?: Parameters<typeof SqliteEventStore.open>[1]): SqliteEventStore => {
    const store = SqliteEventStore.open(file, options);
    opened.push(store);
    return store;
  };
  /** Change the file behind the store's back, then verify with a fresh connection (as `portcullis verify` does). */
  const tamper = async (sql: string, ...params: unknown[]) => {
    const raw = new Database(file);
    raw.prepare(sql).run(...params);
    raw.close();
    return verifyChain(open({ readonly: true }));
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-dlog-'));
    file = join(dir, 'events.db');
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('verify', () => {
    let block: string;
    beforeEach(async () => {
      const store = open();
      await store.append('settings', [{ id: 'c1', type: 'SettingsChanged', data: {} }]);
      block = (await store.decisions.appendBlocks([sealedBlock('b1', decisions('a', 5))])).position;
      await store.decisions.appendBlocks([sealedBlock('b2', decisions('b', 5))]);
      expect(await verifyChain(store)).to.deep.include({ ok: true, count: 3 });
    });
    const broken = (reason: string) => ({ ok: false, count: 2, position: block, reason });

    it('names the block whose decision was edited', async () => {
      expect(await tamper("UPDATE decisions SET path = '/forged' WHERE address = ? * 4096 + 2", Number(block))).to.deep.equal(
        broken('the block’s decisions do not match its digest'),
      );
    });

    it('names the block whose decision was edited into a row no writer makes', async () => {
      const result = await tamper('UPDATE decisions SET username = NULL WHERE address = ? * 4096 + 1', Number(block));
      expect(result).to.deep.include({ ok: false, count: 2, position: block });
      expect((result as { reason: string }).reason).to.match(/^the block’s decisions cannot be read: /);
    });

    it('catches a renamed interned string', async () => {
      expect(await tamper("UPDATE decision_strings SET text = 'mallory' WHERE text = 'ann'")).to.deep.equal(broken('the block’s decisions do not match its digest'));
    });

    it('catches a deleted decision and one slipped into a block', async () => {
      expect(await tamper('DELETE FROM decisions WHERE address = ? * 4096 + 4', Number(block))).to.deep.equal(broken('the block holds 4 decisions, its event 5'));
      expect(
        await tamper('INSERT INTO decisions SELECT address + 10, time, username, token, provider, allow, status, reason, method, path, client_ip, detail FROM decisions WHERE address = ? * 4096', Number(block)),
      ).to.deep.equal(broken('the block’s decisions are not numbered from 0 without gaps'));
    });
  });

  it('leaves no half-written block: a failure at the third row stores no event and no decision, and the store goes on', async () => {
    const store = open();
    const raw = new Database(file);
    raw.exec("CREATE TRIGGER fail_third BEFORE INSERT ON decisions WHEN NEW.address % 4096 = 2 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END");
    raw.close();
    await store.decisions.appendBlocks([sealedBlock('b1', decisions('a', 5))]).then(
      () => expect.fail('the block was stored'),
      (err: unknown) => expect(String(err)).to.include('disk trouble'),
    );
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM decisions) + (SELECT count(*) FROM decision_blocks) AS n').get()).to.deep.equal({ n: 0 });
    check.close();
    const drop = new Database(file);
    drop.exec('DROP TRIGGER fail_third');
    drop.close();
    await store.decisions.appendBlocks([sealedBlock('b1', decisions('a', 5))]);
    expect((await store.decisions.read()).map((s) => s.decision.requestId)).to.deep.equal(['a-0', 'a-1', 'a-2', 'a-3', 'a-4']);
    expect(await verifyChain(store)).to.deep.include({ ok: true, count: 1 });
  });

  it('reads a store from before the decision log (schema 1) read-only, and upgrades it when opened for writing', async () => {
    const old = new Database(file);
    old.exec(`
      CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, stream TEXT NOT NULL, revision INTEGER NOT NULL,
        type TEXT NOT NULL, time TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (stream, revision));
      CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL, state TEXT NOT NULL);
      PRAGMA user_version = 1;`);
    old.close();
    const writer0 = open();
    await writer0.append('access-2024-03-05', [{ id: 'r1', type: 'AccessDecided', data: { requestId: 'r1' } }]);
    await writer0.close();
    // Back to schema 1, as an older build left it, with its AccessDecided event.
    const downgrade = new Database(file);
    downgrade.exec('DROP TABLE decisions; DROP TABLE decision_strings; DROP TABLE decision_blocks; PRAGMA user_version = 1;');
    downgrade.close();

    const reader = open({ readonly: true });
    expect((await reader.readAll()).map((e) => e.type)).to.deep.equal(['AccessDecided']);
    expect(await reader.decisions.read()).to.deep.equal([]);
    expect(await verifyChain(reader)).to.deep.include({ ok: true, count: 1 });
    await reader.close();

    const writer = open();
    await writer.decisions.appendBlocks([sealedBlock('b1', decisions('n', 2))]);
    expect((await writer.readAll()).map((e) => e.type)).to.deep.equal(['AccessDecided', 'AccessDecisionsRecorded']);
    expect(await verifyChain(writer)).to.deep.include({ ok: true, count: 2 });
    const version = new Database(file, { readonly: true });
    expect(version.pragma('user_version', { simple: true })).to.equal(2);
    version.close();
  });

  it('keeps a day of decisions under 200 bytes each on disk, indexes included', async () => {
    const store = open();
    await store.append('settings', [{ id: 'c1', type: 'SettingsChanged', data: {} }]);
    const size = () => {
      const raw = new Database(file);
      raw.pragma('wal_checkpoint(TRUNCATE)');
      const bytes = (raw.pragma('page_count', { simple: true }) as number) * (raw.pragma('page_size', { simple: true }) as number);
      raw.close();
      return bytes;
    };
    const before = size();
    const total = 20_480;
    for (let b = 0; b < total / 4096; b++) {
      const block = Array.from({ length: 4096 }, (_, k) => {
        const i = b * 4096 + k;
        const user = i % 300;
        return sampleDecision({
          time: Date.UTC(2026, 0, 5, 9) + i * 4,
          requestId: `0194f0a0-${(i % 65536).toString(16).padStart(4, '0')}-7abc-8def-${i.toString(16).padStart(12, '0')}`,
          path: `/rest/api/2/issue/PROJ-${(i * 31) % 20_000}`,
          clientIp: `10.${(i >> 8) & 3}.${i & 255}.${(i * 13) & 255}`,
          peerIp: '127.0.0.1',
          identity: { subject: `00u${user.toString(36).padStart(8, '0')}`, username: `user${user}@example.com`, provider: user % 3 ? 'corp' : 'gateway', groups: ['jira-users'], ...(user % 3 ? {} : { tokenId: `gt_${user}` }) },
          trace: ['master_switch', 'paths', 'ip', 'authenticate', 'token_scopes', 'groups', 'read_only', 'routes', 'rate_limit'].map((stage) => ({ stage, outcome: 'pass' as const })),
        });
      });
      await store.decisions.appendBlocks([sealedBlock(`b${b}`, block)]);
    }
    const perDecision = (size() - before) / total;
    expect(perDecision, `${perDecision.toFixed(1)} bytes per decision`).to.be.below(200);
  });
});

// After retention dropped days from a SQLite file, an attacker edits or deletes other rows: verify still names where.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { expect } from 'chai';

import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { applyRetention } from '../../../core/retention/apply.js';
import { retentionBridge } from '../../../core/retention/bridge.js';
import { RETENTION_STREAM } from '../../../core/retention/record.js';
import { canonicalJson } from '../../../core/store/hash.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const DAY = 86_400_000;
const JAN5 = Date.UTC(2026, 0, 5, 9);

describe('SQLite store after retention, under attack: verify', () => {
  let dir: string;
  let file: string;

  /** settings c1 [1], Jan 5 block [2], settings c2 [3], Jan 6 block [4], settings c3 [5]; then maxDays 1 on Jan 7 drops both days ([6], [7] record it). */
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-retention-'));
    file = join(dir, 'events.db');
    const store = SqliteEventStore.open(file);
    try {
      const setting = (id: string) => ({ id, type: 'SettingsChanged', data: { patch: { enabled: true } } });
      await store.append('settings', [setting('c1')]);
      await store.decisions.appendBlocks([sealedBlock('b1', [sampleDecision({ time: JAN5 })])]);
      await store.append('settings', [setting('c2')]);
      await store.decisions.appendBlocks([sealedBlock('b2', [sampleDecision({ time: JAN5 + DAY })])]);
      await store.append('settings', [setting('c3')]);
      const result = await applyRetention(store, { maxDays: 1, maxEntries: false }, JAN5 + 2 * DAY);
      expect(result.dropped).to.have.length(2);
    } finally {
      await store.close();
    }
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function attack(sql: string, ...params: unknown[]): void {
    const db = new Database(file);
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  }

  async function verify(): Promise<Awaited<ReturnType<typeof verifyHistory>>> {
    const store = SqliteEventStore.open(file, { readonly: true });
    try {
      return await verifyHistory(store, { acceptGap: await retentionBridge(store) });
    } finally {
      await store.close();
    }
  }

  it('the store as retention left it verifies', async () => {
    expect(await verify()).to.deep.include({ ok: true, events: 5 });
  });

  for (const [what, sql, params, position] of [
    ['an edited event next to a hole', 'UPDATE events SET data = ? WHERE position = ?', [canonicalJson({ patch: { enabled: false } }), 3], '3'],
    ['an edited RetentionApplied event', `UPDATE events SET data = json_set(data, '$.events', 9) WHERE stream = '${RETENTION_STREAM}' AND position = ?`, [6], '6'],
    ['a deleted event between two holes', 'DELETE FROM events WHERE position = ?', [3], '5'],
    ['a deleted first event, before a hole', 'DELETE FROM events WHERE position = ?', [1], '3'],
    ['a deleted RetentionApplied event: the hole it named is a break again', 'DELETE FROM events WHERE position = ?', [6], '3'],
  ] as const) {
    it(`names the first bad position for ${what}`, async () => {
      attack(sql, ...params);
      const result = await verify();
      expect(result.ok).to.equal(false);
      expect(result.problem).to.deep.include({ kind: 'chain', position });
    });
  }
});

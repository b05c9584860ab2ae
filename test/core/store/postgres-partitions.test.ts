// The PostgreSQL decision log's day partitions: created as days come, dropped whole by retention, an unpartitioned table migrated with its rows.
import { expect } from 'chai';

import { applyRetention } from '../../../core/retention/apply.js';
import { verifyChain } from '../../../core/store/hash.js';
import { PostgresEventStore } from '../../../core/store/postgres.js';
import { migrateSchema, SCHEMA_VERSION } from '../../../core/store/postgres-schema.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { dropSchema, requirePostgres, storeUrl, testSchema, withClient } from './postgres-fixture.js';

const DAY = 86_400_000;
const JAN5 = Date.UTC(2026, 0, 5, 9);

const block = (id: string, time: number, count = 2) =>
  sealedBlock(id, Array.from({ length: count }, (_, i) => sampleDecision({ time: time + i, requestId: `${id}-${i}` })));

/** The partitions of `schema`.decisions, by name, with the rows each holds. */
async function partitions(schema: string): Promise<Record<string, number>> {
  return withClient(async (c) => {
    const found = await c.query<{ name: string }>(
      `SELECT child.relname AS name FROM pg_inherits i
         JOIN pg_class child ON child.oid = i.inhrelid
         JOIN pg_class parent ON parent.oid = i.inhparent
         JOIN pg_namespace n ON n.oid = parent.relnamespace
        WHERE n.nspname = $1 AND parent.relname = 'decisions' ORDER BY 1`,
      [schema],
    );
    const counts: Record<string, number> = {};
    for (const { name } of found.rows) {
      const rows = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}"."${name}"`);
      counts[name] = rows.rows[0]!.n;
    }
    return counts;
  });
}

async function relationExists(schema: string, name: string): Promise<boolean> {
  return withClient(async (c) => {
    const found = await c.query('SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2', [schema, name]);
    return found.rowCount === 1;
  });
}

describe('PostgreSQL decision log partitions', () => {
  requirePostgres();
  const schemas: string[] = [];
  const opened: PostgresEventStore[] = [];
  const open = async (schema: string): Promise<PostgresEventStore> => {
    const store = await PostgresEventStore.open(storeUrl(schema));
    opened.push(store);
    return store;
  };
  const fresh = (): string => {
    const schema = testSchema();
    schemas.push(schema);
    return schema;
  };

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    for (const schema of schemas.splice(0)) await dropSchema(schema);
  });

  it('keeps each day’s decisions in a partition of its own, the next day’s created ahead', async () => {
    const schema = fresh();
    const store = await open(schema);
    await store.decisions.appendBlocks([block('b1', JAN5, 3), block('b2', JAN5 + 2 * DAY)]);
    const found = await partitions(schema);
    expect(found).to.include({ decisions_20260105: 3, decisions_20260106: 0, decisions_20260107: 2, decisions_20260108: 0 });
    const kind = await withClient((c) => c.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE oid = '"${schema}".decisions'::regclass`));
    expect(kind.rows[0]?.relkind).to.equal('p');
  });

  it('retention drops the partitions of the days it drops, and leaves the others', async () => {
    const schema = fresh();
    const store = await open(schema);
    await store.append('settings', [{ id: 'c1', type: 'SettingsChanged', data: {} }]);
    await store.decisions.appendBlocks([block('b1', JAN5, 3)]);
    await store.decisions.appendBlocks([block('b2', JAN5 + DAY)]);
    await store.decisions.appendBlocks([block('b3', JAN5 + 2 * DAY)]);
    await store.append('settings', [{ id: 'c2', type: 'SettingsChanged', data: {} }]);
    const result = await applyRetention(store, { maxDays: 2, maxEntries: false }, Date.UTC(2026, 0, 8, 12));
    expect(result.dropped.map((p) => p.stream)).to.deep.equal(['access-2026-01-05', 'access-2026-01-06']);
    const found = await partitions(schema);
    expect(found).to.not.have.any.keys('decisions_20260105', 'decisions_20260106');
    expect(found).to.include({ decisions_20260107: 2 });
    expect(await relationExists(schema, 'decisions_20260105')).to.equal(false);
    expect((await store.decisions.read()).map((d) => d.decision.requestId)).to.deep.equal(['b3-0', 'b3-1']);
  });

  it('a node whose partition another node dropped creates it again and stores the block', async () => {
    const schema = fresh();
    const a = await open(schema);
    const b = await open(schema);
    await a.decisions.appendBlocks([block('b1', JAN5)]);
    await b.deleteStream('access-2026-01-05');
    expect(await relationExists(schema, 'decisions_20260105')).to.equal(false);
    await a.decisions.appendBlocks([block('b2', JAN5)]);
    expect((await b.decisions.read()).map((d) => d.decision.requestId)).to.deep.equal(['b2-0', 'b2-1']);
    expect(await partitions(schema)).to.include({ decisions_20260105: 2 });
  });

  it('migrates an unpartitioned decision log (schema version 2), keeping every row and the chain', async () => {
    // The source: a current store with blocks on two days.
    const source = fresh();
    const current = await open(source);
    await current.append('settings', [{ id: 'c1', type: 'SettingsChanged', data: {} }]);
    await current.decisions.appendBlocks([block('b1', JAN5, 3)]);
    await current.decisions.appendBlocks([block('b2', JAN5 + DAY, 2)]);
    const expected = await current.decisions.read();

    // The old layout, as release 2 of the schema left it, holding the same rows.
    const old = fresh();
    await withClient(async (c) => {
      await migrateSchema(c, old, 'test', 2);
      await c.query(`INSERT INTO "${old}".events SELECT * FROM "${source}".events`);
      await c.query(`INSERT INTO "${old}".decisions (position, idx, time, username, token_id, provider, detail)
        SELECT position, idx, time, username, token_id, provider, detail FROM "${source}".decisions`);
      await c.query(`UPDATE "${old}".chain_head SET position = h.position, hash = h.hash FROM "${source}".chain_head h`);
    });
    const kind = await withClient((c) => c.query<{ relkind: string }>(`SELECT relkind FROM pg_class WHERE oid = '"${old}".decisions'::regclass`));
    expect(kind.rows[0]?.relkind).to.equal('r');

    const migrated = await open(old);
    const versions = await withClient((c) => c.query<{ version: number }>(`SELECT max(version) AS version FROM "${old}".schema_version`));
    expect(versions.rows[0]?.version).to.equal(SCHEMA_VERSION);
    expect(await partitions(old)).to.include({ decisions_20260105: 3, decisions_20260106: 2 });
    expect(await relationExists(old, 'decisions_unpartitioned')).to.equal(false);
    expect(await migrated.decisions.read()).to.deep.equal(expected);
    expect(await verifyChain(migrated)).to.include({ ok: true, count: 3 });

    // It goes on as a partitioned store: new blocks, and retention by partition.
    await migrated.decisions.appendBlocks([block('b3', JAN5 + 2 * DAY)]);
    await migrated.append('settings', [{ id: 'c2', type: 'SettingsChanged', data: {} }]);
    await applyRetention(migrated, { maxDays: 2, maxEntries: false }, Date.UTC(2026, 0, 8, 12));
    expect(await partitions(old)).to.not.have.any.keys('decisions_20260105', 'decisions_20260106');
    expect((await migrated.decisions.read()).map((d) => d.decision.requestId)).to.deep.equal(['b3-0', 'b3-1']);
  });

  it('refuses to import a block whose decisions are not of its stream’s day', async () => {
    const source = fresh();
    const from = await open(source);
    await from.decisions.appendBlocks([block('b1', JAN5)]);
    const [event] = await from.readAll();
    const target = await open(fresh());
    const elsewhere = [sampleDecision({ time: JAN5 + DAY, requestId: 'moved' })];
    const err = await target.importRecorded([event!], () => Promise.resolve(elsewhere)).then(
      () => expect.fail('the import succeeded'),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(TypeError);
    expect(await target.readAll()).to.deep.equal([]);
  });
});

// Several nodes writing one PostgreSQL store at once: no reader skips or repeats an event, the chain stays one, one writer wins a revision.
import { expect } from 'chai';

import { eventually } from '../../support/eventually.js';
import type pg from 'pg';

import { hashEvent, verifyChain } from '../../../core/store/hash.js';
import { WrongExpectedRevisionError, type RecordedEvent } from '../../../core/store/port.js';
import { PostgresEventStore, type PostgresStoreOptions } from '../../../core/store/postgres.js';
import { ev } from './contract.js';
import { dropSchema, requirePostgres, storeUrl, testSchema, withClient } from './postgres-fixture.js';

const ids = (events: readonly RecordedEvent[]): string[] => events.map((e) => e.id);

/** Two raw connections, for interleavings a test drives step by step. */
async function withTwoClients<T>(work: (a: pg.Client, b: pg.Client) => Promise<T>): Promise<T> {
  return withClient((a) => withClient((b) => work(a, b)));
}


describe('PostgresEventStore with concurrent writers', () => {
  requirePostgres();
  let schema = '';
  const opened: PostgresEventStore[] = [];
  const node = async (options: PostgresStoreOptions = {}): Promise<PostgresEventStore> => {
    const store = await PostgresEventStore.open(storeUrl(schema), options);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    schema = testSchema();
  });

  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    await dropSchema(schema);
  });

  it('(the naive scheme) a poll on a sequence skips an event whose transaction commits late', async () => {
    await withClient((c) => c.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".naive (seq bigserial PRIMARY KEY, id text NOT NULL)`));
    const poll = (c: pg.Client, after: number) =>
      c.query<{ seq: string; id: string }>(`SELECT seq, id FROM "${schema}".naive WHERE seq > $1 ORDER BY seq`, [after]).then((r) => r.rows);
    const seen: string[] = [];
    await withTwoClients(async (slow, fast) => {
      await slow.query('BEGIN');
      await slow.query(`INSERT INTO "${schema}".naive (id) VALUES ('slow')`); // takes seq 1
      await fast.query(`INSERT INTO "${schema}".naive (id) VALUES ('fast')`); // takes seq 2, commits at once
      let checkpoint = 0;
      await withClient(async (reader) => {
        for (const row of await poll(reader, checkpoint)) {
          seen.push(row.id);
          checkpoint = Number(row.seq);
        }
        await slow.query('COMMIT');
        for (const row of await poll(reader, checkpoint)) seen.push(row.id);
        expect((await poll(reader, 0)).map((r) => r.id)).to.deep.equal(['slow', 'fast']);
      });
    });
    expect(seen, 'the poller never sees the event that committed after its successor').to.deep.equal(['fast']);
  });

  it('(this store) the same interleaving: the later writer waits for the earlier, the reader sees both in order', async () => {
    const writer = await node({ listen: false });
    const reader = await node({ listen: false });
    const { position: start } = await writer.append('s-0', [ev('first')]);
    const [first] = await reader.readAll();
    await withClient(async (slow) => {
      // An append from another node, stopped between taking its position and committing.
      await slow.query('BEGIN');
      const head = (await slow.query<{ position: string; hash: string }>(`SELECT position, hash FROM "${schema}".chain_head FOR UPDATE`)).rows[0]!;
      expect(head.hash).to.equal(first?.hash);
      const position = String(BigInt(head.position) + 1n);
      const event = { id: 'slow', type: 'Tested', stream: 's-1', revision: 0, time: new Date().toISOString(), data: { n: 'slow' }, metadata: {} };
      const hash = hashEvent(head.hash, event);
      await slow.query(
        `INSERT INTO "${schema}".events (position, id, stream, revision, type, time, data, metadata, prev_hash, hash)
         VALUES ($1, 'slow', 's-1', 0, 'Tested', $2, '{"n":"slow"}', '{}', $3, $4)`,
        [position, event.time, head.hash, hash],
      );
      await slow.query(`UPDATE "${schema}".chain_head SET position = $1, hash = $2`, [position, hash]);

      const fast = writer.append('s-2', [ev('fast')]);
      await eventually(
        () =>
          withClient(async (c) => {
            const waiting = await c.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [`portcullis ${schema}`]);
            return waiting.rowCount === 1;
          }),
        { within: 10_000, every: 10, what: 'the second append waits for the chain head' },
      );
      expect(await reader.readAll({ after: start }), 'nothing is visible while the first append is open').to.deep.equal([]);
      await slow.query('COMMIT');
      await fast;
    });
    const after = await reader.readAll({ after: start });
    expect(ids(after)).to.deep.equal(['slow', 'fast']);
    expect(after[1]?.prevHash).to.equal(after[0]?.hash);
    expect(await verifyChain(reader)).to.include({ ok: true, count: 3 });
  });

  it('three nodes with four writers each: every subscriber sees every event once, in the order readAll gives, on one chain', async () => {
    const nodes = [await node(), await node(), await node()];
    const follower = await node({ pollIntervalMs: 50 });
    const plan = nodes.flatMap((store, n) =>
      Array.from({ length: 4 }, (_, w) => ({ store, appends: Array.from({ length: 20 }, (_, i) => ({ stream: `s-${n}-${w % 2}`, size: 1 + ((i + w) % 3), durable: i % 4 !== 0, key: `${n}.${w}.${i}` })) })),
    );
    const total = plan.reduce((sum, writer) => sum + writer.appends.reduce((s, a) => s + a.size, 0), 0);
    const controller = new AbortController();
    // Each subscriber follows from the start; a skipped event would never arrive, a repeated one twice.
    const seen = [nodes[0]!, follower].map((store) => {
      const events: RecordedEvent[] = [];
      const done = (async () => {
        for await (const e of store.subscribe({ signal: controller.signal })) events.push(e);
      })();
      return { events, done };
    });
    await Promise.all(
      plan.map(async ({ store, appends }) => {
        for (const a of appends) {
          const events = Array.from({ length: a.size }, (_, k) => ev(`${a.key}.${k}`));
          await store.append(a.stream, events, { durable: a.durable });
        }
      }),
    );
    const head = await follower.headPosition();
    await eventually(async () => seen.every((s) => s.events.at(-1)?.position === head), { within: 10_000, every: 10, what: 'both subscribers reach the head' });
    controller.abort();
    await Promise.all(seen.map((s) => s.done));
    const all = await follower.readAll();
    expect(all).to.have.length(total);
    for (const { events } of seen) expect(ids(events)).to.deep.equal(ids(all));
    const positions = all.map((e) => BigInt(e.position));
    positions.slice(1).forEach((p, i) => expect(p > positions[i]!).to.equal(true));
    expect(await verifyChain(follower)).to.deep.equal({ ok: true, count: total, head: all.at(-1)?.hash });
  });

  it('lets exactly one of many writers on several nodes win an expected revision', async () => {
    const nodes = [await node({ listen: false }), await node({ listen: false }), await node({ listen: false })];
    await nodes[0]!.append('race-1', [ev('r0')]);
    const attempts = (expectedRevision: 0 | 'no_stream', stream: string) =>
      Promise.allSettled(Array.from({ length: 12 }, (_, i) => nodes[i % 3]!.append(stream, [ev(`${stream}.${i}`)], { expectedRevision })));
    for (const [expected, stream] of [[0, 'race-1'], ['no_stream', 'race-2']] as const) {
      const results = await attempts(expected, stream);
      expect(results.filter((r) => r.status === 'fulfilled'), `${stream}: winners`).to.have.length(1);
      const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(losers).to.have.length(11);
      for (const err of losers) expect(err).to.be.instanceOf(WrongExpectedRevisionError).and.include({ code: 'wrong_expected_revision' });
    }
    expect((await nodes[1]!.readStream('race-1')).map((e) => e.revision)).to.deep.equal([0, 1]);
    expect(await verifyChain(nodes[2]!)).to.include({ ok: true, count: 3 });
  });
});

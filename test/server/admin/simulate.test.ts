// POST /api/v1/simulate: decisions in the store re-run through candidate settings; JSON or NDJSON progress; stable 400s.
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';

import { expect } from 'chai';
import request from 'supertest';

import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { ADMIN_TOKEN } from '../fixtures.js';
import { startKit, type Kit } from './history-kit.js';
import { eventually } from '../../support/eventually.js';

const T0 = Date.UTC(2026, 0, 5, 9);
const range = { from: '2026-01-05T09:00:00Z', to: '2026-01-05T10:00:00Z' };

describe('POST /api/v1/simulate', () => {
  let kit: Kit;

  beforeEach(async () => {
    kit = await startKit();
    const decisions = Array.from({ length: 6 }, (_, i) =>
      sampleDecision({ time: T0 + i * 1000, requestId: `req-${i}`, clientIp: i < 2 ? '203.0.113.5' : '198.51.100.7', peerIp: i < 2 ? '203.0.113.5' : '198.51.100.7' }),
    );
    await kit.store.decisions.appendBlocks([sealedBlock('b1', decisions)]);
  });
  afterEach(async () => {
    await kit.close();
  });

  it('answers the changes: an IP deny list turns the allows from that address into denies', async () => {
    const res = await kit.call('/api/v1/simulate', 'post', { settings: { ip: { deny: ['203.0.113.0/24'] } }, ...range });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ decisions: 6, changed: 2, ...{ from: '2026-01-05T09:00:00.000Z' } });
    expect(res.body.transitions).to.deep.equal([{ from: 'allow/authenticated', to: 'deny/ip_not_allowed', count: 2 }]);
    expect(res.body.samples.map((s: { requestId: string }) => s.requestId)).to.deep.equal(['req-0', 'req-1']);
  });

  it('identical (default) settings change nothing', async () => {
    const res = await kit.call('/api/v1/simulate', 'post', { settings: {}, ...range });
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ decisions: 6, changed: 0 });
  });

  it('streams NDJSON, the result on the last line, when asked for application/x-ndjson', async () => {
    const res = await request(kit.url)
      .post('/api/v1/simulate')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .set('accept', 'application/x-ndjson')
      .send({ settings: { ip: { deny: ['203.0.113.5'] } }, ...range })
      .buffer(true)
      .parse((r, done) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => done(null, text));
      });
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^application\/x-ndjson/);
    const lines = (res.body as string).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.at(-1).result).to.include({ decisions: 6, changed: 2 });
  });

  it('refuses a bad request with 400 invalid_request', async () => {
    const bad = [
      { settings: {}, from: range.from },
      { settings: {}, from: '2026-01-05T09:00:00', to: range.to },
      { settings: {}, from: range.to, to: range.from },
      { settings: { ip: { deny: ['not-an-address'] } }, ...range },
      { settings: [], ...range },
      { settings: {}, ...range, extra: 1 },
    ];
    for (const body of bad) {
      const res = await kit.call('/api/v1/simulate', 'post', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    }
  });

  describe('one simulation at a time', () => {
    /** Holds the simulations' reads of the decision log (a time range; the token projection reads by block) until released. */
    function holdReads(): { release: () => void; reading: Promise<void> } {
      const decisions = kit.store.decisions;
      const read = decisions.read.bind(decisions);
      let release!: () => void;
      let started!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const reading = new Promise<void>((r) => (started = r));
      decisions.read = async (query) => {
        if (query?.from !== undefined) {
          started();
          await gate;
        }
        return read(query);
      };
      return { release, reading };
    }

    it('refuses a second one with 429 simulation_in_progress while the first runs, then runs the next', async () => {
      const held = holdReads();
      const first = kit.call('/api/v1/simulate', 'post', { settings: {}, ...range });
      await held.reading;
      const second = await kit.call('/api/v1/simulate', 'post', { settings: {}, ...range });
      expect(second.status).to.equal(429);
      expect(second.body.error).to.equal('simulation_in_progress');
      expect(second.headers['retry-after']).to.equal('10');
      held.release();
      expect((await first).body).to.include({ decisions: 6 });
      const third = await kit.call('/api/v1/simulate', 'post', { settings: {}, ...range });
      expect(third.status).to.equal(200);
    });

    it('stops a streamed simulation whose caller went away, and frees its place', async () => {
      // More than a page of decisions, so a run that goes on reads the log again; a stopped one reads it once.
      const more = Array.from({ length: 4096 }, (_, i) => sampleDecision({ time: T0 + 10_000 + i, requestId: `more-${i}` }));
      await kit.store.decisions.appendBlocks([sealedBlock('b2', more)]);
      const held = holdReads();
      let reads = 0;
      const gated = kit.store.decisions.read;
      kit.store.decisions.read = (query) => {
        if (query?.from !== undefined) reads += 1;
        return gated(query);
      };
      const req = httpRequest(`${kit.url}/api/v1/simulate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, accept: 'application/x-ndjson', 'content-type': 'application/json' },
      });
      req.end(JSON.stringify({ settings: {}, ...range }));
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      // The status and a first progress line come at once, before any decision is read.
      expect(res.statusCode).to.equal(200);
      const [first] = (await once(res, 'data')) as [Buffer];
      expect(JSON.parse(first.toString().split('\n')[0]!)).to.deep.equal({ progress: { decisions: 0 } });
      await held.reading;
      req.destroy();
      // Once the server has seen the connection close, the held read returns and the run stops at its first decision.
      await eventually(() => new Promise<boolean>((resolve) => kit.server.getConnections((_, n) => resolve(n === 0))), { within: 5000, what: 'the connection closes' });
      await new Promise<void>((resolve) => setImmediate(resolve));
      held.release();
      await eventually(
        async () => {
          const next = await kit.call('/api/v1/simulate', 'post', { settings: {}, ...range });
          expect(next.status).to.equal(200);
          expect(next.body).to.include({ decisions: 4102 });
        },
        { within: 5000, what: 'the next simulation runs' },
      );
      // The stopped run's one read, then the next run's: as many as one more whole run makes.
      const afterNext = reads;
      expect((await kit.call('/api/v1/simulate', 'post', { settings: {}, ...range })).status).to.equal(200);
      expect(afterNext).to.equal(1 + (reads - afterNext));
    });
  });

  it('needs the admin token', async () => {
    const res = await request(kit.url).post('/api/v1/simulate').send({ settings: {}, ...range });
    expect(res.status).to.equal(401);
  });
});

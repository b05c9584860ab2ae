// POST /api/v1/simulate: decisions in the store re-run through candidate settings; JSON or NDJSON progress; stable 400s.
import { expect } from 'chai';
import request from 'supertest';

import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { ADMIN_TOKEN } from '../fixtures.js';
import { startKit, type Kit } from './history-kit.js';

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

  it('needs the admin token', async () => {
    const res = await request(kit.url).post('/api/v1/simulate').send({ settings: {}, ...range });
    expect(res.status).to.equal(401);
  });
});

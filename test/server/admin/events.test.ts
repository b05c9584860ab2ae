// GET /api/v1/events filters: after, limit, type and stream prefix, paging with a filter, and 400 for parameters it does not take.
import { expect } from 'chai';

import type { RecordedEvent } from '../../../core/store/port.js';
import { buildHistory, startKit, type Kit } from './history-kit.js';

describe('server/admin events filters', () => {
  let kit: Kit;

  beforeEach(async () => {
    kit = await startKit();
    await buildHistory(kit);
  });

  afterEach(async () => {
    await kit.close();
  });

  const events = async (query: string): Promise<{ events: RecordedEvent[]; next: string | null }> => {
    const res = await kit.getRaw(`/api/v1/events?${query}`);
    expect(res.status, res.text).to.equal(200);
    return res.body as { events: RecordedEvent[]; next: string | null };
  };

  it('?type=AccessDecided&expand=decisions gives the decisions only, one entry each', async () => {
    const { events: decisions } = await events('type=AccessDecided&expand=decisions');
    expect(decisions).to.have.length(3);
    expect(new Set(decisions.map((e) => e.type))).to.deep.equal(new Set(['AccessDecided']));
  });

  it('?type=AccessDecisionsRecorded gives the decision blocks only, as stored', async () => {
    const { events: blocks } = await events('type=AccessDecisionsRecorded');
    expect(blocks.length).to.be.at.least(1);
    expect(new Set(blocks.map((e) => e.type))).to.deep.equal(new Set(['AccessDecisionsRecorded']));
  });

  it('?type= takes several types, repeated or comma-separated, in global order', async () => {
    const all = await kit.store.readAll();
    const expected = all.filter((e) => e.type === 'TokenIssued' || e.type === 'ProviderRemoved').map((e) => e.position);
    expect((await events('type=TokenIssued,ProviderRemoved')).events.map((e) => e.position)).to.deep.equal(expected);
    expect((await events('type=TokenIssued&type=ProviderRemoved')).events.map((e) => e.position)).to.deep.equal(expected);
  });

  it('?stream= filters by stream prefix, and combines with type', async () => {
    const tokens = (await events('stream=token-')).events;
    expect(tokens.map((e) => e.type)).to.deep.equal(['TokenIssued', 'TokenIssued', 'TokenRevoked']);
    expect((await events('stream=provider-,settings&type=ProviderRemoved')).events.map((e) => e.stream)).to.deep.equal(['provider-corp']);
    expect((await events('stream=nothing-')).events).to.deep.equal([]);
  });

  it('pages a filtered feed with after and limit, next being the last event shown', async () => {
    const all = (await events('type=SettingsChanged')).events.map((e) => e.position);
    expect(all).to.have.length(3);
    const first = await events('type=SettingsChanged&limit=2');
    expect(first.events.map((e) => e.position)).to.deep.equal(all.slice(0, 2));
    expect(first.next).to.equal(all[1]);
    const second = await events(`type=SettingsChanged&limit=2&after=${first.next}`);
    expect(second.events.map((e) => e.position)).to.deep.equal(all.slice(2));
    const end = await events(`type=SettingsChanged&after=${second.next}`);
    expect(end).to.deep.equal({ events: [], next: second.next });
  });

  for (const query of ['typ=AccessDecided', 'types=AccessDecided', 'from=2024-01-01', 'after=1&after=2', 'limit=1&limit=2', 'type=Access%20Decided', 'stream=a/b', `type=${Array.from({ length: 21 }, (_, i) => `T${i}`).join(',')}`]) {
    it(`GET /events?${query} → 400 invalid_request`, async () => {
      const res = await kit.getRaw(`/api/v1/events?${query}`);
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    });
  }
});

// Reading the decision log back: a block, any number of decisions page by page, a feed with blocks expanded, and old AccessDecided events.
import { expect } from 'chai';

import { legacyDecision } from '../../../core/decision-log/legacy.js';
import { expandBlocks, readBlock, readDecisions } from '../../../core/decision-log/reader.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';

const decisions = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => sampleDecision({ requestId: `${prefix}${i}`, time: Date.UTC(2026, 0, 5) + i }));

describe('core/decision-log/reader', () => {
  it('reads a block, and pages through every decision of a query without a page holding them all', async () => {
    const store = new MemoryEventStore();
    const { position } = await store.decisions.appendBlocks([sealedBlock('a', decisions('a', 5))]);
    await store.decisions.appendBlocks([sealedBlock('b', decisions('b', 7))]);
    expect((await readBlock(store, position)).map((d) => d.requestId)).to.deep.equal(['a0', 'a1', 'a2', 'a3', 'a4']);
    const pages: number[] = [];
    const counting = {
      decisions: {
        appendBlocks: store.decisions.appendBlocks.bind(store.decisions),
        read: async (query: Parameters<typeof store.decisions.read>[0]) => {
          const page = await store.decisions.read(query);
          pages.push(page.length);
          return page;
        },
      },
    };
    const all: string[] = [];
    for await (const stored of readDecisions(counting, { direction: 'backwards' }, 4)) all.push(stored.decision.requestId);
    expect(all).to.deep.equal(['b6', 'b5', 'b4', 'b3', 'b2', 'b1', 'b0', 'a4', 'a3', 'a2', 'a1', 'a0']);
    expect(pages).to.deep.equal([4, 4, 4, 0]);
    const capped: string[] = [];
    for await (const stored of readDecisions(store, { limit: 6 }, 4)) capped.push(stored.decision.requestId);
    expect(capped).to.deep.equal(['a0', 'a1', 'a2', 'a3', 'a4', 'b0']);
  });

  it('expands blocks in a page of events into one entry per decision, never splitting a block', async () => {
    const store = new MemoryEventStore();
    await store.append('settings', [{ id: 's1', type: 'SettingsChanged', data: {} }]);
    const { position: a } = await store.decisions.appendBlocks([sealedBlock('a', decisions('a', 3))]);
    await store.decisions.appendBlocks([sealedBlock('b', decisions('b', 2))]);
    const events = await store.readAll();
    const page = await expandBlocks(store, events, 2);
    expect(page.last).to.equal(a);
    expect(page.entries.map((e) => ('index' in e ? `${e.data.requestId}@${e.position}:${e.index}` : e.type))).to.deep.equal([
      'SettingsChanged',
      `a0@${a}:0`,
      `a1@${a}:1`,
      `a2@${a}:2`,
    ]);
    expect(await expandBlocks(store, [], 10)).to.deep.equal({ entries: [] });
  });

  it('reads an AccessDecided event of an older store as a record', () => {
    const record = legacyDecision({
      id: 'r1',
      type: 'AccessDecided',
      stream: 'access-2024-03-05',
      revision: 0,
      position: '1' as never,
      time: '2024-03-05T06:07:09.000Z',
      prevHash: '',
      hash: '',
      metadata: { actor: 'gateway', time: '2024-03-05T06:07:08.000Z' },
      data: {
        requestId: 'r1', method: 'GET', path: '/x', host: 'h', clientIp: '10.0.0.1', peerIp: '10.0.0.1', credential: 'bearer',
        allow: false, status: 403, reason: 'ip_not_allowed', stage: 'ip', description: 'not kept',
        identity: { subject: 's', username: 'u', provider: 'p', groups: ['g'] },
        trace: [{ stage: 'ip', outcome: 'deny', reason: 'ip_not_allowed', detail: 'not kept' }],
      },
    });
    expect(record).to.deep.equal({
      time: Date.UTC(2024, 2, 5, 6, 7, 8), requestId: 'r1', method: 'GET', host: 'h', path: '/x', clientIp: '10.0.0.1', peerIp: '10.0.0.1',
      credential: 'bearer', allow: false, status: 403, reason: 'ip_not_allowed', stage: 'ip',
      identity: { subject: 's', username: 'u', provider: 'p', groups: ['g'] }, trace: [{ stage: 'ip', outcome: 'deny' }],
    });
  });
});

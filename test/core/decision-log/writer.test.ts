// The decision log's writer: one record per decision, blocks per UTC day, flushed on a timer or when full, buffered while the store refuses.
import { expect } from 'chai';

import type { Decision } from '../../../core/access.js';
import { decodeBatch } from '../../../core/decision-log/decode.js';
import type { SealedBlock } from '../../../core/decision-log/record.js';
import { DecisionLogWriter, storeSink, type BlockSink } from '../../../core/decision-log/writer.js';
import { silentLogger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { StoreUnavailableError, type AppendResult } from '../../../core/store/port.js';
import { eventually } from '../../support/eventually.js';
import { request } from '../../fixtures/requests.js';

const decision: Decision = {
  allow: true,
  status: 200,
  reason: 'authenticated',
  description: 'a description is not recorded',
  stage: 'pipeline',
  trace: [
    { stage: 'ip', outcome: 'pass' },
    { stage: 'authenticate', outcome: 'pass', detail: 'provider=p' },
  ],
  credentialConsumed: true,
  identity: { subject: 's1', username: 'ann', email: 'ann@example.com', groups: ['dev'], scopes: ['read'], provider: 'p', tokenId: 'jti-1', claims: { secretish: 'x' } },
};

/** A sink in front of a memory store that counts calls and refuses them while `down` is set, like a full disk. */
class FlakySink implements BlockSink {
  readonly store = new MemoryEventStore();
  readonly calls: number[] = [];
  down = false;
  gate: Promise<void> | undefined;
  readonly #sink = storeSink(this.store);

  async appendBlocks(blocks: readonly SealedBlock[]): Promise<AppendResult> {
    this.calls.push(blocks.length);
    await this.gate;
    if (this.down) throw new StoreUnavailableError('disk full');
    return this.#sink.appendBlocks(blocks);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async requestIds(): Promise<string[]> {
    return (await this.store.decisions.read()).map((s) => s.decision.requestId);
  }
}

describe('core/decision-log/writer', () => {
  it('records request facts, verdict, identity and trace outcomes; never the credential, query, description, email, scopes or claims', async () => {
    const sink = new FlakySink();
    const writer = new DecisionLogWriter(sink, silentLogger);
    const secret = 'eyJ.super-secret-token.sig';
    writer.record(request({ id: 'r1', credential: { scheme: 'bearer', secret }, query: 'access_token=leak' }), decision);
    await writer.flush();
    const [stored] = await sink.store.decisions.read();
    expect(stored?.index).to.equal(0);
    expect(stored?.decision).to.deep.equal({
      time: 1_700_000_000_000,
      requestId: 'r1',
      method: 'GET',
      host: 'api.example',
      path: '/x',
      clientIp: '192.0.2.1',
      peerIp: '192.0.2.1',
      credential: 'bearer',
      allow: true,
      status: 200,
      reason: 'authenticated',
      stage: 'pipeline',
      identity: { subject: 's1', username: 'ann', provider: 'p', groups: ['dev'], tokenId: 'jti-1' },
      trace: [
        { stage: 'ip', outcome: 'pass' },
        { stage: 'authenticate', outcome: 'pass' },
      ],
    });
    const [block] = await sink.store.readStream('access-2023-11-14');
    expect(block?.type).to.equal('AccessDecisionsRecorded');
    expect(block?.position).to.equal(stored?.block);
    const text = JSON.stringify([await sink.store.readAll(), await sink.store.decisions.read()]);
    for (const leak of [secret, 'leak', 'secretish', 'ann@example.com', 'description', 'provider=p']) expect(text).to.not.include(leak);
  });

  it('stores many decisions as few blocks, one stream per UTC day, each decision addressed by (block, index)', async () => {
    const sink = new FlakySink();
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 60_000, batchSize: 1000 });
    const midnight = Date.UTC(2026, 10, 24);
    for (let i = 0; i < 300; i++) writer.record(request({ id: `a${i}`, time: midnight - 150 + i }), decision);
    await writer.flush();
    expect(writer.written).to.equal(300);
    const before = await sink.store.readStream('access-2026-11-23');
    const after = await sink.store.readStream('access-2026-11-24');
    expect([before.length, after.length]).to.deep.equal([1, 1]);
    expect((before[0]!.data as { count: number }).count).to.equal(150);
    expect((after[0]!.data as { count: number; first: string }).first).to.equal('2026-11-24T00:00:00.000Z');
    const stored = await sink.store.decisions.read();
    expect(stored.map((s) => s.decision.requestId)).to.deep.equal(Array.from({ length: 300 }, (_, i) => `a${i}`));
    expect(stored.map((s) => `${s.block}:${s.index}`).slice(148, 152)).to.deep.equal([
      `${before[0]!.position}:148`,
      `${before[0]!.position}:149`,
      `${after[0]!.position}:0`,
      `${after[0]!.position}:1`,
    ]);
  });

  it('seals a full batch and writes it at once, without waiting for the timer', async () => {
    const sink = new FlakySink();
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 60_000, batchSize: 100 });
    for (let i = 0; i < 250; i++) writer.record(request({ id: `f${i}` }), decision);
    await eventually(() => writer.written === 200, { within: 10_000, what: 'all 200 decisions written' });
    expect(writer.pending, 'the open batch waits for its timer').to.equal(50);
    await writer.close();
    expect(await sink.requestIds()).to.have.length(250);
  });

  it('flushes the open batch on its own timer', async () => {
    const sink = new FlakySink();
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 5 });
    writer.record(request({ id: 'd1' }), decision);
    expect(writer.pending).to.equal(1);
    await eventually(() => writer.written === 1, { within: 10_000, what: 'the decision written' });
    expect(await sink.requestIds()).to.deep.equal(['d1']);
  });

  it('sends the blocks sealed while a write runs together, in one call, in order', async () => {
    const sink = new FlakySink();
    let release!: () => void;
    sink.gate = new Promise<void>((r) => (release = r));
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 60_000, batchSize: 10 });
    for (let i = 0; i < 10; i++) writer.record(request({ id: `w${i}` }), decision);
    for (let i = 10; i < 40; i++) writer.record(request({ id: `w${i}` }), decision);
    release();
    await writer.flush();
    expect(sink.calls).to.deep.equal([1, 3]);
    expect(await sink.requestIds()).to.deep.equal(Array.from({ length: 40 }, (_, i) => `w${i}`));
    expect((await sink.store.readAll()).map((e) => (e.data as { count: number }).count)).to.deep.equal([10, 10, 10, 10]);
  });

  it('keeps decisions while the store refuses them and writes them, in order, once it recovers', async () => {
    const sink = new FlakySink();
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 5, batchSize: 4 });
    sink.down = true;
    for (let i = 0; i < 10; i++) writer.record(request({ id: `b${i}` }), decision);
    await writer.flush();
    expect(writer.pending).to.equal(10);
    sink.down = false;
    await writer.close(2000);
    expect(writer.pending).to.equal(0);
    expect(await sink.requestIds()).to.deep.equal(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });

  it('a retried call stores nothing twice: block ids make it a no-op', async () => {
    const store = new MemoryEventStore();
    const inner = storeSink(store);
    let failAfterStoring = true;
    const sink: BlockSink = {
      appendBlocks: async (blocks) => {
        const result = await inner.appendBlocks(blocks);
        if (failAfterStoring) {
          failAfterStoring = false;
          throw new StoreUnavailableError('the answer was lost');
        }
        return result;
      },
      close: () => Promise.resolve(),
    };
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 5 });
    for (let i = 0; i < 3; i++) writer.record(request({ id: `i${i}` }), decision);
    await writer.close(2000);
    expect((await store.decisions.read()).map((s) => s.decision.requestId)).to.deep.equal(['i0', 'i1', 'i2']);
    expect(await store.readAll()).to.have.length(1);
  });

  it('does not hammer a refusing store: full batches wait for the backoff', async () => {
    const sink = new FlakySink();
    sink.down = true;
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 10_000, batchSize: 10 });
    for (let i = 0; i < 2000; i++) {
      writer.record(request({ id: `h${i}` }), decision);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // let failed flushes settle, as traffic would
    }
    expect(sink.calls.length, 'one failed attempt, then only the timer retries').to.be.at.most(2);
    expect(writer.pending).to.equal(2000);
  });

  it('drops beyond its cap and counts what it dropped', async () => {
    const sink = new FlakySink();
    sink.down = true;
    const writer = new DecisionLogWriter(sink, silentLogger, { flushIntervalMs: 10_000, batchSize: 1000, maxBuffered: 5 });
    for (let i = 0; i < 8; i++) writer.record(request({ id: `c${i}` }), decision);
    expect([writer.pending, writer.dropped]).to.deep.equal([5, 3]);
    sink.down = false;
    await writer.close(1000);
    expect(await sink.requestIds()).to.deep.equal(['c0', 'c1', 'c2', 'c3', 'c4']);
  });

  it('hands the sink sealed batches that decode to the recorded decisions', async () => {
    const seen: SealedBlock[] = [];
    const sink: BlockSink = {
      appendBlocks: async (blocks) => {
        seen.push(...blocks);
        return { nextRevision: 0, position: '1' as never };
      },
      close: () => Promise.resolve(),
    };
    const writer = new DecisionLogWriter(sink, silentLogger, { batchSize: 2 });
    for (let i = 0; i < 3; i++) writer.record(request({ id: `s${i}` }), decision);
    await writer.close();
    expect(seen.map((b) => decodeBatch(b.batch).map((d) => d.requestId))).to.deep.equal([['s0', 's1'], ['s2']]);
    expect(new Set(seen.map((b) => b.id)).size).to.equal(2);
  });

  it('refuses a batch size past what a block holds', () => {
    expect(() => new DecisionLogWriter(new FlakySink(), silentLogger, { batchSize: 4097 })).to.throw(TypeError);
    expect(() => new DecisionLogWriter(new FlakySink(), silentLogger, { batchSize: 0 })).to.throw(TypeError);
  });
});

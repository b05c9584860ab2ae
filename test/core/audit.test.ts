// The audit writer: one AccessDecided per decision, batched per day stream, no secrets, buffered while the store refuses.
import { expect } from 'chai';
import type { Decision } from '../../core/access.js';
import { AuditWriter } from '../../core/audit.js';
import { silentLogger } from '../../core/logger.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import { canonicalJson } from '../../core/store/hash.js';
import { StoreUnavailableError, type AppendOptions, type EventMetadata, type NewEvent, type SerializedEvent } from '../../core/store/port.js';
import { request } from '../fixtures/requests.js';
import { eventually } from '../support/eventually.js';

const decision: Decision = {
  allow: true,
  status: 200,
  reason: 'authenticated',
  stage: 'pipeline',
  trace: [{ stage: 'authenticate', outcome: 'pass', detail: 'provider=p' }],
  credentialConsumed: true,
  identity: { subject: 's1', username: 'ann', groups: ['dev'], scopes: ['read'], provider: 'p', tokenId: 'jti-1', claims: { secretish: 'x' } },
};

/** A store whose appends fail while `down` is set, like a full disk. */
class FlakyStore extends MemoryEventStore {
  down = false;
  appends = 0;
  override append(stream: string, events: readonly NewEvent[], options?: AppendOptions) {
    this.appends += 1;
    if (this.down) return Promise.reject(new StoreUnavailableError('disk full'));
    return super.append(stream, events, options);
  }
}

describe('core/audit', () => {
  it('records request facts, identity and reason, never the credential', async () => {
    const store = new MemoryEventStore();
    const audit = new AuditWriter(store, silentLogger);
    const secret = 'eyJ.super-secret-token.sig';
    audit.record(request({ id: 'r1', credential: { scheme: 'bearer', secret }, query: 'access_token=leak' }), decision);
    await audit.flush();
    const [e] = await store.readStream('access-2023-11-14');
    expect(e?.type).to.equal('AccessDecided');
    expect(e?.id).to.equal('r1');
    expect(e?.data).to.deep.include({ requestId: 'r1', method: 'GET', path: '/x', credential: 'bearer', allow: true, reason: 'authenticated' });
    expect((e?.data as { identity: unknown }).identity).to.deep.equal({ subject: 's1', username: 'ann', provider: 'p', groups: ['dev'], tokenId: 'jti-1' });
    const text = JSON.stringify(await store.readAll());
    expect(text).to.not.include(secret);
    expect(text).to.not.include('leak');
    expect(text).to.not.include('secretish');
  });

  it('batches appends: many decisions, few appends, one stream per UTC day', async () => {
    const store = new FlakyStore();
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 10_000, batchSize: 1000 });
    for (let i = 0; i < 300; i++) audit.record(request({ id: `a${i}`, time: Date.UTC(2026, 10, 23, 23, 59, 59) + (i % 2) * 2000 }), decision);
    await audit.flush();
    expect(store.appends).to.equal(2);
    expect(await store.readStream('access-2026-11-23')).to.have.length(150);
    expect(await store.readStream('access-2026-11-24')).to.have.length(150);
    expect(audit.written).to.equal(300);
  });

  it('hands an appender that takes text the events serialised canonically, one append per day stream, the same events as objects would give', async () => {
    const store = new MemoryEventStore();
    const texts: SerializedEvent[][] = [];
    const appender = {
      append: (stream: string, events: readonly NewEvent[], options?: AppendOptions) => store.append(stream, events, options),
      appendSerialized: (stream: string, events: readonly SerializedEvent[], options?: AppendOptions) => {
        texts.push([...events]);
        for (const e of events) {
          expect(canonicalJson(JSON.parse(e.data))).to.equal(e.data);
          expect(canonicalJson(JSON.parse(e.metadata))).to.equal(e.metadata);
        }
        const parsed = events.map((e) => ({ id: e.id, type: e.type, data: JSON.parse(e.data) as unknown, metadata: JSON.parse(e.metadata) as EventMetadata }));
        return store.append(stream, parsed, options);
      },
    };
    const audit = new AuditWriter(appender, silentLogger, { flushIntervalMs: 10_000, batchSize: 1000 });
    const plain = new MemoryEventStore();
    const reference = new AuditWriter(plain, silentLogger, { flushIntervalMs: 10_000, batchSize: 1000 });
    for (let i = 0; i < 10; i++) {
      const r = request({ id: `j${i}`, time: Date.UTC(2026, 10, 23, 23, 59, 59) + (i % 2) * 2000 });
      audit.record(r, decision);
      reference.record(r, decision);
    }
    await Promise.all([audit.flush(), reference.flush()]);
    expect(texts).to.have.length(2);
    const strip = (events: readonly { id: string; stream: string; type: string; data: unknown; metadata: unknown }[]) =>
      events.map(({ id, stream, type, data, metadata }) => ({ id, stream, type, data, metadata }));
    expect(strip(await store.readAll())).to.deep.equal(strip(await plain.readAll()));
  });

  it('leaves decisions recorded during a write for the next timer, not for an append each', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    class SlowStore extends FlakyStore {
      override async append(stream: string, events: readonly NewEvent[], options?: AppendOptions) {
        await gate;
        return super.append(stream, events, options);
      }
    }
    const store = new SlowStore();
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 60_000, batchSize: 100 });
    audit.record(request({ id: 'first' }), decision);
    const flushed = audit.flush();
    for (let i = 0; i < 5; i++) audit.record(request({ id: `during${i}` }), decision);
    release();
    await flushed;
    expect(store.appends).to.equal(1);
    expect(audit.written).to.equal(1);
    expect(audit.pending).to.equal(5);
    // 5 waiting + 95 = a full batch; the timer is a minute away, so only that can start the write.
    for (let i = 0; i < 95; i++) audit.record(request({ id: `full${i}` }), decision);
    await eventually(() => audit.pending === 0, { within: 5_000, what: 'a full batch going without waiting for the timer' });
    await audit.close();
  });

  it('keeps events while the store refuses them and writes them once it recovers', async () => {
    const store = new FlakyStore();
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 5 });
    store.down = true;
    for (let i = 0; i < 10; i++) audit.record(request({ id: `b${i}` }), decision);
    await audit.flush();
    expect(audit.pending).to.equal(10);
    store.down = false;
    await audit.close(2000);
    expect(audit.pending).to.equal(0);
    expect((await store.readAll()).map((e) => e.id)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });

  it('does not hammer a refusing store: full batches wait for the backoff', async () => {
    const store = new FlakyStore();
    store.down = true;
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 10_000, batchSize: 10 });
    for (let i = 0; i < 2000; i++) {
      audit.record(request({ id: `h${i}` }), decision);
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // let failed flushes settle, as traffic would
    }
    expect(store.appends, 'one failed attempt, then only the timer retries').to.be.at.most(2);
    expect(audit.pending).to.equal(2000);
  });

  it('drops beyond its cap and counts what it dropped', async () => {
    const store = new FlakyStore();
    store.down = true;
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 10_000, batchSize: 1000, maxBuffered: 5 });
    for (let i = 0; i < 8; i++) audit.record(request({ id: `c${i}` }), decision);
    expect(audit.pending).to.equal(5);
    expect(audit.dropped).to.equal(3);
    store.down = false;
    await audit.close(1000);
    expect((await store.readAll()).map((e) => e.id)).to.deep.equal(['c0', 'c1', 'c2', 'c3', 'c4']);
  });

  it('flushes on its own timer', async () => {
    const store = new MemoryEventStore();
    const audit = new AuditWriter(store, silentLogger, { flushIntervalMs: 5 });
    audit.record(request({ id: 'd1' }), decision);
    await eventually(async () => (await store.readAll()).length === 1, { within: 5_000, what: 'the timer writing the event' });
  });
});

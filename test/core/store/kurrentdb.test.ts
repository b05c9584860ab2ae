// The KurrentDB store without a server: its URL, stream names, events mapped both ways with their chain fields, stream metadata, an unreachable server.
import { createServer, type AddressInfo } from 'node:net';

import { expect } from 'chai';

import { END, START } from '@kurrent/kurrentdb-client';

import { hashCanonicalEvent, hashEvent, serializeEvent } from '../../../core/store/hash.js';
import { ChainView, isChainRecord, type ChainRecord } from '../../../core/store/kurrentdb-chain.js';
import {
  CHECKPOINT_METADATA,
  chainStream,
  deletionMetadata,
  eventUuid,
  fromKurrentEvent,
  isKurrentUrl,
  kurrentStream,
  parseKurrentUrl,
  portcullisStream,
  toKurrentEvent,
  type KurrentRecorded,
} from '../../../core/store/kurrentdb-mapping.js';
import { openEventStore } from '../../../core/store/open.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { sampleDecision } from '../../fixtures/decisions.js';

describe('KurrentDB store URL', () => {
  it('takes the namespace out and hands the client a kurrentdb:// connection string', () => {
    expect(parseKurrentUrl('esdb://admin:changeit@db1:2113,db2:2113?tls=true&namespace=edge_1')).to.deep.equal({
      connectionString: 'kurrentdb://admin:changeit@db1:2113,db2:2113?tls=true',
      namespace: 'edge_1',
      where: 'db1:2113,db2:2113',
    });
    expect(parseKurrentUrl('kurrentdb+discover://cluster.internal:2113')).to.deep.equal({
      connectionString: 'kurrentdb+discover://cluster.internal:2113',
      namespace: 'portcullis',
      where: 'cluster.internal:2113',
    });
  });

  it('recognises the client’s schemes and the older esdb://, nothing else', () => {
    for (const url of ['kurrentdb://h:2113', 'esdb://h', 'ESDB+discover://h', 'kurrent://h', 'kdb://h']) expect(isKurrentUrl(url), url).to.equal(true);
    for (const url of ['postgres://h/x', 'sqlite:x.db', 'http://h', 'esdb:h']) expect(isKurrentUrl(url), url).to.equal(false);
  });

  it('refuses a bad namespace or URL with a TypeError that does not echo the password', () => {
    for (const url of ['esdb://u:s3cret@h?namespace=Bad', 'esdb://u:s3cret@h?namespace=1x', `esdb://u:s3cret@h?namespace=${'a'.repeat(49)}`, 'esdb://u:s3cret@']) {
      let error: unknown;
      try {
        parseKurrentUrl(url);
      } catch (err) {
        error = err;
      }
      expect(error, url).to.be.instanceOf(TypeError);
      expect((error as Error).message).to.not.include('s3cret');
    }
  });

  it('names the host, never the password, when the server cannot be reached', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    for (const url of [`esdb://u:s3cret@127.0.0.1:${port}?tls=false`, `kurrentdb://u:s3cret@127.0.0.1:${port}?tls=false`]) {
      const err = await openEventStore(url).then(
        () => expect.fail('opened'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StoreUnavailableError);
      expect((err as Error).message).to.include(`127.0.0.1:${port}`).and.include('cannot be opened').and.not.include('s3cret');
    }
  });
});

describe('KurrentDB stream names', () => {
  it('puts every Portcullis stream under the namespace, and the chain beside it, outside the prefix reads filter on', () => {
    expect(kurrentStream('portcullis', 'access-2026-01-05')).to.equal('portcullis.access-2026-01-05');
    expect(portcullisStream('portcullis', 'portcullis.settings')).to.equal('settings');
    expect(portcullisStream('portcullis', 'other.settings')).to.equal(undefined);
    expect(chainStream('portcullis').startsWith(kurrentStream('portcullis', ''))).to.equal(false);
    expect(portcullisStream('portcullis', chainStream('portcullis'))).to.equal(undefined);
  });
});

describe('KurrentDB event mapping', () => {
  const event = serializeEvent({ id: 'c1', type: 'SettingsChanged', data: { patch: { enabled: true }, text: 'ünï ✓' }, metadata: { actor: 'admin', sourceIp: '192.0.2.7' } });
  const time = '2026-01-05T09:00:00.000Z';
  const hash = hashCanonicalEvent('prev', { id: 'c1', type: 'SettingsChanged', stream: 'settings', revision: 3, time }, event.data, event.metadata);

  /** What the server hands back for what was written: JSON data parsed, metadata parsed; KurrentDB's revision 5 (the stream was deleted once, at 2). */
  const recorded = (written: ReturnType<typeof toKurrentEvent>, streamId = 'portcullis.settings'): KurrentRecorded => ({
    streamId,
    revision: 5n,
    type: written.type,
    isJson: true,
    data: JSON.parse(JSON.stringify(written.data)),
    metadata: JSON.parse(JSON.stringify(written.metadata)),
  });

  it('writes a UUID derived from the id, string-valued metadata (multi-stream appends take nothing else) and the data as parsed JSON', () => {
    const written = toKurrentEvent(event, { sequence: 42, revision: 3, time, prevHash: 'prev', hash });
    expect(written.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(written.id).to.equal(eventUuid('c1')).and.not.equal(eventUuid('c2'));
    expect(Object.values(written.metadata).every((v) => typeof v === 'string')).to.equal(true);
    expect(JSON.stringify(written.data)).to.equal(event.data);
  });

  it('reads back the same event, its hash still matching its content, with Portcullis’s revision and KurrentDB’s', () => {
    const mapped = fromKurrentEvent('portcullis', recorded(toKurrentEvent(event, { sequence: 42, revision: 3, time, prevHash: 'prev', hash })));
    expect(mapped?.decisions).to.equal(undefined);
    expect(mapped?.kurrentRevision).to.equal(5n);
    expect(mapped?.event).to.deep.equal({
      id: 'c1',
      type: 'SettingsChanged',
      stream: 'settings',
      revision: 3,
      position: '42',
      time,
      data: { patch: { enabled: true }, text: 'ünï ✓' },
      metadata: { actor: 'admin', sourceIp: '192.0.2.7' },
      prevHash: 'prev',
      hash,
    });
    expect(hashEvent('prev', mapped!.event)).to.equal(hash);
  });

  it('reads metadata handed over as bytes, and carries a block’s decisions beside its event', () => {
    const decisions = [sampleDecision(), sampleDecision({ identity: undefined })];
    const written = toKurrentEvent(event, { sequence: 7, revision: 3, time, prevHash: '', hash, decisions });
    const asBytes = { ...recorded(written), metadata: new TextEncoder().encode(JSON.stringify(written.metadata)) };
    const mapped = fromKurrentEvent('portcullis', asBytes);
    expect(mapped?.event.position).to.equal('7');
    expect(mapped?.decisions).to.deep.equal(JSON.parse(JSON.stringify(decisions)));
  });

  it('ignores events Portcullis did not write: another namespace, no chain fields, a bad position or revision', () => {
    const written = toKurrentEvent(event, { sequence: 42, revision: 3, time, prevHash: 'prev', hash });
    expect(fromKurrentEvent('portcullis', recorded(written, 'orders-1'))).to.equal(undefined);
    expect(fromKurrentEvent('other', recorded(written))).to.equal(undefined);
    expect(fromKurrentEvent('portcullis', { ...recorded(written), metadata: { foreign: 'x' } })).to.equal(undefined);
    expect(fromKurrentEvent('portcullis', { ...recorded(written), metadata: { ...written.metadata, 'portcullis-position': '0' } })).to.equal(undefined);
    expect(fromKurrentEvent('portcullis', { ...recorded(written), metadata: { ...written.metadata, 'portcullis-revision': '-1' } })).to.equal(undefined);
  });
});

describe('KurrentDB stream metadata', () => {
  it('deletes with $tb past the last revision, keeping the stream’s other metadata', () => {
    expect(deletionMetadata({}, 0)).to.deep.equal({ truncateBefore: 1 });
    expect(deletionMetadata({ maxCount: 5, owner: 'ops' }, 41)).to.deep.equal({ maxCount: 5, owner: 'ops', truncateBefore: 42 });
  });

  it('keeps one event of a projection checkpoint’s stream', () => {
    expect(CHECKPOINT_METADATA).to.deep.equal({ maxCount: 1 });
  });
});

describe('KurrentDB chain view', () => {
  /** Three appends and a deletion: s-1 a,b (1-2) — s-2 c (3) — a block append to two streams, d (4) and e (5) — s-1 deleted. */
  function view(): ChainView {
    const chain = new ChainView();
    const at = (n: number) => ({ commit: BigInt(n * 100), prepare: BigInt(n * 100) });
    const records: ChainRecord[] = [
      { kind: 'appended', streams: [{ stream: 's-1', ids: ['a', 'b'] }], first: 1, last: 2, hash: 'h2' },
      { kind: 'appended', streams: [{ stream: 's-2', ids: ['c'] }], first: 3, last: 3, hash: 'h3' },
      { kind: 'appended', streams: [{ stream: 'access-2026-01-05', ids: ['d'] }, { stream: 'access-2026-01-06', ids: ['e'] }], first: 4, last: 5, hash: 'h5' },
      { kind: 'deleted', streams: [{ stream: 's-1', ids: [] }], first: 5, last: 5, hash: 'h5' },
    ];
    records.forEach((r, i) => chain.add({ ...r, revision: BigInt(i), at: at(i + 1) }));
    return chain;
  }

  it('knows where each id went, and forgets a deleted stream’s ids', () => {
    const chain = view();
    expect(chain.stored('c')).to.deep.equal({ stream: 's-2', position: 3 });
    expect(chain.stored('e')).to.deep.equal({ stream: 'access-2026-01-06', position: 5 });
    expect(chain.stored('a')).to.equal(undefined);
    expect(chain.head).to.include({ kind: 'deleted', last: 5, revision: 3n });
  });

  it('leaves out a deleted stream’s events, which $all shows until the scavenger runs, and not later ones', () => {
    const chain = view();
    expect(chain.deleted('s-1', 2)).to.equal(true);
    expect(chain.deleted('s-1', 6)).to.equal(false);
    expect(chain.deleted('s-2', 3)).to.equal(false);
  });

  it('starts a forwards read at the record of the append before the wanted position, a backwards one at the record past it', () => {
    const chain = view();
    expect(chain.startAfter(0)).to.equal(START);
    expect(chain.startAfter(1)).to.equal(START);
    expect(chain.startAfter(2)).to.deep.equal({ commit: 100n, prepare: 100n });
    expect(chain.startAfter(4)).to.deep.equal({ commit: 200n, prepare: 200n });
    expect(chain.startBefore(3)).to.deep.equal({ commit: 200n, prepare: 200n });
    expect(chain.startBefore(5)).to.equal(END);
    expect(new ChainView().startAfter(7)).to.equal(START);
  });

  it('takes only records Portcullis writes from the chain stream', () => {
    expect(isChainRecord({ kind: 'appended', streams: [{ stream: 's', ids: ['x'] }], first: 1, last: 1, hash: 'h' })).to.equal(true);
    for (const bad of [null, {}, { kind: 'other', streams: [], first: 1, last: 1, hash: '' }, { kind: 'deleted', streams: [{ stream: 's', ids: [1] }], first: 1, last: 1, hash: '' }, { kind: 'deleted', streams: [], first: '1', last: 1, hash: '' }]) {
      expect(isChainRecord(bad), JSON.stringify(bad)).to.equal(false);
    }
  });
});

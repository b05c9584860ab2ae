// The checkpointed projection: folds only what its filter lets through, yet follows every position for waitFor().
import { expect } from 'chai';

import { silentLogger } from '../../core/logger.js';
import { Projection } from '../../core/projection.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import type { NewEvent, RecordedEvent } from '../../core/store/port.js';
import { eventually } from '../support/eventually.js';

const access = (id: string, provider: string): NewEvent => ({ id, type: 'AccessDecided', data: { identity: { provider } } });

describe('Projection', () => {
  let store: MemoryEventStore;
  let projection: Projection<string[]>;

  beforeEach(async () => {
    store = new MemoryEventStore();
    projection = new Projection(store, {
      name: 'gateway-uses',
      version: 1,
      streamPrefixes: ['access-'],
      dataEquals: { path: ['identity', 'provider'], value: 'gateway' },
      initial: [],
      evolve: (ids: string[], event: RecordedEvent) => [...ids, event.id],
      logger: silentLogger,
    });
    await store.append('access-1', [access('before', 'gateway'), access('jwt-before', 'jwt')]);
    await projection.start();
  });

  afterEach(async () => {
    await projection.stop();
    await store.close();
  });

  it('folds only the events its filter matches, at start and live', async () => {
    const { position } = await store.append('access-1', [access('live', 'gateway'), access('jwt-live', 'jwt')]);
    await store.append('settings', [{ id: 's', type: 'SettingsChanged', data: { identity: { provider: 'gateway' } } }]);
    await projection.waitFor(position);
    expect(projection.state).to.deep.equal(['before', 'live']);
  });

  it('replays every event when its checkpoint cannot be restored, instead of failing to start', async () => {
    const evolve = (ids: string[], event: RecordedEvent) => [...ids, event.id];
    const options = { name: 'fragile', version: 1, streamPrefixes: ['access-'], initial: [] as string[], evolve, logger: silentLogger };
    const first = new Projection(store, { ...options, snapshot: (ids: string[]) => ids });
    await first.start();
    await first.stop();
    expect((await store.loadCheckpoint('fragile'))?.state).to.deep.include({ version: 1 });
    const second = new Projection(store, {
      ...options,
      restore: () => {
        throw new TypeError('not a checkpoint this build reads');
      },
    });
    await second.start();
    expect(second.state).to.deep.equal(['before', 'jwt-before']);
    await second.stop();
  });

  it('ends waitFor() at a position whose event the filter skips', async () => {
    const { position } = await store.append('access-1', [access('jwt-only', 'jwt')]);
    let reached = false;
    void projection.waitFor(position).then(() => (reached = true));
    await eventually(() => reached, { within: 5_000, what: 'waitFor() ending at a skipped position' });
    expect(projection.state).to.deep.equal(['before']);
  });
});

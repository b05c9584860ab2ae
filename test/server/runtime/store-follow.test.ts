// /readyz's store and subscription lines: the store's head sampled against the configuration subscription; store away → degraded, behind → not ready.
import { randomUUID } from 'node:crypto';

import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import type { Position } from '../../../core/store/position.js';
import { StoreFollowWatch } from '../../../server/runtime/store-follow.js';
import { startRuntime } from '../fixtures.js';

describe('server/runtime/store-follow', () => {
  it('caught up: lag 0; a subscription still behind the previous head is not ready, and says by how much', async () => {
    const store = new MemoryEventStore({ clock: new ManualClock(0) });
    for (let i = 0; i < 5; i++) await store.append(`s-${i}`, [{ id: randomUUID(), type: 'Noted', data: {} }]);
    let at: Position | undefined = await store.headPosition();
    const follow = new StoreFollowWatch(store, () => at, silentLogger);
    await follow.sample();
    expect(follow.lag).to.equal(0);
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: true });
    expect(follow.storeStatus()).to.deep.equal({ ready: true });

    const behind = at;
    for (let i = 0; i < 3; i++) await store.append(`t-${i}`, [{ id: randomUUID(), type: 'Noted', data: {} }]);
    await follow.sample(); // the head moved; the subscription gets a sample's time to reach it
    expect(follow.lag).to.equal(3);
    expect(follow.subscriptionStatus().ready).to.equal(true);
    await follow.sample();
    at = behind;
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: false, detail: '3 positions behind the store head' });
    at = await store.headPosition();
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: true });
  });

  it('a store that stops answering: ready but degraded (the last known settings stay in force), and back', async () => {
    const store = new MemoryEventStore({ clock: new ManualClock(0) });
    let down = false;
    const flaky = Object.assign(Object.create(store) as MemoryEventStore, {
      headPosition: () => (down ? Promise.reject(new Error('connection refused')) : store.headPosition()),
    });
    const follow = new StoreFollowWatch(flaky, () => undefined, silentLogger);
    await follow.sample();
    down = true;
    await follow.sample();
    expect(follow.storeStatus()).to.deep.equal({ ready: true, degraded: true, detail: 'store unavailable (connection refused): serving the last known settings' });
    down = false;
    await follow.sample();
    expect(follow.storeStatus()).to.deep.equal({ ready: true });
  });

  it('the runtime reports store and subscription in readiness, and degraded when a check is', async () => {
    const { runtime, store } = await startRuntime();
    try {
      let down = false;
      const flaky = Object.assign(Object.create(store) as MemoryEventStore, {
        headPosition: () => (down ? Promise.reject(new Error('timeout')) : store.headPosition()),
      });
      runtime.follow = new StoreFollowWatch(flaky, () => runtime.projection.position, silentLogger);
      await runtime.follow.sample();
      expect(runtime.readiness()).to.deep.include({ ready: true, degraded: false });
      expect(runtime.readiness().checks).to.deep.include({ store: { ready: true }, subscription: { ready: true } });
      down = true;
      await runtime.follow.sample();
      expect(runtime.readiness()).to.deep.include({ ready: true, degraded: true });
    } finally {
      await runtime.close();
    }
  });
});

// /readyz's store and subscription lines: the store's head sampled against the configuration and token subscriptions; not compared yet or behind → not ready, store away → degraded.
import { randomUUID } from 'node:crypto';

import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import type { Position } from '../../../core/store/position.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import { StoreFollowWatch } from '../../../server/runtime/store-follow.js';
import { earliest, followStore } from '../../../server/serve.js';
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

  it('not ready before the head has been read once, then ready when the subscription has reached it', async () => {
    const store = new MemoryEventStore({ clock: new ManualClock(0) });
    for (let i = 0; i < 3; i++) await store.append(`s-${i}`, [{ id: randomUUID(), type: 'Noted', data: {} }]);
    let at: Position | undefined;
    const follow = new StoreFollowWatch(store, () => at, silentLogger);
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: false, detail: 'not compared with the store head yet' });
    await follow.sample();
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: false, detail: '3 positions behind the store head' });
    at = await store.headPosition();
    expect(follow.subscriptionStatus()).to.deep.equal({ ready: true });
  });

  it('serve follows the token subscription too: a node whose token index lags is not ready', async () => {
    const { runtime, store } = await startRuntime();
    try {
      await store.append('settings', [{ id: randomUUID(), type: 'SettingsChanged', data: { patch: { enabled: true } } }]);
      await runtime.projection.waitFor((await store.headPosition())!);
      // The token projection stopped short of the head (as one still replaying after a restart would be).
      const tokensBehind = Object.create(runtime.tokens) as typeof runtime.tokens;
      Object.defineProperty(tokensBehind, 'position', { get: () => undefined });
      const follow = followStore(Object.assign(Object.create(runtime) as Runtime, { tokens: tokensBehind }), store, silentLogger);
      try {
        await follow.sample();
        expect(follow.subscriptionStatus().ready).to.equal(false);
      } finally {
        follow.stop();
      }
      const both = followStore(runtime, store, silentLogger);
      try {
        await both.sample();
        await runtime.tokens.waitFor((await store.headPosition())!);
        expect(both.subscriptionStatus()).to.deep.equal({ ready: true });
      } finally {
        both.stop();
      }
    } finally {
      await runtime.close();
    }
  });

  it('earliest: the position further behind; nothing folded counts as furthest', () => {
    const p = (n: number) => String(n) as Position;
    expect(earliest(p(7), p(12))).to.equal('7');
    expect(earliest(p(12), p(7))).to.equal('7');
    expect(earliest(undefined, p(7))).to.equal(undefined);
    expect(earliest(p(7), undefined)).to.equal(undefined);
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

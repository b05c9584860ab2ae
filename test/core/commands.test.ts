// Commands validate before they append, honour If-Match, append nothing for no-ops, and restart from checkpoints.
import { expect } from 'chai';
import { systemClock } from '../../core/clock.js';
import { ConflictError, PreconditionFailedError, ValidationError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { ConfigCommands } from '../../core/commands.js';
import type { Projection } from '../../core/projection.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { initialConfigState, type ConfigState } from '../../core/settings/config-state.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import type { EventStore, Position } from '../../core/store/port.js';
import { plugins as staticPlugins } from '../fixtures/static-provider.js';

const ctx = { actor: 'admin', sourceIp: '127.0.0.1', correlationId: 'c-1' };
const start = (store: EventStore) =>
  Runtime.start({ store, plugins: staticPlugins, fetch: globalThis.fetch, clock: systemClock, logger: silentLogger });

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('core/commands', () => {
  let store: MemoryEventStore;
  let runtime: Runtime;
  beforeEach(async () => {
    store = new MemoryEventStore();
    runtime = await start(store);
  });
  afterEach(() => runtime.close());

  it('changes settings, records the actor, and the pipeline follows', async () => {
    const state = await runtime.commands.changeSettings({ enabled: false }, 0, ctx);
    expect(state.settingsRevision).to.equal(1);
    await runtime.whenCompiled();
    expect(runtime.compiled.settings.enabled).to.equal(false);
    const [e] = await store.readStream('settings');
    expect(e).to.deep.include({ type: 'SettingsChanged', data: { patch: { enabled: false } } });
    expect(e?.metadata).to.include({ actor: 'admin', sourceIp: '127.0.0.1', correlationId: 'c-1' });
  });

  it('lists every invalid field and appends nothing', async () => {
    const err = await caught(runtime.commands.changeSettings({ enabled: 'yes', audit: { enabled: 1 }, nope: true }, undefined, ctx));
    expect(err).to.be.instanceOf(ValidationError);
    const paths = (err as ValidationError).fields.map((f) => f.path).sort();
    expect(paths).to.include.members(['enabled', 'audit.enabled']);
    expect(paths.some((p) => p === '' || p.includes('nope') || p === '(root)')).to.equal(true);
    expect(await store.readAll()).to.have.length(0);
  });

  it('refuses a stale If-Match with 412 and accepts the current one', async () => {
    await runtime.commands.changeSettings({ enabled: false }, 0, ctx);
    const err = await caught(runtime.commands.changeSettings({ enabled: true }, 0, ctx));
    expect(err).to.be.instanceOf(PreconditionFailedError);
    expect((err as PreconditionFailedError).status).to.equal(412);
    expect((await runtime.commands.changeSettings({ enabled: true }, 1, ctx)).settingsRevision).to.equal(2);
  });

  it('turns a lost race into 409 without If-Match and 412 with it', async () => {
    // A projection that has not yet seen the other writer's event: the append must not silently win.
    await store.append('settings', [{ id: 'other-writer', type: 'SettingsChanged', data: { patch: { enabled: false } } }]);
    const stale = { state: initialConfigState, waitFor: async () => {} } as unknown as Projection<ConfigState>;
    const commands = new ConfigCommands(store, stale, staticPlugins);
    expect(await caught(commands.changeSettings({ audit: { enabled: false } }, undefined, ctx))).to.be.instanceOf(ConflictError);
    expect(await caught(commands.changeSettings({ audit: { enabled: false } }, 0, ctx))).to.be.instanceOf(PreconditionFailedError);
    expect(await store.readStream('settings')).to.have.length(1);
  });

  /** The node's projection as a node a few ms behind sees it: `state` until it waits for the store's head. */
  const projectionBehind = (state: ConfigState): Projection<ConfigState> => {
    const behind = {
      state,
      waitFor: async (position: Position) => {
        await runtime.projection.waitFor(position);
        behind.state = runtime.projection.state;
      },
    };
    return behind as unknown as Projection<ConfigState>;
  };

  it('without If-Match, catches up with the store and decides again when another node changed the settings first', async () => {
    await store.append('settings', [{ id: 'other-node', type: 'SettingsChanged', data: { patch: { enabled: false } } }]);
    // This node is one event behind until it waits for the store's head (as a node a few ms behind is).
    const commands = new ConfigCommands(store, projectionBehind(initialConfigState), staticPlugins);
    const state = await commands.changeSettings({ audit: { enabled: false } }, undefined, ctx);
    expect(state.settingsRevision).to.equal(2);
    expect(state.settings.enabled, "the other node's change is kept").to.equal(false);
    expect((await store.readStream('settings')).map((e) => e.data)).to.deep.equal([{ patch: { enabled: false } }, { patch: { audit: { enabled: false } } }]);
  });

  it('without If-Match, configures a provider on the latest revision when another node changed it first', async () => {
    const body = { kind: 'static', config: { tokens: { t1: { username: 'ann' } } } };
    await runtime.commands.configureProvider('p1', body, undefined, ctx);
    const seen = runtime.projection.state;
    await store.append('provider-p1', [{ id: 'other-node', type: 'ProviderConfigured', data: { id: 'p1', ...body, enabled: false, order: 0 } }]);
    const commands = new ConfigCommands(store, projectionBehind(seen), staticPlugins);
    const record = await commands.configureProvider('p1', { ...body, order: 5 }, undefined, ctx);
    expect(record).to.include({ revision: 3, enabled: true, order: 5 });
  });

  it('appends nothing when a patch changes nothing', async () => {
    await runtime.commands.changeSettings({ enabled: false }, undefined, ctx);
    const again = await runtime.commands.changeSettings({ enabled: false }, undefined, ctx);
    expect(again.settingsRevision).to.equal(1);
    expect(await store.readStream('settings')).to.have.length(1);
  });

  it('validates provider kind and config with field paths', async () => {
    const kind = await caught(runtime.commands.configureProvider('p1', { kind: 'nope', config: {} }, undefined, ctx));
    expect((kind as ValidationError).fields.map((f) => f.path)).to.deep.equal(['kind']);
    const cfg = await caught(runtime.commands.configureProvider('p1', { kind: 'static', config: { tokens: 3 } }, undefined, ctx));
    expect((cfg as ValidationError).fields.map((f) => f.path)).to.deep.equal(['config.tokens']);
    const id = await caught(runtime.commands.configureProvider('Bad_Id', { kind: 'static', config: { tokens: {} } }, undefined, ctx));
    expect((id as ValidationError).fields[0]?.path).to.equal('id');
    expect(await store.readAll()).to.have.length(0);
  });

  it('configures, re-configures idempotently and removes a provider', async () => {
    const body = { kind: 'static', config: { tokens: { t1: { username: 'ann' } } } };
    const r1 = await runtime.commands.configureProvider('p1', body, undefined, ctx);
    expect(r1).to.include({ revision: 1, enabled: true, order: 0 });
    const r2 = await runtime.commands.configureProvider('p1', body, 1, ctx);
    expect(r2.revision, 'same config appends nothing').to.equal(1);
    await runtime.whenCompiled();
    expect([...runtime.compiled.providers.keys()]).to.deep.equal(['p1']);
    expect(await caught(runtime.commands.removeProvider('p1', 5, ctx))).to.be.instanceOf(PreconditionFailedError);
    await runtime.commands.removeProvider('p1', 1, ctx);
    await runtime.whenCompiled();
    expect(runtime.compiled.providers.size).to.equal(0);
  });

  it('creates the admin token once; a second runtime on the same store creates none', async () => {
    const token = await runtime.ensureAdminToken();
    expect(token).to.match(/^pca_[A-Za-z0-9_-]{43}$/);
    expect(runtime.isAdminToken(token!)).to.equal(true);
    expect(runtime.isAdminToken(`${token}x`)).to.equal(false);
    const [e] = await store.readStream('admin');
    expect(JSON.stringify(e)).to.not.include(token!);
    const other = await start(store);
    try {
      expect(await other.ensureAdminToken()).to.equal(undefined);
      expect(other.isAdminToken(token!)).to.equal(true);
    } finally {
      await other.close();
    }
  });

  it('restarts from its checkpoint without replaying the history again', async () => {
    for (let i = 0; i < 5; i++) await runtime.commands.changeSettings({ enabled: i % 2 === 0 }, undefined, ctx);
    await runtime.close();
    const reads: number[] = [];
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop === 'readAll' && typeof value === 'function') {
          return async (...args: unknown[]) => {
            const events = await (value as (...a: unknown[]) => Promise<unknown[]>).apply(target, args);
            reads.push(events.length);
            return events;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    runtime = await start(counting);
    expect(runtime.projection.state.settingsRevision).to.equal(5);
    expect(runtime.projection.state.settings.enabled).to.equal(true);
    expect(reads.reduce((a, b) => a + b, 0), 'events re-read at start').to.equal(0);
  });
});

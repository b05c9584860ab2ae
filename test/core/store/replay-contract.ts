// Part of the adapter contract: a replay from the first event gives the state a running runtime's live projections hold, at every point of a realistic history.
import { expect } from 'chai';

import type { Decision } from '../../../core/access.js';
import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { replayState } from '../../../core/replay.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { SecretBox } from '../../../core/secrets.js';
import { stateDocument, stateHash } from '../../../core/state-document.js';
import type { EventStore, Position } from '../../../core/store/port.js';
import type { TokenIndex } from '../../../core/tokens/token-index.js';
import { builtinPlugins, PluginRegistry } from '../../../providers/registry.js';
import { request } from '../../fixtures/requests.js';
import { staticPlugin, tokenHash } from '../../fixtures/static-provider.js';

const plugins = new PluginRegistry([...builtinPlugins, staticPlugin]);
const secretFieldsOf = (kind: string): readonly string[] => plugins.get(kind)?.secretFields ?? [];
const noNetwork: typeof globalThis.fetch = () => Promise.reject(new TypeError('no network in this test'));
const allowed: Decision = { allow: true, status: 200, reason: 'authenticated', stage: 'pipeline', trace: [], credentialConsumed: false };
/** Token states are judged at one fixed instant on both sides, a year from now (some tokens have expired by then). */
const JUDGED_AT = Date.now() + 365 * 86_400_000;

const records = (tokens: TokenIndex) => [...tokens.all()];
const hashOf = (runtimeOrReplay: { config: Parameters<typeof stateDocument>[0]; tokens: TokenIndex }): string =>
  stateHash(stateDocument(runtimeOrReplay.config, runtimeOrReplay.tokens, secretFieldsOf, JUDGED_AT));

export function replayMatchesLive(name: string, make: () => Promise<EventStore>, cleanup?: () => Promise<void> | void): void {
  describe(`${name}: replay against the live projections`, () => {
    let store: EventStore;
    let runtime: Runtime | undefined;

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      await runtime?.close();
      runtime = undefined;
      await store.close();
      await cleanup?.();
    });

    it('replays from the first event to the state (and hash) the live projections held after every step of a realistic history', async () => {
      const secrets = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());
      const live = await Runtime.start({ store, plugins, fetch: noNetwork, clock: systemClock, logger: silentLogger, secrets });
      runtime = live;
      const admin = { actor: 'admin', sourceIp: '127.0.0.1' };
      const decide = async (n: number) => {
        for (let i = 0; i < n; i++) live.recordDecision(request({ id: `r-${Math.random()}` }), allowed);
        await live.audit.flush();
      };
      const checkpoints: { position: Position; hash: string; live: ReturnType<typeof snapshot> }[] = [];
      const snapshot = () => ({ config: live.projection.state, tokens: records(live.tokens.state) });
      const step = async (work: () => Promise<unknown>) => {
        await work();
        checkpoints.push({ position: (await store.headPosition())!, hash: hashOf({ config: live.projection.state, tokens: live.tokens.state }), live: snapshot() });
      };

      await step(() => live.ensureAdminToken());
      await step(() => live.commands.changeSettings({ rateLimit: { enabled: true, limit: 100 }, tokens: { maxExpiryDays: false } }, undefined, admin));
      await step(() => live.commands.configureProvider('keys', { kind: 'jwt-key', config: { secret: 'k'.repeat(32), issuer: 'https://keys.example' } }, undefined, admin));
      await step(() =>
        live.commands.configureProvider('corp', { kind: 'static', config: { tokens: { [tokenHash('t-alice')]: { username: 'alice' } } }, order: 1 }, undefined, admin),
      );
      await decide(5);
      let alice = '';
      await step(async () => {
        alice = (await live.tokenCommands.issue({ owner: 'alice', name: 'laptop', groups: ['dev'], expiresInDays: 30 }, admin)).record.id;
      });
      await step(() => live.tokenCommands.issue({ owner: 'bob', name: 'ci', kind: 'service', expiresInDays: null, pathPrefixes: ['/api/'] }, { actor: 'cli' }));
      await step(() => live.tokenCommands.issue({ owner: 'bob', name: 'backup', ipAllow: ['10.0.0.0/8'], expiresInDays: 400 }, admin));
      await decide(3);
      await step(() => live.commands.changeSettings({ ip: { allow: ['10.0.0.0/8'] }, rateLimit: { limit: null } }, undefined, admin));
      await step(() =>
        live.commands.configureProvider('keys', { kind: 'jwt-key', config: { secret: 's'.repeat(32), issuer: 'https://keys.example' }, order: 2 }, undefined, admin),
      );
      await step(() => live.tokenCommands.revoke(alice, 'laptop lost', admin));
      await step(() => live.commands.removeProvider('corp', undefined, admin));
      await decide(4);
      await step(() => live.commands.changeSettings({ enabled: false, groups: { allowed: ['dev', 'ops'] }, paths: { bypass: ['/health'] } }, undefined, admin));
      await step(() => live.tokenCommands.revokeAllOf('bob', undefined, admin));
      await step(() => live.commands.configureProvider('corp', { kind: 'static', config: { tokens: {} }, enabled: false }, undefined, admin));

      expect(new Set(checkpoints.map((c) => c.hash)).size, 'every step changed the state').to.equal(checkpoints.length);
      for (const point of checkpoints) {
        const replayed = await replayState(store, { kind: 'position', position: point.position }, Date.now());
        expect(hashOf(replayed), `as of position ${point.position}`).to.equal(point.hash);
        expect(replayed.config, `configuration as of ${point.position}`).to.deep.equal(point.live.config);
        expect(records(replayed.tokens), `tokens as of ${point.position}`).to.deep.equal(point.live.tokens);
      }

      const whole = await replayState(store, undefined, Date.now());
      expect(hashOf(whole)).to.equal(hashOf({ config: live.projection.state, tokens: live.tokens.state }));
      expect(hashOf(whole)).to.equal(checkpoints.at(-1)!.hash);

      // A runtime started afresh resumes from its checkpoints: the same state again.
      await live.close();
      runtime = await Runtime.start({ store, plugins, fetch: noNetwork, clock: systemClock, logger: silentLogger, secrets });
      expect(hashOf({ config: runtime.projection.state, tokens: runtime.tokens.state })).to.equal(hashOf(whole));
    });
  });
}

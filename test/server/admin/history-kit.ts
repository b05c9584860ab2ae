// A runtime with a provider kind that has a secret field, its admin API, and a realistic history made through that API (one hour between changes).
import type { Server } from 'node:http';

import { expect } from 'chai';
import request from 'supertest';

import type { Decision } from '../../../core/access.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { SecretBox } from '../../../core/secrets.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { builtinPlugins, PluginRegistry } from '../../../providers/registry.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { request as accessRequest } from '../../fixtures/requests.js';
import { staticPlugin, tokenHash } from '../../fixtures/static-provider.js';
import { ADMIN_TOKEN, FIXED_TIME, listen, type Listening } from '../fixtures.js';

export const HOUR = 3_600_000;
/** `jwt-key`'s shared secrets in the history: no answer may show them, sealed or not. */
export const SECRET_A = 'first-shared-secret-0123456789ab';
export const SECRET_B = 'second-shared-secret-0123456789a';

const allowed: Decision = { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', trace: [], credentialConsumed: false };

export interface Kit {
  readonly runtime: Runtime;
  readonly store: MemoryEventStore;
  readonly clock: ManualClock;
  /** The admin app's address, for calls this kit does not make. */
  readonly url: string;
  /** Its server: how many connections it holds. */
  readonly server: Server;
  /** GET (or another method) with the admin token; fails the test when the answer shows a secret, a sealed value or a token hash. */
  call(path: string, method?: 'get' | 'put' | 'patch' | 'post' | 'delete', body?: object): Promise<request.Response>;
  /** GET without that check: the raw event feed shows events as stored (token hashes, sealed secrets). */
  getRaw(path: string): Promise<request.Response>;
  close(): Promise<void>;
}

export async function startKit(): Promise<Kit> {
  const clock = new ManualClock(FIXED_TIME);
  const store = new MemoryEventStore({ clock });
  const plugins = new PluginRegistry([...builtinPlugins, staticPlugin]);
  const secrets = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());
  const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: ADMIN_TOKEN, secrets });
  const listening: Listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
  const forbidden = [SECRET_A, SECRET_B, 'enc:v1:'];
  return {
    runtime,
    store,
    clock,
    url: listening.url,
    server: listening.server,
    async call(path, method = 'get', body) {
      let test = request(listening.url)[method](path).set('authorization', `Bearer ${ADMIN_TOKEN}`);
      if (body !== undefined) test = test.send(body);
      const res = await test;
      const hashes = [...runtime.tokens.state.all()].map((t) => t.hash);
      for (const secret of [...forbidden, ...hashes]) expect(res.text ?? '', `${method} ${path} shows a secret`).not.to.include(secret);
      if (method === 'post' && res.status === 201 && typeof res.body.token === 'string') forbidden.push(res.body.token as string);
      return res;
    },
    getRaw: (path) => request(listening.url).get(path).set('authorization', `Bearer ${ADMIN_TOKEN}`),
    async close() {
      await listening.close();
      await runtime.close();
    },
  };
}

export interface Built {
  /** The instant of each change, by name. */
  readonly at: Readonly<Record<string, number>>;
  readonly alice: string;
  readonly bob: string;
}

/**
 * 06:07:08 settings · +1h provider keys · +2h provider corp · +3h alice's token (+ decisions) ·
 * +4h settings · +5h keys' secret and order · +6h bob's token (cli) · +7h alice revoked ·
 * +8h corp removed · +9h settings key removed. Ends one hour after the last change.
 */
export async function buildHistory(kit: Kit): Promise<Built> {
  const at: Record<string, number> = {};
  const change = async (name: string, work: () => Promise<request.Response | unknown>) => {
    at[name] = kit.clock.now();
    const res = await work();
    if (res && typeof res === 'object' && 'status' in res) expect((res as request.Response).status, (res as request.Response).text).to.be.within(200, 299);
    kit.clock.advance(HOUR);
  };
  await change('settings1', () => kit.call('/api/v1/settings', 'patch', { rateLimit: { enabled: true, limit: 100 } }));
  await change('keys', () => kit.call('/api/v1/providers/keys', 'put', { kind: 'jwt-key', config: { secret: SECRET_A, issuer: 'https://keys.example' } }));
  await change('corp', () => kit.call('/api/v1/providers/corp', 'put', { kind: 'static', config: { tokens: { [tokenHash('t')]: { username: 'carol' } } }, order: 1 }));
  let alice = '';
  await change('alice', async () => {
    const res = await kit.call('/api/v1/tokens', 'post', { owner: 'alice', name: 'laptop', groups: ['dev'], expiresInDays: 90 });
    alice = res.body.id as string;
    for (let i = 0; i < 3; i++) kit.runtime.recordDecision(accessRequest({ id: `r${i}` }), allowed);
    await kit.runtime.audit.flush();
    return res;
  });
  await change('settings2', () => kit.call('/api/v1/settings', 'patch', { rateLimit: { limit: 50 }, ip: { allow: ['10.0.0.0/8'] } }));
  await change('keysAgain', () => kit.call('/api/v1/providers/keys', 'put', { kind: 'jwt-key', config: { secret: SECRET_B, issuer: 'https://keys.example' }, order: 2 }));
  let bob = '';
  await change('bob', async () => {
    bob = (await kit.runtime.tokenCommands.issue({ owner: 'bob', name: 'ci', kind: 'service', expiresInDays: 30 }, { actor: 'cli' })).record.id;
  });
  await change('revoke', () => kit.call(`/api/v1/tokens/${alice}?reason=lost`, 'delete'));
  await change('removeCorp', () => kit.call('/api/v1/providers/corp', 'delete'));
  await change('settings3', () => kit.call('/api/v1/settings', 'patch', { rateLimit: null }));
  return { at, alice, bob };
}

// JSON bodies: one parser for every endpoint, refusing nesting past the limit with 400 before any handler walks it.
import { expect } from 'chai';
import { Agent } from 'undici';

import { silentLogger } from '../../core/logger.js';
import type { Runtime } from '../../server/runtime/runtime.js';
import { createAdminApp } from '../../server/admin/app.js';
import { createGatewayApp } from '../../server/gateway/app.js';
import { MAX_JSON_DEPTH, nestedDeeperThan } from '../../server/json-body.js';
import { UpstreamProxy } from '../../server/gateway/proxy.js';
import { ADMIN_TOKEN, changeSettings, configureStatic, listen, send, startRuntime, type Listening } from './fixtures.js';

const objects = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const arrays = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('server/json-body', () => {
  describe('nestedDeeperThan', () => {
    it('counts objects and arrays, the top-level value being depth 1', () => {
      expect(nestedDeeperThan(JSON.parse(objects(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).to.equal(false);
      expect(nestedDeeperThan(JSON.parse(objects(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).to.equal(true);
      expect(nestedDeeperThan(JSON.parse(arrays(3)), 3)).to.equal(false);
      expect(nestedDeeperThan(JSON.parse(arrays(4)), 3)).to.equal(true);
      expect(nestedDeeperThan({ a: [1, { b: [] }], c: 'x' }, 4)).to.equal(false);
      expect(nestedDeeperThan({ a: [1, { b: [[]] }], c: 'x' }, 4)).to.equal(true);
      for (const scalar of [1, 'x', null, undefined, true]) expect(nestedDeeperThan(scalar, 0)).to.equal(false);
    });

    it('walks a million levels without overflowing the stack', () => {
      expect(nestedDeeperThan(JSON.parse(arrays(1_000_000)), MAX_JSON_DEPTH)).to.equal(true);
    });
  });

  describe('on the admin API', () => {
    let runtime: Runtime;
    let admin: Listening;
    let client: Agent;

    beforeEach(async () => {
      ({ runtime } = await startRuntime());
      admin = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
      client = new Agent();
    });

    afterEach(async () => {
      await client.close();
      await admin.close();
      await runtime.close();
    });

    const call = (method: string, path: string, body: string, type = 'application/json') =>
      send(client, admin.url + path, { method, body, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': type } });

    it('refuses a settings merge patch nested 5,000 deep with 400 invalid_request (it was a 500, a stack overflow)', async () => {
      const before = runtime.projection.state.settingsRevision;
      for (const type of ['application/json', 'application/merge-patch+json']) {
        const res = await call('PATCH', '/api/v1/settings', objects(5000), type);
        expect(res.status, res.text).to.equal(400);
        expect(res.json.error).to.equal('invalid_request');
      }
      expect(runtime.projection.state.settingsRevision).to.equal(before);
    });

    it('refuses a nested body on the other routes too, before their handler runs', async () => {
      const deep = await call('POST', '/api/v1/tokens', `{"owner":"eve","name":"t","x":${arrays(MAX_JSON_DEPTH)}}`);
      expect(deep.status, deep.text).to.equal(400);
      expect(deep.json.error).to.equal('invalid_request');
      expect(runtime.tokens.state.ofOwner('eve')).to.have.length(0);
    });

    it('still takes an ordinary body', async () => {
      const res = await call('PATCH', '/api/v1/settings', '{"audit":{"enabled":true}}', 'application/merge-patch+json');
      expect(res.status, res.text).to.equal(200);
    });
  });

  describe('on the self-service token endpoint', () => {
    it('refuses a nested body with 400 invalid_request and issues nothing', async () => {
      const { runtime } = await startRuntime();
      await configureStatic(runtime, 'p1', { 'tok-alice': { username: 'alice', groups: ['devs'] } });
      await changeSettings(runtime, { groups: { tokenCreators: ['devs'] }, tokens: { allowUserCreate: true } });
      // Never reached: the body is refused before anything is proxied.
      const proxy = new UpstreamProxy({ upstream: new URL('http://127.0.0.1:9'), timeoutMs: 1000, logger: silentLogger, isTrustedProxy: () => false });
      const gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
      const client = new Agent();
      try {
        const post = (body: string) =>
          send(client, `${gateway.url}/_portcullis/tokens`, { method: 'POST', body, headers: { authorization: 'Bearer tok-alice', 'content-type': 'application/json' } });
        const deep = await post(`{"name":"t","x":${arrays(5000)}}`);
        expect(deep.status, deep.text).to.equal(400);
        expect(deep.json.error).to.equal('invalid_request');
        expect(runtime.tokens.state.ofOwner('alice')).to.have.length(0);
        expect((await post('{"name":"t"}')).status, 'an ordinary body is taken').to.equal(201);
      } finally {
        await client.close();
        await gateway.close();
        await proxy.close();
        await runtime.close();
      }
    });
  });
});

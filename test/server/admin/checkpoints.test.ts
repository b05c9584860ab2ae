// GET /api/v1/checkpoints: the signed checkpoints, oldest first, paged, behind the admin token.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';
import request from 'supertest';

import { checkpointKey, hasValidSignature } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner } from '../../../core/checkpoints/signer.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { ADMIN_TOKEN, listen, startRuntime, type Listening } from '../fixtures.js';

describe('server/admin checkpoints', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let listening: Listening;

  beforeEach(async () => {
    let clock;
    ({ runtime, store, clock } = await startRuntime());
    listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
    const signer = new CheckpointSigner(store, checkpointKey(generateKeyPairSync('ed25519').privateKey), clock, silentLogger, { everyEvents: 1, everySeconds: 60 });
    for (let i = 0; i < 3; i++) {
      await store.append('s-1', [{ id: `e${i}`, type: 'Tested', data: { i } }]);
      await signer.tick();
    }
  });

  afterEach(async () => {
    await listening.close();
    await runtime.close();
  });

  /** `token` null: no Authorization header at all. */
  const get = (path: string, token: string | null = ADMIN_TOKEN) => {
    const call = request(listening.url).get(path);
    return token === null ? call : call.set('authorization', `Bearer ${token}`);
  };

  it('lists every checkpoint, oldest first, each verifiable on its own, and the store verifies against them', async () => {
    const res = await get('/api/v1/checkpoints');
    expect(res.status, res.text).to.equal(200);
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(res.body.next).to.equal(null);
    const checkpoints = res.body.checkpoints as Parameters<typeof hasValidSignature>[0][];
    expect(checkpoints.map((c) => c.count)).to.deep.equal([1, 3, 5]);
    expect(checkpoints.every(hasValidSignature)).to.equal(true);
    expect(await verifyHistory(store, { exported: checkpoints })).to.deep.include({ ok: true });
  });

  it('pages with from and limit; next is the from of the next page', async () => {
    const first = await get('/api/v1/checkpoints?limit=2');
    expect(first.body.checkpoints.map((c: { count: number }) => c.count)).to.deep.equal([1, 3]);
    expect(first.body.next).to.equal(2);
    const second = await get('/api/v1/checkpoints?from=2&limit=2');
    expect(second.body).to.deep.include({ next: null });
    expect(second.body.checkpoints.map((c: { count: number }) => c.count)).to.deep.equal([5]);
  });

  it('refuses a call without the admin token (401), and bad paging with 400 invalid_request', async () => {
    expect((await get('/api/v1/checkpoints', null)).status).to.equal(401);
    expect((await get('/api/v1/checkpoints', 'not-the-token-0123456789abcdef')).body.error).to.equal('unauthorized');
    for (const query of ['limit=0', 'limit=10001', 'from=-1', 'from=x', 'limit=1.5', 'from=1&from=2']) {
      const res = await get(`/api/v1/checkpoints?${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.body.error, query).to.equal('invalid_request');
    }
  });
});

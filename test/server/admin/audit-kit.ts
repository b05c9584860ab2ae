// A runtime whose decision log holds a small known set of decisions over two days, and its admin API.
import request from 'supertest';

import type { DecisionRecord } from '../../../core/decision-log/record.js';
import { silentLogger } from '../../../core/logger.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { ADMIN_TOKEN, listen, startRuntime, type Listening } from '../fixtures.js';

/** The kit's "now": noon of the day the decisions were made. */
export const NOW = Date.UTC(2026, 0, 5, 12);
export const at = (h: number, m = 0): number => Date.UTC(2026, 0, 5, h, m);

const ann = { subject: 's-ann', username: 'ann', provider: 'corp', groups: ['dev'], tokenId: 'jti-1' };
const bob = { subject: 's-bob', username: 'bob', provider: 'keys', groups: [], tokenId: 'jti-2' };

/** In recording order; requestId names each one. */
export const DECISIONS: readonly DecisionRecord[] = [
  sampleDecision({ time: at(9, 0), requestId: 'a1', identity: ann, path: '/rest/api/2/issue/1' }),
  sampleDecision({ time: at(9, 5), requestId: 'b1', identity: bob, method: 'POST', path: '/wiki/page', clientIp: '10.1.2.3', status: 201 }),
  sampleDecision({ time: at(9, 10), requestId: 'x1', identity: undefined, credential: undefined, allow: false, status: 401, reason: 'unauthenticated', clientIp: '203.0.113.9', path: '=cmd|x' }),
  sampleDecision({ time: at(10, 0), requestId: 'a2', identity: ann, allow: false, status: 403, reason: 'path_denied', path: '/admin, "x"' }),
  sampleDecision({ time: at(10, 30), requestId: 'b2', identity: bob, clientIp: '10.1.9.9', path: '/rest/api/2/search' }),
  sampleDecision({ time: at(11, 0), requestId: 'x2', identity: undefined, credential: undefined, allow: false, status: 401, reason: 'unauthenticated', clientIp: '2001:db8::1' }),
];
/** Two days earlier: outside every default range. */
export const OLD = sampleDecision({ time: Date.UTC(2026, 0, 3, 9), requestId: 'old', identity: ann });

export interface AuditKit {
  readonly store: MemoryEventStore;
  get(path: string, token?: string | null): request.Test;
  close(): Promise<void>;
}

export async function startAuditKit(): Promise<AuditKit> {
  const { runtime, store, clock } = await startRuntime();
  clock.set(NOW);
  await store.decisions.appendBlocks([sealedBlock('old', [OLD])]);
  await store.decisions.appendBlocks([sealedBlock('first', DECISIONS.slice(0, 3)), sealedBlock('second', DECISIONS.slice(3))]);
  const listening: Listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
  return {
    store,
    get: (path, token = ADMIN_TOKEN) => {
      const test = request(listening.url).get(path);
      return token === null ? test : test.set('authorization', `Bearer ${token}`);
    },
    async close() {
      await listening.close();
      await runtime.close();
    },
  };
}

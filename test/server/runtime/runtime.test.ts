// The runtime's readiness: a store that falls behind with the audit trail takes the node out of rotation before its buffer fills.
import { expect } from 'chai';
import type { Decision } from '../../../core/access.js';
import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { StoreUnavailableError, type NewEvent } from '../../../core/store/port.js';
import { request } from '../../fixtures/requests.js';

const decision: Decision = { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', trace: [], credentialConsumed: false };

describe('core/runtime readiness', () => {
  it('turns not ready at half of a small audit buffer while the store refuses the events', async () => {
    const store = new MemoryEventStore();
    let down = true;
    const refusing = {
      append: (stream: string, events: readonly NewEvent[]) => (down ? Promise.reject(new StoreUnavailableError('disk full')) : store.append(stream, events)),
      close: () => Promise.resolve(),
    };
    const runtime = await Runtime.start({
      store,
      plugins: { get: () => undefined, kinds: () => [] },
      fetch: globalThis.fetch,
      clock: systemClock,
      logger: silentLogger,
      adminToken: 'x'.repeat(32),
      auditAppender: refusing,
      audit: { maxBuffered: 1000, flushIntervalMs: 60_000, batchSize: 10_000 },
    });
    try {
      for (let i = 0; i < 499; i++) runtime.recordDecision(request({ id: `r${i}` }), decision);
      await runtime.audit.flush();
      expect(runtime.audit.written).to.equal(0);
      expect(runtime.readiness().checks.audit).to.deep.equal({ ready: true });
      runtime.recordDecision(request({ id: 'r499' }), decision);
      expect(runtime.readiness().ready).to.equal(false);
      expect(runtime.readiness().checks.audit).to.deep.equal({ ready: false, detail: '500 audit events waiting for the store' });
      down = false;
      await runtime.audit.close();
      expect(runtime.audit.written).to.equal(500);
    } finally {
      down = false;
      await runtime.close();
    }
  });
});

// The runtime's readiness: a store that falls behind with the decision log takes the node out of rotation before its buffer fills.
import { expect } from 'chai';
import type { Decision } from '../../../core/access.js';
import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import type { SealedBlock } from '../../../core/decision-log/record.js';
import { storeSink } from '../../../core/decision-log/writer.js';
import { StoreUnavailableError } from '../../../core/store/port.js';
import { request } from '../../fixtures/requests.js';

const decision: Decision = { allow: true, status: 200, reason: 'anonymous', stage: 'pipeline', trace: [], credentialConsumed: false };

describe('core/runtime readiness', () => {
  it('turns not ready at half of a small decision buffer while the store refuses the blocks', async () => {
    const store = new MemoryEventStore();
    let down = true;
    const sink = storeSink(store);
    const refusing = {
      appendBlocks: (blocks: readonly SealedBlock[]) => (down ? Promise.reject(new StoreUnavailableError('disk full')) : sink.appendBlocks(blocks)),
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
      audit: { maxBuffered: 1000, flushIntervalMs: 60_000, batchSize: 4096 },
    });
    try {
      for (let i = 0; i < 499; i++) runtime.recordDecision(request({ id: `r${i}` }), decision);
      await runtime.audit.flush();
      expect(runtime.audit.written).to.equal(0);
      expect(runtime.readiness().checks.audit).to.deep.equal({ ready: true });
      runtime.recordDecision(request({ id: 'r499' }), decision);
      expect(runtime.readiness().ready).to.equal(false);
      expect(runtime.readiness().checks.audit).to.deep.equal({ ready: false, detail: '500 decisions waiting for the store' });
      down = false;
      await runtime.audit.close();
      expect(runtime.audit.written).to.equal(500);
      expect((await store.decisions.read()).map((s) => s.decision.requestId)).to.deep.equal(Array.from({ length: 500 }, (_, i) => `r${i}`));
    } finally {
      down = false;
      await runtime.close();
    }
  });
});

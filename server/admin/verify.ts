// GET /api/v1/verify: the event history checked as `portcullis verify` checks it (the hash chain and the stored signed checkpoints), read-only.
import type Router from '@koa/router';
import { verifyHistory } from '../../core/checkpoints/verify-history.js';
import { retentionBridge } from '../../core/retention/bridge.js';
import type { EventStore } from '../../core/store/port.js';
import type { AdminState } from './context.js';
import { strictQuery } from './query.js';

export interface VerifyRoutesDeps {
  readonly store: EventStore;
}

export function registerVerifyRoutes(api: Router<AdminState>, { store }: VerifyRoutesDeps): void {
  // 200 either way: `ok` says whether the history is intact, `problem` what and where when not.
  api.get('/verify', async (ctx) => {
    strictQuery(ctx.query, {});
    // Holes retention left (each named by a RetentionApplied event) pass; any other is a break.
    ctx.body = await verifyHistory(store, { acceptGap: await retentionBridge(store) });
  });
}

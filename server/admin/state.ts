// GET /api/v1/state[?asOf=]: settings, providers and tokens now, or replayed as of a time or position; secrets masked.
import type Router from '@koa/router';
import { parseAsOf } from '../../core/as-of.js';
import type { Clock } from '../../core/clock.js';
import { replayState } from '../../core/replay.js';
import type { ConfigState } from '../../core/settings/config-state.js';
import type { SecretFieldsOf } from '../../core/state-document.js';
import type { EventStore } from '../../core/store/port.js';
import type { TokenIndex } from '../../core/tokens/token-index.js';
import type { AdminState } from './context.js';
import { strictQuery } from './query.js';
import { liveAnswer, replayAnswer } from '../state-answer.js';

export interface StateRoutesDeps {
  readonly store: EventStore;
  /** The live projections' current states. */
  readonly config: () => ConfigState;
  readonly tokens: () => TokenIndex;
  readonly secretFieldsOf: SecretFieldsOf;
  readonly clock: Clock;
}

export function registerStateRoutes(api: Router<AdminState>, deps: StateRoutesDeps): void {
  api.get('/state', async (ctx) => {
    const { asOf } = strictQuery(ctx.query, { asOf: 'one' });
    const now = deps.clock.now();
    if (asOf === undefined) {
      ctx.body = liveAnswer(deps.config(), deps.tokens(), deps.secretFieldsOf, now);
      return;
    }
    ctx.body = replayAnswer(await replayState(deps.store, parseAsOf(asOf), now), asOf, deps.secretFieldsOf);
  });
}

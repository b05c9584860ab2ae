// POST /api/v1/simulate: the recorded decisions of a range re-run through candidate settings; one JSON answer, or NDJSON progress lines then the result.
import { PassThrough } from 'node:stream';
import type Router from '@koa/router';
import { GatewayError, ValidationError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { isJsonObject } from '../../core/settings/merge-patch.js';
import { settingsSchema } from '../../core/settings/schema.js';
import { parseSimulationTime } from '../../core/simulation/range.js';
import type { EventStore } from '../../core/store/port.js';
import { validateWith } from '../../core/validate.js';
import { simulateRange } from '../runtime/simulate.js';
import type { AdminState } from './context.js';

export interface SimulateRoutesDeps {
  readonly store: EventStore;
  readonly logger: Logger;
}

const BODY_KEYS = new Set(['settings', 'from', 'to']);
/** Progress lines on a stream: one per this many decisions. */
const PROGRESS_EVERY = 50_000;
/** Simulations one process runs at once: each takes the event loop's spare turns from the gateway's requests. */
const MAX_RUNNING = 1;

function timeField(body: Record<string, unknown>, name: 'from' | 'to'): number {
  const value = body[name];
  const ms = typeof value === 'string' ? parseSimulationTime(value) : undefined;
  if (ms === undefined) throw new ValidationError(`${name} must be an ISO 8601 time with a zone`, [{ path: name, message: 'expected like 2026-12-01T00:00:00Z' }]);
  return ms;
}

export function registerSimulateRoutes(api: Router<AdminState>, { store, logger }: SimulateRoutesDeps): void {
  let running = 0;
  api.post('/simulate', async (ctx) => {
    const body: unknown = ctx.request.body;
    if (!isJsonObject(body)) throw new ValidationError('the body must be a JSON object {settings, from, to}');
    const extra = Object.keys(body).find((k) => !BODY_KEYS.has(k));
    if (extra !== undefined) throw new ValidationError(`unknown field ${extra}`, [{ path: extra, message: 'not a field of a simulation' }]);
    const from = timeField(body, 'from');
    const to = timeField(body, 'to');
    if (from >= to) throw new ValidationError('from must be before to', [{ path: 'from', message: 'not before to' }]);
    const document = body.settings ?? {};
    if (!isJsonObject(document)) throw new ValidationError('settings must be a settings document', [{ path: 'settings', message: 'expected an object' }]);
    const checked = await validateWith(settingsSchema, document);
    if (!checked.ok) throw new ValidationError('the settings are not valid', checked.issues.map((i) => ({ path: `settings.${i.path}`, message: i.message })));
    const range = { from, to };
    const echo = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    if (running >= MAX_RUNNING) {
      ctx.set('retry-after', '10');
      throw new GatewayError('simulation_in_progress', 429, 'a simulation is already running on this node; try again when it has ended');
    }
    // A caller that goes away stops its simulation at the next turn of the event loop.
    const aborted = new AbortController();
    ctx.res.once('close', () => {
      if (!ctx.res.writableFinished) aborted.abort();
    });
    running += 1;
    const options = { signal: aborted.signal };

    if (ctx.accepts('application/json', 'application/x-ndjson') !== 'application/x-ndjson') {
      try {
        ctx.body = { ...echo, ...(await simulateRange(store, checked.value, range, options)) };
      } catch (err) {
        if (!aborted.signal.aborted) throw err;
        logger.info({ from: echo.from, to: echo.to }, 'simulation stopped: the caller went away');
      } finally {
        running -= 1;
      }
      return;
    }
    // Long runs: the status and a first progress line are sent at once, then a line per PROGRESS_EVERY decisions and the result last.
    const stream = new PassThrough();
    ctx.type = 'application/x-ndjson';
    ctx.body = stream;
    const line = (value: unknown): void => void stream.write(`${JSON.stringify(value)}\n`);
    line({ progress: { decisions: 0 } });
    simulateRange(store, checked.value, range, { ...options, progressEvery: PROGRESS_EVERY, onProgress: (decisions) => line({ progress: { decisions } }) })
      .then((result) => line({ result: { ...echo, ...result } }))
      .catch((err: unknown) => {
        if (aborted.signal.aborted) return logger.info({ from: echo.from, to: echo.to }, 'simulation stopped: the caller went away');
        logger.error({ err }, 'simulation failed');
        line({ error: { code: 'simulation_failed', message: 'the simulation failed; see the server log' } });
      })
      .finally(() => {
        running -= 1;
        stream.end();
      });
  });
}

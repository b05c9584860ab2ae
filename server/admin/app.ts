// The admin listener: health, readiness and the versioned JSON admin API, behind the admin token.
import { randomBytes, randomUUID } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import { NotFoundError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { Runtime } from '../runtime/runtime.js';
import { commandContext, parseIfMatch, type AdminState } from './context.js';
import { registerAuditRoutes } from './audit.js';
import { registerCheckpointRoutes } from './checkpoints.js';
import { registerEventRoutes } from './events.js';
import { registerHistoryRoutes } from './history.js';
import { CALLBACK_PATH, registerProviderRoutes } from './providers.js';
import { registerSimulateRoutes } from './simulate.js';
import { registerStateRoutes } from './state.js';
import { registerTokenRoutes } from './tokens.js';
import { FetchTokenFlows } from './fetch-token.js';
import { adminOpenApiDocument } from './openapi.js';
import { isConsolePath, registerConsoleRoutes } from './console-routes.js';
import { registerProviderKindRoutes } from './provider-kinds.js';
import { registerVerifyRoutes } from './verify.js';
import { jsonBody } from '../json-body.js';
import { bearerChallenge, errorResponse } from '../respond.js';
import { SessionSealer } from './session-cookie.js';
import { SIGN_IN_OPEN_PATHS, adminAuthentication, registerSessionRoutes } from './session.js';

export interface AdminOptions {
  readonly runtime: Runtime;
  readonly logger: Logger;
  /** What `GET /metrics` answers (Prometheus text); without it, 404. */
  readonly metrics?: { metrics(): Promise<string>; readonly contentType: string };
  /**
   * 32 bytes that seal console session cookies (serve derives them from the secret key, so every node
   * accepts every node's cookies). Absent: a random key, so sessions last as long as this process.
   */
  readonly sessionKey?: Uint8Array;
}

const ADMIN_REALM = 'portcullis-admin';

/**
 * Reachable without the admin token: probes, metrics (for a scraper on the admin network), the OAuth
 * callback (its single-use state is the proof), and the console's sign-in steps.
 */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics', CALLBACK_PATH, ...SIGN_IN_OPEN_PATHS]);


export function createAdminApp({ runtime, logger, metrics, sessionKey }: AdminOptions): Koa<AdminState> {
  const app = new Koa<AdminState>({ proxy: false });
  app.on('error', (err: unknown) => logger.error({ err }, 'admin error outside a request'));

  app.use(async (ctx, next) => {
    ctx.state.requestId = randomUUID();
    ctx.set('x-request-id', ctx.state.requestId);
    ctx.set('cache-control', 'no-store');
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new NotFoundError(`no route ${ctx.method} ${ctx.path}`);
    } catch (err) {
      const { status, body, expected } = errorResponse(err, ctx.state.requestId);
      if (!expected) logger.error({ err, requestId: ctx.state.requestId }, 'admin request failed');
      if (status === 401) {
        // RFC 6750 §3.1: no error code when the request carried no credential at all.
        const presented = ctx.get('authorization') !== '';
        ctx.set('www-authenticate', presented ? bearerChallenge(ADMIN_REALM, 'invalid_token', body.error_description) : bearerChallenge(ADMIN_REALM));
      }
      ctx.status = status;
      ctx.body = body;
    }
  });

  const sealer = new SessionSealer(sessionKey ?? randomBytes(32), runtime.clock);
  app.use(adminAuthentication({ runtime, sealer }, (path) => OPEN_PATHS.has(path) || isConsolePath(path)));

  const { open, api } = createAdminRouters({ runtime, logger, sealer, ...(metrics ? { metrics } : {}) });
  // The console is static files that sign in (to a session cookie) and then call the API like any client.
  const consoleRouter = new Router<AdminState>({ sensitive: true, strict: true });
  registerConsoleRoutes(consoleRouter);
  app.use(consoleRouter.routes()).use(consoleRouter.allowedMethods());
  app.use(open.routes()).use(open.allowedMethods());
  app.use(api.routes()).use(api.allowedMethods());
  return app;
}

/** The admin listener's routes: `open` ones reachable without the admin token, `api` ones under /api/v1. */
export function createAdminRouters({
  runtime,
  logger,
  metrics,
  sealer = new SessionSealer(randomBytes(32), runtime.clock),
}: AdminOptions & { readonly sealer?: SessionSealer }): { open: Router<AdminState>; api: Router<AdminState> } {
  const open = new Router<AdminState>({ sensitive: true, strict: true });
  open.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  open.get('/readyz', (ctx) => {
    const readiness = runtime.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = { status: !readiness.ready ? 'not_ready' : readiness.degraded ? 'degraded' : 'ready', checks: readiness.checks };
  });
  if (metrics) {
    open.get('/metrics', async (ctx) => {
      ctx.body = await metrics.metrics();
      ctx.type = metrics.contentType;
    });
  }
  const api = new Router<AdminState>({ prefix: '/api/v1', sensitive: true });
  api.use(jsonBody({ limit: '1mb', types: ['application/json', 'application/merge-patch+json'] }));


  api.get('/settings', (ctx) => {
    const state = runtime.projection.state;
    ctx.set('etag', `"${state.settingsRevision}"`);
    ctx.body = { revision: state.settingsRevision, settings: state.settings, document: state.document };
  });

  api.patch('/settings', async (ctx) => {
    const state = await runtime.commands.changeSettings(ctx.request.body, parseIfMatch(ctx.get('if-match') || undefined), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.set('etag', `"${state.settingsRevision}"`);
    ctx.body = { revision: state.settingsRevision, settings: state.settings, document: state.document };
  });

  const flows = new FetchTokenFlows(runtime.fetch, runtime.clock);
  registerProviderRoutes(api, open, { runtime, flows });
  registerSessionRoutes(api, { runtime, sealer, flows });
  registerTokenRoutes(api, { runtime });
  registerCheckpointRoutes(api, { store: runtime.store });

  const secretFieldsOf = (kind: string): readonly string[] => runtime.plugins.get(kind)?.secretFields ?? [];
  registerStateRoutes(api, {
    store: runtime.store,
    config: () => runtime.projection.state,
    tokens: () => runtime.tokens.state,
    secretFieldsOf,
    clock: runtime.clock,
  });
  registerHistoryRoutes(api, { store: runtime.store, secretFieldsOf });
  registerEventRoutes(api, { store: runtime.store });
  registerAuditRoutes(api, { store: runtime.store, clock: runtime.clock });
  registerSimulateRoutes(api, { store: runtime.store, logger });
  registerProviderKindRoutes(api, { plugins: runtime.plugins });
  registerVerifyRoutes(api, { store: runtime.store });

  // Generated once, on first ask: the document depends on nothing that changes while serving.
  let openapi: unknown;
  api.get('/openapi.json', (ctx) => {
    openapi ??= adminOpenApiDocument();
    ctx.body = openapi;
  });
  return { open, api };
}

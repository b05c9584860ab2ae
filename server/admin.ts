// The admin listener: health, readiness and the versioned JSON admin API, behind the admin token.
import { randomUUID } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { ValidationError, UnauthorizedError, NotFoundError } from '../core/errors.js';
import type { CommandContext } from '../core/commands.js';
import type { Logger } from '../core/logger.js';
import { canonicalAddress } from '../core/net.js';
import type { Runtime } from '../core/runtime.js';
import type { ProviderRecord } from '../core/settings/config-state.js';
import type { Position } from '../core/store/port.js';
import { bearerChallenge, errorResponse } from './respond.js';

export interface AdminOptions {
  readonly runtime: Runtime;
  readonly logger: Logger;
}

const ADMIN_REALM = 'portcullis-admin';

interface AdminState {
  requestId: string;
}

/** `"12"`, `W/"12"` or `12` → 12; absent or `*` → undefined. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(value);
  if (!m) throw new ValidationError('If-Match must be a revision such as "3"', [{ path: 'If-Match', message: 'not a revision' }]);
  return Number(m[1]);
}

function providerView(record: ProviderRecord, runtime: Runtime) {
  const running = runtime.compiled.providers.get(record.id);
  return {
    id: record.id,
    kind: record.kind,
    enabled: record.enabled,
    order: record.order,
    config: record.config,
    revision: record.revision,
    updatedAt: record.updatedAt,
    status: running ? running.status() : { ready: false, detail: record.enabled ? 'not running' : 'disabled' },
  };
}

export function createAdminApp({ runtime, logger }: AdminOptions): Koa<AdminState> {
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

  const open = new Router();
  open.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  open.get('/readyz', (ctx) => {
    const readiness = runtime.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = { status: readiness.ready ? 'ready' : 'not_ready', checks: readiness.checks };
  });
  app.use(open.routes()).use(open.allowedMethods());

  const api = new Router<AdminState>({ prefix: '/api/v1' });
  api.use(async (ctx, next) => {
    const m = /^Bearer +(\S+) *$/i.exec(ctx.get('authorization'));
    if (!m) throw new UnauthorizedError('this API requires the admin token as a Bearer credential');
    if (!runtime.isAdminToken(m[1]!)) throw new UnauthorizedError('the admin token is not valid');
    await next();
  });
  api.use(
    koaBody({
      json: true,
      jsonStrict: true,
      jsonLimit: '1mb',
      multipart: false,
      urlencoded: false,
      text: false,
      jsonTypes: ['application/json', 'application/merge-patch+json'],
    }),
  );

  const commandContext = (ctx: Koa.ParameterizedContext<AdminState>): CommandContext => ({
    actor: 'admin',
    sourceIp: canonicalAddress(ctx.req.socket.remoteAddress ?? ''),
    correlationId: ctx.state.requestId,
  });

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

  api.get('/providers', (ctx) => {
    const records = Object.values(runtime.projection.state.providers).sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
    ctx.body = { providers: records.map((r) => providerView(r, runtime)) };
  });

  api.get('/providers/:id', (ctx) => {
    const record = runtime.projection.state.providers[ctx.params.id!];
    if (!record) throw new NotFoundError(`no provider ${ctx.params.id}`);
    ctx.set('etag', `"${record.revision}"`);
    ctx.body = providerView(record, runtime);
  });

  api.put('/providers/:id', async (ctx) => {
    const id = ctx.params.id!;
    const existed = runtime.projection.state.providers[id] !== undefined;
    const record = await runtime.commands.configureProvider(id, ctx.request.body, parseIfMatch(ctx.get('if-match') || undefined), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.status = existed ? 200 : 201;
    ctx.set('etag', `"${record.revision}"`);
    ctx.body = providerView(record, runtime);
  });

  api.delete('/providers/:id', async (ctx) => {
    await runtime.commands.removeProvider(ctx.params.id!, parseIfMatch(ctx.get('if-match') || undefined), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.status = 204;
  });

  api.get('/events', async (ctx) => {
    const after = typeof ctx.query.after === 'string' && ctx.query.after !== '' ? ctx.query.after : undefined;
    if (after !== undefined && !(/^(0|[1-9]\d{0,15})$/.test(after) && Number.isSafeInteger(Number(after)))) {
      throw new ValidationError('after must be a position from an earlier page', [{ path: 'after', message: 'not a position' }]);
    }
    const limit = ctx.query.limit === undefined ? 100 : Number(ctx.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new ValidationError('limit must be an integer from 1 to 1000', [{ path: 'limit', message: 'out of range' }]);
    }
    const events = await runtime.store.readAll({ ...(after ? { after: after as Position } : {}), maxCount: limit });
    ctx.body = { events, next: events.at(-1)?.position ?? after ?? null };
  });

  app.use(api.routes()).use(api.allowedMethods());
  return app;
}

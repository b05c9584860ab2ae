// Admin routes for providers: configuration, and the helpers (test token, userinfo attributes, fetch token).
import type Router from '@koa/router';
import { z } from 'zod';
import type { AccessRequest, Credential } from '../../core/access.js';
import { GatewayError, NotFoundError, ValidationError } from '../../core/errors.js';
import { UpstreamHttpError } from '../../core/http.js';
import { normalisePath } from '../../core/path.js';
import type { Provider } from '../../core/provider.js';
import type { Runtime } from '../runtime/runtime.js';
import { maskSecretFields } from '../../core/secrets.js';
import type { ProviderRecord } from '../../core/settings/config-state.js';
import { validateWith } from '../../core/validate.js';
import { commandContext, parseIfMatch, type AdminState } from './context.js';
import { attributePaths } from './attributes.js';
import { FetchTokenFlows, FlowError, type TokenAnswer } from './fetch-token.js';

export interface ProviderRoutesDeps {
  readonly runtime: Runtime;
  readonly flows: FetchTokenFlows;
}

export const CALLBACK_PATH = '/oauth/callback';

/** `POST /providers/{id}/test`. */
export const testBody = z
  .object({
    scheme: z.enum(['Bearer', 'Basic', 'bearer', 'basic']).default('Bearer'),
    token: z.string().min(1).max(16_384),
    username: z.string().min(1).max(256).optional(),
    method: z.string().regex(/^[A-Z]{1,16}$/).default('GET'),
    path: z.string().startsWith('/').max(2048).default('/'),
  })
  .strict();
/** `POST /providers/{id}/userinfo`. */
export const tokenBody = z.object({ token: z.string().min(1).max(16_384) }).strict();
/** `POST /providers/{id}/token`. */
export const clientCredentialsBody = z.object({ scope: z.string().max(1024).optional() }).strict();

/** A provider's outbound failure is the provider's answer, not our bug: 502 with its code. */
function fromProvider<T>(call: Promise<T> | undefined): Promise<T | undefined> {
  return Promise.resolve(call).catch((err: unknown) => {
    if (err instanceof UpstreamHttpError) {
      throw new GatewayError('provider_error', 502, `the provider refused or failed (${err.code}${err.status ? ` ${err.status}` : ''})`);
    }
    throw err;
  });
}

async function parse<T>(schema: z.ZodType<T>, body: unknown): Promise<T> {
  const checked = await validateWith(schema, body ?? {});
  if (!checked.ok) throw new ValidationError('the request body is not valid', checked.issues);
  return checked.value;
}

export function registerProviderRoutes(api: Router<AdminState>, open: Router<AdminState>, { runtime, flows }: ProviderRoutesDeps): void {
  const record = (id: string): ProviderRecord => {
    const r = runtime.projection.state.providers[id];
    if (!r) throw new NotFoundError(`no provider ${id}`);
    return r;
  };
  /** The running instance: configured, enabled and compiled. */
  const running = (id: string): Provider => {
    const r = record(id);
    const provider = runtime.compiled.providers.get(id);
    if (!provider) throw new GatewayError('provider_not_running', 409, r.enabled ? `provider ${id} is not running (see the log)` : `provider ${id} is disabled`);
    return provider;
  };
  const view = (r: ProviderRecord) => {
    const secretFields = runtime.plugins.get(r.kind)?.secretFields ?? [];
    const provider = runtime.compiled.providers.get(r.id);
    return {
      id: r.id,
      kind: r.kind,
      enabled: r.enabled,
      order: r.order,
      config: maskSecretFields(r.config, secretFields),
      revision: r.revision,
      updatedAt: r.updatedAt,
      status: provider ? provider.status() : { ready: false, detail: r.enabled ? 'not running' : 'disabled' },
    };
  };

  api.get('/providers', (ctx) => {
    const records = Object.values(runtime.projection.state.providers).sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
    ctx.body = { providers: records.map(view) };
  });

  api.get('/providers/:id', (ctx) => {
    const r = record(ctx.params.id!);
    ctx.set('etag', `"${r.revision}"`);
    ctx.body = view(r);
  });

  api.put('/providers/:id', async (ctx) => {
    const id = ctx.params.id!;
    const existed = runtime.projection.state.providers[id] !== undefined;
    const r = await runtime.commands.configureProvider(id, ctx.request.body, parseIfMatch(ctx.get('if-match')), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.status = existed ? 200 : 201;
    ctx.set('etag', `"${r.revision}"`);
    ctx.body = view(r);
  });

  api.delete('/providers/:id', async (ctx) => {
    await runtime.commands.removeProvider(ctx.params.id!, parseIfMatch(ctx.get('if-match')), commandContext(ctx));
    await runtime.whenCompiled();
    ctx.status = 204;
  });

  // Test token: what this provider says about the credential, and what the whole pipeline would decide.
  api.post('/providers/:id/test', async (ctx) => {
    const provider = running(ctx.params.id!);
    const body = await parse(testBody, ctx.request.body);
    const basic = body.scheme.toLowerCase() === 'basic';
    if (basic && !body.username) throw new ValidationError('Basic needs a username', [{ path: 'username', message: 'required for Basic' }]);
    const credential: Credential = basic ? { scheme: 'basic', secret: body.token, username: body.username! } : { scheme: 'bearer', secret: body.token };
    const normal = normalisePath(body.path);
    if (!normal.ok) throw new ValidationError('the path is not valid', [{ path: 'path', message: normal.error }]);
    const result = await provider.authenticate(credential);
    // Judged like live traffic: the normalised path, as the gateway would see it.
    const request: AccessRequest = {
      id: ctx.state.requestId,
      method: body.method,
      rawPath: body.path,
      path: normal.path,
      query: '',
      host: 'admin-test',
      clientIp: '127.0.0.1',
      peerIp: '127.0.0.1',
      time: runtime.clock.now(),
      credential,
    };
    // A dry run: not audited as traffic, since no request reached the gateway.
    const { allow, status, reason, stage, description, trace, identity } = await runtime.compiled.pipeline.decide(request);
    ctx.body = { provider: provider.id, result, decision: { allow, status, reason, stage, description, trace, identity } };
  });

  // Username attribute helper: the provider's raw answer and every attribute path in it.
  api.post('/providers/:id/userinfo', async (ctx) => {
    const provider = running(ctx.params.id!);
    const { token } = await parse(tokenBody, ctx.request.body);
    if (!provider.inspect) throw new GatewayError('not_supported', 409, `provider kind ${provider.kind} has no userinfo call`);
    const raw = await fromProvider(provider.inspect(token));
    ctx.body = { provider: provider.id, raw, attributes: attributePaths(raw) };
  });

  const oauthClient = async (provider: Provider) => {
    const client = await fromProvider(provider.oauthClient?.());
    if (!client) throw new GatewayError('not_supported', 409, `provider ${provider.id} has no OAuth client configured (client id, endpoints)`);
    return client;
  };

  // Fetch token, step 1: where to send the admin's browser, and the redirect URI to register at the provider.
  api.get('/providers/:id/authorize', async (ctx) => {
    const provider = running(ctx.params.id!);
    const redirectUri = `${ctx.protocol}://${ctx.host}${CALLBACK_PATH}`;
    ctx.body = flows.begin(provider.id, await oauthClient(provider), redirectUri);
  });

  // Fetch token without a browser: the client-credentials grant.
  api.post('/providers/:id/token', async (ctx) => {
    const provider = running(ctx.params.id!);
    const { scope } = await parse(clientCredentialsBody, ctx.request.body);
    ctx.body = await flows.clientCredentials(await oauthClient(provider), scope);
  });

  // Fetch token, step 2: the provider sends the browser back here. The state proves the flow; no admin token is needed.
  open.get(CALLBACK_PATH, async (ctx) => {
    ctx.set('cache-control', 'no-store');
    const q = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);
    const state = q('state');
    const error = q('error');
    if (!state) throw new FlowError('invalid_state', 400, 'the callback has no state');
    if (error) {
      flows.abandon(state);
      throw new FlowError('authorization_failed', 400, `the provider answered ${error.replace(/[^\w.-]/g, '').slice(0, 64)}`);
    }
    const code = q('code');
    if (!code) throw new FlowError('invalid_request', 400, 'the callback has no code');
    const { providerId, token } = await flows.complete(state, code);
    if (ctx.accepts('html', 'json') === 'html') {
      ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'");
      ctx.type = 'html';
      ctx.body = tokenPage(providerId, token);
    } else {
      ctx.body = token;
    }
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page the admin's browser lands on: the token, shown once, nothing loaded from elsewhere. */
function tokenPage(providerId: string, token: TokenAnswer): string {
  const rows = Object.entries(token)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd><code>${escapeHtml(String(v))}</code></dd>`)
    .join('');
  return `<!doctype html><meta charset="utf-8"><title>Portcullis: token fetched</title>
<style>body{font:15px system-ui;margin:2rem;max-width:60rem}code{word-break:break-all}dd{margin:0 0 1rem}</style>
<h1>Token from provider ${escapeHtml(providerId)}</h1>
<p>Copy it now: it is shown once and not stored.</p><dl>${rows}</dl>`;
}


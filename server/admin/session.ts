// Console sign-in (the admin token, or OpenID Connect for an admin group), the session cookie it yields, and the check every admin call passes: Bearer, or cookie plus CSRF token.
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import { decodeJwt } from 'jose';
import type Koa from 'koa';
import type { ConsoleSettings } from '../../core/settings/schema.js';
import { GatewayError, UnauthorizedError } from '../../core/errors.js';
import type { OAuthClient, Provider } from '../../core/provider.js';
import type { Runtime } from '../runtime/runtime.js';
import type { AdminContext, AdminState } from './context.js';
import { FLOW_TTL_MS, FlowError, type FetchTokenFlows } from './fetch-token.js';
import {
  CSRF_HEADER,
  SESSION_COOKIE,
  SESSION_COOKIE_PATH,
  SIGN_IN_COOKIE,
  SessionError,
  SessionSealer,
  type ConsoleSession,
} from './session-cookie.js';

export const SESSION_PATH = '/api/v1/session';
export const SIGN_IN_OPTIONS_PATH = '/api/v1/session/options';
export const OIDC_SIGN_IN_PATH = '/api/v1/session/oidc';
/** The redirect URI to register at the sign-in provider (the fetch-token helper has its own, /oauth/callback). */
export const OIDC_CALLBACK_PATH = '/api/v1/session/oidc/callback';
/** Reachable without a credential: they are how one gets a session. */
export const SIGN_IN_OPEN_PATHS: readonly string[] = [SIGN_IN_OPTIONS_PATH, OIDC_SIGN_IN_PATH, OIDC_CALLBACK_PATH];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const COOKIE_VALUE = /^[A-Za-z0-9._-]*$/;

export interface SessionDeps {
  readonly runtime: Runtime;
  readonly sealer: SessionSealer;
  readonly flows: FetchTokenFlows;
}

/**
 * Over TLS, or from a trusted proxy (settings `ip.trustedProxies`) saying `X-Forwarded-Proto: https`:
 * then cookies are `Secure` and the redirect URI is https.
 */
function isHttps(ctx: AdminContext, runtime: Runtime): boolean {
  if ('encrypted' in ctx.req.socket && ctx.req.socket.encrypted) return true;
  const peer = ctx.req.socket.remoteAddress ?? '';
  const proto = ctx.get('x-forwarded-proto').split(',')[0]?.trim().toLowerCase();
  return proto === 'https' && runtime.compiled.isTrustedProxy(peer);
}

interface CookieAttributes {
  readonly path: string;
  /** 0 removes the cookie. */
  readonly maxAgeSeconds: number;
  readonly sameSite: 'Strict' | 'Lax';
}

/** One Set-Cookie line (RFC 6265 §4.1), always HttpOnly. Koa's `cookies` writes no Max-Age and refuses Secure behind a proxy, hence this. */
function setCookie(ctx: AdminContext, runtime: Runtime, name: string, value: string, attributes: CookieAttributes): void {
  if (!COOKIE_VALUE.test(value)) throw new TypeError(`setCookie: ${name} holds characters a cookie cannot`);
  const parts = [`${name}=${value}`, `Path=${attributes.path}`, `Max-Age=${attributes.maxAgeSeconds}`, 'HttpOnly', `SameSite=${attributes.sameSite}`];
  if (isHttps(ctx, runtime)) parts.push('Secure');
  ctx.append('set-cookie', parts.join('; '));
}

const clearSessionCookie = (ctx: AdminContext, runtime: Runtime) => setCookie(ctx, runtime, SESSION_COOKIE, '', { path: SESSION_COOKIE_PATH, maxAgeSeconds: 0, sameSite: 'Strict' });

/** Signed in through the provider, and still allowed: the provider is still the sign-in provider and the groups still meet the admin groups. */
function stillAdmin(session: ConsoleSession, settings: ConsoleSettings): boolean {
  if (session.method === 'admin_token') return true;
  return session.provider === settings.signInProvider && (session.groups ?? []).some((g) => settings.adminGroups.includes(g));
}

/**
 * Every route but the open ones: `Authorization: Bearer <admin token>` (scripts, the CLI), or the
 * session cookie, with the session's CSRF token in X-CSRF-Token on anything but GET, HEAD and OPTIONS.
 * Checked for the whole app, before any router, so no spelling of a path can reach a route without it.
 */
export function adminAuthentication({ runtime, sealer }: Omit<SessionDeps, 'flows'>, isOpen: (path: string) => boolean): Koa.Middleware<AdminState> {
  return async function authenticateAdmin(ctx, next) {
    ctx.state.actor = 'admin';
    if (isOpen(ctx.path)) return next();
    const authorization = ctx.get('authorization');
    const cookie = ctx.cookies.get(SESSION_COOKIE);
    if (authorization !== '' || cookie === undefined) {
      const m = /^Bearer +(\S+) *$/i.exec(authorization);
      if (!m) throw new UnauthorizedError('this API requires the admin token as a Bearer credential, or a console session');
      if (!runtime.isAdminToken(m[1]!)) throw new UnauthorizedError('the admin token is not valid');
      return next();
    }
    let session: ConsoleSession;
    try {
      session = await sealer.openSession(cookie);
      if (!stillAdmin(session, runtime.projection.state.settings.console)) throw new SessionError('the signed-in user is no longer an admin (settings console)');
    } catch (err) {
      if (err instanceof SessionError) clearSessionCookie(ctx, runtime);
      throw err;
    }
    if (!SAFE_METHODS.has(ctx.method) && !sealer.csrfTokenMatches(session, ctx.get(CSRF_HEADER))) {
      throw new GatewayError('csrf_token_invalid', 403, `a change made with the session cookie needs the session's CSRF token in ${CSRF_HEADER}`);
    }
    ctx.state.session = session;
    ctx.state.actor = session.actor;
    await next();
  };
}

const sessionView = (session: ConsoleSession, sealer: SessionSealer) => ({
  actor: session.actor,
  method: session.method,
  ...(session.username === undefined ? {} : { username: session.username }),
  ...(session.provider === undefined ? {} : { provider: session.provider }),
  expiresAt: new Date(session.expiresAt).toISOString(),
  csrfToken: sealer.csrfToken(session),
});

export function registerSessionRoutes(api: Router<AdminState>, { runtime, sealer, flows }: SessionDeps): void {
  const consoleSettings = () => runtime.projection.state.settings.console;
  const lifetime = () => consoleSettings().sessionMinutes * 60;

  const startSession = async (ctx: AdminContext, session: Omit<ConsoleSession, 'expiresAt'>) => {
    const sealed = await sealer.sealSession(session, lifetime());
    setCookie(ctx, runtime, SESSION_COOKIE, sealed.value, { path: SESSION_COOKIE_PATH, maxAgeSeconds: lifetime(), sameSite: 'Strict' });
    return sealed.session;
  };

  api.get('/session/options', (ctx) => {
    const provider = consoleSettings().signInProvider;
    ctx.body = { adminToken: true, oidc: provider === null ? null : { provider, signInUrl: OIDC_SIGN_IN_PATH } };
  });

  api.get('/session', (ctx) => {
    const session = ctx.state.session;
    ctx.body = session ? sessionView(session, sealer) : { actor: 'admin', method: 'admin_token' };
  });

  // Sign-in with the admin token: presented once as Bearer, answered with the cookie, never kept by the console.
  api.post('/session', async (ctx) => {
    if (ctx.state.session) throw new GatewayError('invalid_request', 400, 'sign in with the admin token as a Bearer credential');
    const session = await startSession(ctx, { id: SessionSealer.newId(), actor: 'admin', method: 'admin_token' });
    ctx.status = 201;
    ctx.body = sessionView(session, sealer);
  });

  // Sign-out: the cookie is dropped from the browser. It is stateless, so a copy taken elsewhere stays valid until it expires.
  api.delete('/session', (ctx) => {
    clearSessionCookie(ctx, runtime);
    ctx.status = 204;
  });

  const signInProvider = async (id?: string): Promise<{ provider: Provider; client: OAuthClient }> => {
    const configured = consoleSettings().signInProvider;
    if (configured === null) throw new GatewayError('sign_in_not_configured', 409, 'no provider is configured for console sign-in (settings console.signInProvider)');
    if (id !== undefined && id !== configured) throw new FlowError('invalid_state', 400, 'the sign-in provider changed meanwhile: start again');
    const provider = runtime.compiled.providers.get(configured);
    if (!provider) throw new GatewayError('provider_not_running', 409, `the sign-in provider ${configured} is not running`);
    const client = await provider.oauthClient?.().catch(() => undefined);
    if (!client?.authorizationEndpoint) throw new GatewayError('not_supported', 409, `provider ${configured} has no OAuth client for the authorization code (client id, endpoints)`);
    return { provider, client };
  };

  // OIDC step 1: authorization code with PKCE, state and nonce. The flow is sealed into a cookie of this browser, so any node can finish it.
  api.get('/session/oidc', async (ctx) => {
    const { provider, client } = await signInProvider();
    const redirectUri = `${isHttps(ctx, runtime) ? 'https' : 'http'}://${ctx.host}${OIDC_CALLBACK_PATH}`;
    const nonce = randomBytes(18).toString('base64url');
    const scopes = new Set((client.scope ?? '').split(' ').filter(Boolean));
    if (provider.issuers) scopes.add('openid');
    const extra = { nonce, ...(scopes.size > 0 ? { scope: [...scopes].join(' ') } : {}) };
    const { authorizationUrl, state, verifier } = flows.authorizationRequest(client, redirectUri, extra);
    const expiresAt = runtime.clock.now() + FLOW_TTL_MS;
    const sealed = await sealer.sealFlow({ provider: provider.id, state, verifier, nonce, redirectUri, expiresAt });
    // Lax, not Strict: the provider sends the browser back from another site, and the cookie must come along.
    setCookie(ctx, runtime, SIGN_IN_COOKIE, sealed, { path: OIDC_CALLBACK_PATH, maxAgeSeconds: FLOW_TTL_MS / 1000, sameSite: 'Lax' });
    ctx.redirect(authorizationUrl);
  });

  // OIDC step 2: the state must match this browser's flow; the code is exchanged; the provider judges its own access token; the groups must meet the admin groups.
  api.get('/session/oidc/callback', async (ctx) => {
    try {
      await finishSignIn(ctx);
    } catch (err) {
      // A browser is shown the refusal with a way back; any other client gets the JSON error.
      if (!(err instanceof GatewayError) || ctx.accepts('json', 'html') !== 'html') throw err;
      ctx.status = err.status;
      ctx.set('content-security-policy', "default-src 'none'");
      ctx.type = 'html';
      ctx.body = signInFailedPage(err.code, err.message);
    }
  });

  const finishSignIn = async (ctx: AdminContext) => {
    const q = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);
    const sealedFlow = ctx.cookies.get(SIGN_IN_COOKIE);
    setCookie(ctx, runtime, SIGN_IN_COOKIE, '', { path: OIDC_CALLBACK_PATH, maxAgeSeconds: 0, sameSite: 'Lax' });
    if (!sealedFlow) throw new FlowError('invalid_state', 400, 'no sign-in is under way in this browser: start again');
    const flow = await sealer.openFlow(sealedFlow).catch((err: unknown) => {
      throw err instanceof SessionError ? new FlowError('invalid_state', 400, 'the sign-in expired or is not valid: start again') : err;
    });
    if (q('state') !== flow.state) throw new FlowError('invalid_state', 400, 'the state does not match the sign-in under way in this browser');
    const error = q('error');
    if (error) throw new FlowError('authorization_failed', 400, `the provider answered ${error.replace(/[^\w.-]/g, '').slice(0, 64)}`);
    const code = q('code');
    if (!code) throw new FlowError('invalid_request', 400, 'the callback has no code');
    const { provider, client } = await signInProvider(flow.provider);
    const token = await flows.exchangeCode(client, code, flow.redirectUri, flow.verifier);
    if (provider.issuers) checkIdToken(token.id_token, { issuers: provider.issuers, clientId: client.clientId, nonce: flow.nonce, now: runtime.clock.now() });
    const result = await provider.authenticate({ scheme: 'bearer', secret: token.access_token });
    if (result.outcome !== 'identity') {
      const why = result.outcome === 'failure' ? `${result.code}: ${result.description}` : 'not recognised';
      throw new GatewayError('sign_in_refused', 403, `provider ${provider.id} refused its own access token (${why}); check its audience`);
    }
    const { username, groups } = result.identity;
    const adminGroups = consoleSettings().adminGroups;
    if (!groups.some((g) => adminGroups.includes(g))) {
      throw new GatewayError('not_an_admin', 403, `${username} is in none of the admin groups (settings console.adminGroups)`);
    }
    await startSession(ctx, { id: SessionSealer.newId(), actor: `oidc:${provider.id}:${username}`, method: 'oidc', username, provider: provider.id, groups: [...groups] });
    ctx.status = 303;
    ctx.redirect('/console/');
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function signInFailedPage(code: string, description: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Portcullis: not signed in</title>
<h1>Not signed in</h1><p><code id="error">${escapeHtml(code)}</code>: ${escapeHtml(description)}</p><p><a href="/console/">Back to the console</a></p>`;
}

/**
 * The ID token came straight from the token endpoint (OIDC Core 3.1.3.7: its TLS stands in for the
 * signature), so what is checked is what binds it to this sign-in: issuer, audience, expiry, nonce.
 * The identity itself is the provider's own verdict on the access token.
 */
function checkIdToken(idToken: string | undefined, expected: { issuers: readonly string[]; clientId: string; nonce: string; now: number }): void {
  const refuse = (why: string): never => {
    throw new FlowError('invalid_id_token', 400, `the ID token ${why}`);
  };
  if (!idToken) refuse('is missing from the token answer (is the openid scope granted?)');
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(idToken!);
  } catch {
    return refuse('is not a JWT');
  }
  if (typeof claims.iss !== 'string' || !expected.issuers.includes(claims.iss)) refuse('names another issuer');
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (!audiences.includes(expected.clientId)) refuse('is for another client');
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= expected.now) refuse('has expired');
  if (claims.nonce !== expected.nonce) refuse('does not carry the nonce of this sign-in');
}

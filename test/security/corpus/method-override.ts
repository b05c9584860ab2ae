// Method-override headers from read-only callers: many upstream frameworks run `GET` + `X-HTTP-Method-Override: DELETE`
// as a DELETE, so a read-only group, token or route refuses any override that names a method other than a read.
import type { AttackCase, AttackCategory, Expectation } from './types.js';

const AUTH = ['Authorization', 'Bearer {{VALID}}'] as const;
const REFUSED: Expectation = { status: 403, error: 'method_override_read_only' };

/** mallory is in `devs`, a read-only group in this category. */
const override = (name: string, headers: readonly (readonly [string, string])[], method = 'GET', path?: string): AttackCase => ({
  name,
  request: { method, headers: [AUTH, ...headers], ...(path ? { path } : {}) },
  expect: REFUSED,
});

const SETTINGS = { groups: { readOnly: ['devs'] }, routes: [{ name: 'frozen', path: '/frozen/**', readOnly: true }] };

export const methodOverride: AttackCategory = {
  name: 'method override by read-only callers',
  settings: SETTINGS,
  cases: [
    override('X-HTTP-Method-Override: DELETE on a GET', [['X-HTTP-Method-Override', 'DELETE']]),
    override('X-HTTP-Method: PUT on a GET', [['X-HTTP-Method', 'PUT']]),
    override('X-Method-Override: PATCH on a GET', [['X-Method-Override', 'PATCH']]),
    override('X_HTTP_Method_Override: DELETE (underscore spelling)', [['X_HTTP_Method_Override', 'DELETE']]),
    override('X-HTTP-Method_Override: POST (mixed spelling)', [['X-HTTP-Method_Override', 'POST']]),
    override('X_Method_Override: DELETE', [['X_Method_Override', 'DELETE']]),
    override('a lower-case method name', [['x-http-method-override', 'delete']]),
    override('a method padded with spaces', [['X-HTTP-Method-Override', '  PATCH ']]),
    override('a list naming a read and a write', [['X-HTTP-Method-Override', 'GET, DELETE']]),
    override('two override headers, a read then a write', [['X-HTTP-Method-Override', 'GET'], ['X-HTTP-Method', 'DELETE']]),
    override('an unknown method', [['X-HTTP-Method-Override', 'PURGE']]),
    override('an empty override', [['X-HTTP-Method-Override', '']]),
    override('on an OPTIONS request', [['X-HTTP-Method-Override', 'DELETE']], 'OPTIONS'),
    override('on a public path, with a credential', [['X-HTTP-Method-Override', 'DELETE']], 'GET', '/public/x'),
    {
      name: 'a read-only route refuses an override from a caller who may write',
      request: { path: '/frozen/x', token: { sign: 'ours', claims: { groups: ['ops'] } }, headers: [['X-HTTP-Method-Override', 'DELETE']] },
      expect: REFUSED,
    },
  ],
};

/** Not attacks: overrides that name a read, or come from a caller who may write, pass (and are not stripped). */
export const methodOverrideControls: AttackCategory = {
  name: 'method override by read-only callers: controls (passed)',
  settings: SETTINGS,
  cases: [
    {
      name: 'an override naming a read passes',
      request: { headers: [AUTH, ['X-HTTP-Method-Override', 'GET']] },
      expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-http-method-override': 'GET' } },
    },
    {
      name: 'a caller who may write keeps its override (not read-only: not stripped)',
      request: { token: { sign: 'ours', claims: { groups: ['ops'] } }, headers: [['X-HTTP-Method-Override', 'DELETE']] },
      expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-http-method-override': 'DELETE' } },
    },
  ],
};

/** Bypass and public rules that name a method: a method-override header naming another method must not ride on them. */
const ANONYMOUS_SETTINGS = {
  paths: {
    bypass: ['/alive', '/assets/**', 'GET /status'],
    public: ['/public/**', 'GET /docs/**'],
    restrictPublic: ['/public/private/**', 'DELETE /public/**'],
  },
};
const MISSING: Expectation = { status: 401, error: 'missing_credential' };
const anonymous = (name: string, method: string, path: string, headers: readonly (readonly [string, string])[]): AttackCase => ({
  name,
  request: { method, path, headers },
  expect: MISSING,
});

export const methodOverrideAnonymous: AttackCategory = {
  name: 'method override riding on bypass and public rules',
  settings: ANONYMOUS_SETTINGS,
  cases: [
    anonymous('bypass GET /status with X-HTTP-Method-Override: DELETE', 'GET', '/status', [['X-HTTP-Method-Override', 'DELETE']]),
    anonymous('bypass GET /status with X_HTTP_Method_Override: DELETE', 'GET', '/status', [['X_HTTP_Method_Override', 'DELETE']]),
    anonymous('bypass GET /status with X-Method-Override: post (lower case)', 'GET', '/status', [['X-Method-Override', 'post']]),
    anonymous('bypass GET /status with X-HTTP-Method: PUT', 'GET', '/status', [['X-HTTP-Method', 'PUT']]),
    anonymous('bypass GET /status with a list naming GET and DELETE', 'GET', '/status', [['X-HTTP-Method-Override', 'GET, DELETE']]),
    anonymous('bypass GET /status with X-HTTP-Method-Override: "  PATCH " (padded)', 'GET', '/status', [['X-HTTP-Method-Override', '  PATCH ']]),
    anonymous('public GET /docs/** with X-HTTP-Method-Override: DELETE', 'GET', '/docs/page', [['X-HTTP-Method-Override', 'DELETE']]),
    anonymous('public GET /docs/** with two override headers, GET then PUT', 'GET', '/docs/page', [['X-HTTP-Method-Override', 'GET'], ['X-HTTP-Method', 'PUT']]),
    anonymous('public /public/** with an override naming DELETE, which restrictPublic takes back', 'GET', '/public/x', [['X-HTTP-Method-Override', 'DELETE']]),
    anonymous('public /public/** with X_Method_Override: delete', 'POST', '/public/x', [['X_Method_Override', 'delete']]),
  ],
};

/** Not attacks: overrides that name a method the same rule covers leave bypass and public paths as they are. */
export const methodOverrideAnonymousControls: AttackCategory = {
  name: 'method override riding on bypass and public rules: controls (passed)',
  settings: ANONYMOUS_SETTINGS,
  cases: [
    { name: 'bypass GET /status with an override naming GET', request: { path: '/status', headers: [['X-HTTP-Method-Override', 'GET']] }, expect: { status: 200, error: 'bypass' } },
    { name: 'public GET /docs/** with an override naming HEAD', request: { path: '/docs/page', headers: [['X-HTTP-Method-Override', 'HEAD']] }, expect: { status: 200, error: 'anonymous' } },
    { name: 'public /public/** with an override naming PUT', request: { path: '/public/x', headers: [['X-HTTP-Method-Override', 'PUT']] }, expect: { status: 200, error: 'anonymous' } },
  ],
};

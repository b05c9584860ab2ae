// The admin API without or with a wrong admin token, and the admin API sought through the gateway port.
import type { AttackCase, AttackCategory } from './types.js';

const unauthorized = { status: 401, error: 'unauthorized' } as const;

/** Authorization values that must not open the admin API. */
const WRONG: readonly (readonly [string, string | undefined])[] = [
  ['no Authorization', undefined],
  ['empty Authorization', ''],
  ['Bearer without a token', 'Bearer'],
  ['an unrelated token', 'Bearer wrong-admin-token'],
  ['the admin token minus its last character', 'Bearer {{ADMIN_MINUS_ONE}}'],
  ['the admin token plus one character', 'Bearer {{ADMIN}}x'],
  ['the admin token upper-cased', 'Bearer {{ADMIN_UPPER}}'],
  ['the admin token with its first character changed', 'Bearer {{ADMIN_FLIPPED}}'],
  ['a one-character token', 'Bearer a'],
  ['a 10 000-character token', `Bearer ${'a'.repeat(10_000)}`],
  ['the admin token in Basic (as password)', 'Basic {{ADMIN_BASIC}}'],
  ['the admin token under another scheme', 'Token {{ADMIN}}'],
  ['the admin token followed by a second token', 'Bearer {{ADMIN}} {{ADMIN}}'],
  ['the admin token quoted', 'Bearer "{{ADMIN}}"'],
  ['a valid gateway JWT', 'Bearer {{VALID}}'],
  ['a valid gateway opaque token', 'Bearer {{OPAQUE}}'],
  ['the oidc client secret', 'Bearer {{CLIENT_SECRET}}'],
  ['the sha256 of the admin token (what the store keeps)', 'Bearer {{ADMIN_SHA256}}'],
];

const ENDPOINTS: readonly (readonly [string, string, string?])[] = [
  ['GET', '/api/v1/settings'],
  ['PATCH', '/api/v1/settings', '{"enabled":false}'],
  ['GET', '/api/v1/providers'],
  ['PUT', '/api/v1/providers/evil', '{"kind":"static","config":{"tokens":{}}}'],
  ['DELETE', '/api/v1/providers/idp'],
  ['GET', '/api/v1/events'],
  ['GET', '/api/v1/events?type=AccessDecided'],
  ['GET', '/api/v1/state'],
  ['GET', '/api/v1/state?asOf=1'],
  ['GET', '/api/v1/history'],
  ['GET', '/api/v1/audit'],
  ['GET', '/api/v1/audit?user=alice&decision=deny'],
  ['GET', '/api/v1/audit/export?format=csv'],
  ['GET', '/api/v1/audit/stats?bucket=1h'],
];

const json = (body: string | undefined) => (body === undefined ? [] : ([['Content-Type', 'application/json']] as const));

const adminCases: AttackCase[] = [
  ...WRONG.map(([what, value]): AttackCase => ({
    name: `GET /api/v1/settings with ${what}`,
    request: { target: 'admin', path: '/api/v1/settings', headers: value === undefined ? [] : [['Authorization', value]] },
    expect: unauthorized,
  })),
  ...ENDPOINTS.flatMap(([method, path, body]): AttackCase[] => [
    { name: `${method} ${path} without a token`, request: { target: 'admin', method, path, headers: [...json(body)], ...(body ? { body } : {}) }, expect: unauthorized },
    {
      name: `${method} ${path} with a wrong token`,
      request: { target: 'admin', method, path, headers: [['Authorization', 'Bearer {{ADMIN}}x'], ...json(body)], ...(body ? { body } : {}) },
      expect: unauthorized,
    },
  ]),
  { name: 'admin token in the query string', request: { target: 'admin', path: '/api/v1/settings?access_token={{ADMIN}}' }, expect: unauthorized },
  { name: 'admin token in a cookie', request: { target: 'admin', path: '/api/v1/settings', headers: [['Cookie', 'admin_token={{ADMIN}}']] }, expect: unauthorized },
  { name: 'admin token in X-Portcullis-Debug', request: { target: 'admin', path: '/api/v1/settings', headers: [['X-Portcullis-Debug', '{{ADMIN}}']] }, expect: unauthorized },
  // @koa/router matches routes case-insensitively; the token check must hold for every spelling of the prefix.
  ...['/API/V1/SETTINGS', '/API/v1/settings', '/api/V1/settings', '/Api/v1/settings', '/API/V1/events', '/API/V1/providers', '/api/v1/SETTINGS', '/API/V1/STATE', '/Api/v1/state?asOf=1', '/API/V1/history', '/API/V1/audit', '/api/v1/AUDIT/export', '/Api/V1/Audit/Stats'].map(
    (path): AttackCase => ({ name: `GET ${path} (case variant) without a token`, request: { target: 'admin', path }, expect: unauthorized }),
  ),
  {
    name: 'POST /API/V1/providers/idp/token (case variant, client-credentials grant with the stored secret) without a token',
    request: { target: 'admin', method: 'POST', path: '/API/V1/providers/idp/token' },
    expect: unauthorized,
  },
  { name: 'GET /API/V1/providers/idp/authorize (case variant) without a token', request: { target: 'admin', path: '/API/V1/providers/idp/authorize' }, expect: unauthorized },
  {
    name: 'DELETE /API/V1/providers/spare (case variant) without a token',
    request: { target: 'admin', method: 'DELETE', path: '/API/V1/providers/spare' },
    expect: unauthorized,
  },
  { name: 'double slash in the API path without a token', request: { target: 'admin', path: '/api/v1//settings' }, expect: { status: 401, error: 'unauthorized' } },
  { name: 'dot segment in the API path without a token', request: { target: 'admin', path: '/x/../api/v1/settings' }, expect: { status: 401, error: 'unauthorized' } },
];

/** The same admin paths on the gateway port: judged by the pipeline and, if allowed, proxied. Never the admin API. */
const viaGateway: AttackCase[] = [
  { name: 'gateway port: GET /api/v1/settings without a token', request: { path: '/api/v1/settings' }, expect: { status: 401, error: 'missing_credential' } },
  {
    name: 'gateway port: GET /api/v1/settings with the admin token',
    request: { path: '/api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}']] },
    expect: { status: 401, error: 'invalid_token' },
  },
  {
    name: 'gateway port: PATCH /api/v1/settings with the admin token',
    request: { method: 'PATCH', path: '/api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}'], ['Content-Type', 'application/json']], body: '{"enabled":false}' },
    expect: { status: 401, error: 'invalid_token' },
  },
  {
    name: 'gateway port: GET /api/v1/settings with a valid JWT is proxied to the upstream, not the admin API',
    request: { path: '/api/v1/settings', headers: [['Authorization', 'Bearer {{VALID}}']] },
    expect: { status: 200, error: 'authenticated', upstreamPath: '/api/v1/settings' },
  },
  { name: 'gateway port: /healthz is judged like any path', request: { path: '/healthz' }, expect: { status: 401, error: 'missing_credential' } },
  { name: 'gateway port: /metrics is judged like any path', request: { path: '/metrics' }, expect: { status: 401, error: 'missing_credential' } },
  { name: 'gateway port: /public/../api/v1/settings', request: { path: '/public/../api/v1/settings' }, expect: { status: 401, error: 'missing_credential' } },
  { name: 'gateway port: /public/%2e%2e/api/v1/settings', request: { path: '/public/%2e%2e/api/v1/settings' }, expect: { status: 401, error: 'missing_credential' } },
  { name: 'gateway port: /_portcullis/api/v1/settings', request: { path: '/_portcullis/api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}']] }, expect: { status: 404, error: 'not_found', audited: false } },
  { name: 'gateway port: /_portcullis/../api/v1/settings', request: { path: '/_portcullis/../api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}']] }, expect: { status: 404, error: 'not_found', audited: false } },
  {
    name: 'gateway port: absolute-form target naming the admin listener',
    request: { path: 'http://{{ADMIN_ADDR}}/api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}'], ['Host', '{{ADMIN_ADDR}}']] },
    expect: { status: 400, error: 'invalid_request', audited: false },
  },
  {
    name: 'gateway port: Host header naming the admin listener',
    request: { path: '/api/v1/settings', headers: [['Authorization', 'Bearer {{ADMIN}}'], ['Host', '{{ADMIN_ADDR}}']] },
    expect: { status: 401, error: 'invalid_token' },
  },
  {
    name: 'gateway port: X-Forwarded-Host and X-Original-URL naming the admin API',
    request: { path: '/x', headers: [['X-Forwarded-Host', '{{ADMIN_ADDR}}'], ['X-Original-URL', '/api/v1/settings'], ['X-Rewrite-URL', '/api/v1/settings']] },
    expect: { status: 401, error: 'missing_credential' },
  },
  {
    name: 'gateway port: a public path with X-Original-URL naming the admin API reaches the upstream at the judged path',
    request: { path: '/public/x', headers: [['X-Original-URL', '/api/v1/settings'], ['X-Rewrite-URL', '/api/v1/settings']] },
    expect: { status: 200, error: 'anonymous', upstreamPath: '/public/x' },
  },
  { name: 'gateway port: asterisk-form target', request: { method: 'OPTIONS', path: '*' }, expect: { status: 400, error: 'invalid_request', audited: false } },
  {
    name: 'gateway port: the admin token as debug header reveals no trace to an anonymous caller with a wrong one',
    request: { path: '/x', headers: [['X-Portcullis-Debug', '{{ADMIN}}x']] },
    expect: { status: 401, error: 'missing_credential' },
  },
];

/**
 * The read views with the admin token, given a credential where a value or a parameter name
 * belongs: refused with a stable code, and the credential is not quoted back.
 */
const readViews: AttackCase[] = [
  ['/api/v1/state?asOf={{CLIENT_SECRET}}', 'invalid_as_of'],
  ['/api/v1/state?asOf={{ADMIN}}', 'invalid_as_of'],
  ['/api/v1/state?asOf=2024-05-01T10:00:00Z&asOf={{OPAQUE}}', 'invalid_request'],
  ['/api/v1/state?{{ADMIN}}=1', 'invalid_request'],
  ['/api/v1/history?type={{CLIENT_SECRET}}', 'invalid_request'],
  ['/api/v1/history?from={{VALID}}', 'invalid_request'],
  ['/api/v1/history?before={{OPAQUE}}', 'invalid_request'],
  ['/api/v1/history?{{CLIENT_SECRET}}', 'invalid_request'],
  ['/api/v1/events?type={{ADMIN}}%20x', 'invalid_request'],
  ['/api/v1/events?stream={{CLIENT_SECRET}}/', 'invalid_request'],
  ['/api/v1/events?after={{OPAQUE}}', 'invalid_request'],
  ['/api/v1/events?{{ADMIN}}', 'invalid_request'],
  ['/api/v1/audit?cursor={{OPAQUE}}', 'invalid_request'],
  ['/api/v1/audit?ip={{CLIENT_SECRET}}', 'invalid_request'],
  ['/api/v1/audit?from={{VALID}}', 'invalid_request'],
  ['/api/v1/audit?{{ADMIN}}=1', 'invalid_request'],
  ['/api/v1/audit/export?format={{CLIENT_SECRET}}', 'invalid_request'],
  ['/api/v1/audit/stats?bucket={{OPAQUE}}', 'invalid_request'],
].map(([path, error]): AttackCase => ({
  name: `GET ${path} with the admin token: ${error}, the credential not quoted back`,
  request: { target: 'admin', path: path!, headers: [['Authorization', 'Bearer {{ADMIN}}']] },
  expect: { status: 400, error: error! },
}));

export const adminApi: AttackCategory = { name: 'admin API without or with a wrong admin token', cases: adminCases };
export const adminReadViews: AttackCategory = { name: 'admin read views (state, history, events, audit) given credentials as values', cases: readViews };
export const adminViaGateway: AttackCategory = { name: 'admin API sought through the gateway port', cases: viaGateway };

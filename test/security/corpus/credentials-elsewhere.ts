// Credentials in places the gateway does not read them from: query strings (RFC 6750 §2.3 is not supported),
// form bodies (§2.2), cookies and ad-hoc headers. None of them authenticates.
import type { AttackCase, AttackCategory } from './types.js';

const missing = { status: 401, error: 'missing_credential' } as const;

const QUERY_NAMES = ['access_token', 'token', 'id_token', 'bearer', 'jwt', 'api_key', 'apikey', 'auth', 'authorization'];

const inQuery: AttackCase[] = [
  ...QUERY_NAMES.map((name): AttackCase => ({ name: `?${name}=<valid JWT>`, request: { path: `/api/resource?${name}={{VALID}}` }, expect: missing })),
  { name: '?access_token=<valid opaque token>', request: { path: '/api/resource?access_token={{OPAQUE}}' }, expect: missing },
  { name: '?access_token=<admin token>', request: { path: '/api/resource?access_token={{ADMIN}}' }, expect: missing },
  { name: '?authorization=Bearer%20<valid JWT>', request: { path: '/api/resource?authorization=Bearer%20{{VALID}}' }, expect: missing },
  { name: 'access_token twice in the query', request: { path: '/api/resource?access_token={{VALID}}&access_token={{OPAQUE}}' }, expect: missing },
  { name: 'access_token in the fragment of the target', request: { path: '/api/resource#access_token={{VALID}}' }, expect: { status: 400, error: 'invalid_path' } },
  { name: 'access_token as a path parameter', request: { path: '/api/resource;access_token={{VALID}}' }, expect: { status: 400, error: 'invalid_path' } },
  {
    name: 'access_token in a form body (RFC 6750 §2.2)',
    request: { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'access_token={{VALID}}' },
    expect: missing,
  },
  {
    name: 'a valid query token does not rescue an invalid header token',
    request: { path: '/api/resource?access_token={{VALID}}', headers: [['Authorization', 'Bearer abcdefghijklmnop0123']] },
    expect: { status: 401, error: 'invalid_token' },
  },
  { name: 'access_token on forward auth’s own URL', request: { path: '/_portcullis/decide?access_token={{VALID}}', headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/api/x'], ['X-Forwarded-Host', 'api.example']] }, expect: missing },
  { name: 'access_token inside X-Forwarded-Uri of forward auth', request: { path: '/_portcullis/decide', headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/api/x?access_token={{VALID}}'], ['X-Forwarded-Host', 'api.example']] }, expect: missing },
];

const AD_HOC_HEADERS: readonly (readonly [string, string])[] = [
  ['Cookie', 'access_token={{VALID}}'],
  ['Cookie', 'Authorization=Bearer%20{{VALID}}'],
  ['X-Access-Token', '{{VALID}}'],
  ['X-Auth-Token', '{{VALID}}'],
  ['X-Api-Key', '{{OPAQUE}}'],
  ['X-Forwarded-Access-Token', '{{VALID}}'],
  ['X-Auth-Request-Access-Token', '{{VALID}}'],
  ['X-Amzn-Oidc-Accesstoken', '{{VALID}}'],
  ['X-Id-Token', '{{VALID}}'],
  ['X-Portcullis-User', 'admin'],
  ['X-Portcullis-Token-Id', 'tok-admin'],
  ['X-Portcullis-Debug', '{{VALID}}'],
  ['Authorization-Bearer', '{{VALID}}'],
  ['X-HTTP-Method-Override', 'GET'],
];

const inHeaders: AttackCase[] = AD_HOC_HEADERS.map(([name, value]): AttackCase => ({
  name: `${name}: ${value.replace(/\{\{(\w+)\}\}/g, '<$1>')}`,
  request: { headers: [[name, value]] },
  expect: missing,
}));

export const credentialsElsewhere: AttackCategory = {
  name: 'credentials outside the Authorization header',
  cases: [...inQuery, ...inHeaders],
};

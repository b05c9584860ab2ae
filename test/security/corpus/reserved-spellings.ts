// Underscore (and mixed-case) spellings of headers the gateway reserves: CGI, WSGI, PHP and Rack read `X_Portcullis_User`
// as `HTTP_X_PORTCULLIS_USER`, the same variable as the dashed name, so none of them may reach the upstream.
import type { AttackCase, AttackCategory } from './types.js';

const AUTH = ['Authorization', 'Bearer {{VALID}}'] as const;

/** An authenticated request (mallory, groups devs, provider idp) carrying one reserved name in another spelling. */
const spelt = (name: string, value: string, more: Readonly<Record<string, string | null>> = {}): AttackCase => ({
  name: `${name}: ${value}`,
  request: { headers: [AUTH, [name, value]] },
  expect: { status: 200, error: 'authenticated', upstreamHeaders: { [name.toLowerCase()]: null, ...more } },
});

export const reservedSpellings: AttackCategory = {
  name: 'reserved headers in underscore spellings',
  cases: [
    // identity headers
    spelt('X_Portcullis_User', 'admin', { 'x-portcullis-user': 'mallory' }),
    spelt('X_Portcullis_Groups', 'admins', { 'x-portcullis-groups': 'devs' }),
    spelt('X_Portcullis_Provider', 'gateway', { 'x-portcullis-provider': 'idp' }),
    spelt('X_Portcullis_Token_Id', 'forged'),
    spelt('X-Portcullis_User', 'admin', { 'x-portcullis-user': 'mallory' }),
    spelt('X_Portcullis-User', 'admin', { 'x-portcullis-user': 'mallory' }),
    spelt('x_PORTCULLIS_user', 'admin', { 'x-portcullis-user': 'mallory' }),
    spelt('X_Portcullis_Assertion', 'forged'),
    // headers some frameworks read as the path
    spelt('X_Original_URL', '/admin'),
    spelt('X_Original_URI', '/admin'),
    spelt('X_Rewrite_URL', '/admin'),
    spelt('X_Forwarded_Uri', '/admin'),
    spelt('X_Forwarded_Path', '/admin'),
    spelt('X_Forwarded_Prefix', '/admin'),
    // headers the gateway sets itself
    spelt('X_Forwarded_For', '10.0.0.1', { 'x-forwarded-for': '127.0.0.1' }),
    spelt('X_Forwarded_Host', 'evil.example'),
    spelt('X_Forwarded_Proto', 'https', { 'x-forwarded-proto': 'http' }),
    spelt('X_Forwarded_Port', '443'),
    spelt('X_Request_Id', 'forged-request-id'),
    // hop-by-hop names
    spelt('Proxy_Authorization', 'Basic YWRtaW46YWRtaW4='),
    spelt('Transfer_Encoding', 'chunked'),
    spelt('Keep_Alive', 'timeout=5'),
    {
      name: 'several reserved spellings at once',
      request: { headers: [AUTH, ['X_Portcullis_User', 'admin'], ['X_Portcullis_Groups', 'admins'], ['X_Original_URL', '/admin'], ['X_Forwarded_For', '10.0.0.1']] },
      expect: {
        status: 200,
        error: 'authenticated',
        upstreamHeaders: { x_portcullis_user: null, x_portcullis_groups: null, x_original_url: null, x_forwarded_for: null, 'x-portcullis-user': 'mallory' },
      },
    },
    {
      name: 'an anonymous caller on a public path sends X_Portcullis_User',
      request: { path: '/public/x', headers: [['X_Portcullis_User', 'admin']] },
      expect: { status: 200, error: 'anonymous', upstreamHeaders: { x_portcullis_user: null, 'x-portcullis-user': null } },
    },
    {
      name: 'a bypass path with X_Portcullis_User',
      request: { path: '/alive', headers: [['X_Portcullis_User', 'admin']] },
      expect: { status: 200, error: 'bypass', upstreamHeaders: { x_portcullis_user: null } },
    },
  ],
};

/** Not attacks: what the hardening must leave alone (run with the corpus, not counted in it). */
export const reservedSpellingsControls: AttackCategory = {
  name: 'reserved headers in underscore spellings: controls (passed)',
  cases: [
    {
      name: 'an ordinary underscore header still passes (only reserved names are dropped)',
      request: { headers: [AUTH, ['X_Tenant_Id', 'acme']] },
      expect: { status: 200, error: 'authenticated', upstreamHeaders: { x_tenant_id: 'acme' } },
    },
  ],
};

// Forwarded-header spoofing against an IP allow-list: untrusted peers cannot choose their address, and a
// client behind a trusted proxy cannot push its claimed address past the proxy's own entry.
import type { AttackCase, AttackCategory } from './types.js';

const ALLOWED = '198.51.100.7';
const DENIED = '203.0.113.5';
const refusedFrom = (clientIp: string) => ({ status: 403, error: 'ip_not_allowed', clientIp });

const SPOOF_HEADERS: readonly (readonly [string, string])[] = [
  ['X-Forwarded-For', ALLOWED],
  ['X-Forwarded-For', `${ALLOWED}, ${ALLOWED}`],
  ['X-Forwarded-For', `127.0.0.1, ${ALLOWED}`],
  ['X-Forwarded-For', `[::ffff:${ALLOWED}]`],
  ['X-Forwarded-For', `::ffff:${ALLOWED}`],
  ['X-Forwarded-For', `${ALLOWED}:443`],
  ['Forwarded', `for=${ALLOWED}`],
  ['Forwarded', `for="${ALLOWED}";proto=https`],
  ['Forwarded', 'for="[2001:db8::1]:443"'],
  ['Forwarded', `for=unknown, for=${ALLOWED}`],
  ['X-Real-IP', ALLOWED],
  ['X-Client-IP', ALLOWED],
  ['Client-IP', ALLOWED],
  ['True-Client-IP', ALLOWED],
  ['CF-Connecting-IP', ALLOWED],
  ['Fastly-Client-IP', ALLOWED],
  ['X-Cluster-Client-IP', ALLOWED],
  ['X-Originating-IP', ALLOWED],
  ['X-Remote-IP', ALLOWED],
  ['X-Remote-Addr', ALLOWED],
  ['X-ProxyUser-Ip', ALLOWED],
  ['X-Forwarded', `for=${ALLOWED}`],
  ['Forwarded-For', ALLOWED],
  ['Via', `1.1 ${ALLOWED}`],
];

/** Loopback is not a trusted proxy here: every forwarding header from it is the client's own claim. */
const untrusted: AttackCase[] = [
  ...SPOOF_HEADERS.map(([name, value]): AttackCase => ({
    name: `untrusted peer sends ${name}: ${value}`,
    request: { headers: [['Authorization', 'Bearer {{VALID}}'], [name, value]] },
    expect: refusedFrom('127.0.0.1'),
  })),
  {
    name: 'untrusted peer sends every forwarding header at once',
    request: { headers: [['Authorization', 'Bearer {{VALID}}'], ...SPOOF_HEADERS] },
    expect: refusedFrom('127.0.0.1'),
  },
  {
    name: 'untrusted peer sends X-Forwarded-For twice',
    request: { headers: [['Authorization', 'Bearer {{VALID}}'], ['X-Forwarded-For', ALLOWED], ['X-Forwarded-For', ALLOWED]] },
    expect: refusedFrom('127.0.0.1'),
  },
  {
    name: 'untrusted peer, anonymous, on a public path: still refused by the allow-list',
    request: { path: '/public/x', headers: [['X-Forwarded-For', ALLOWED]] },
    expect: refusedFrom('127.0.0.1'),
  },
  {
    name: 'untrusted peer calls forward auth with a spoofed X-Forwarded-For',
    request: { path: '/_portcullis/decide', headers: [['Authorization', 'Bearer {{VALID}}'], ['X-Forwarded-For', ALLOWED], ['X-Forwarded-Uri', '/api/x']] },
    expect: { status: 403, error: 'untrusted_proxy', clientIp: '127.0.0.1' },
  },
];

export const forwardedUntrusted: AttackCategory = {
  name: 'forwarded-header spoofing from an untrusted peer',
  settings: { ip: { allow: ['198.51.100.0/24'], trustedProxies: ['10.0.0.0/8'] } },
  cases: untrusted,
};

/** Loopback is a trusted proxy that appends the real client (DENIED) to what the client sent. */
const behindProxy = (name: string, header: string, value: string, clientIp = DENIED, ...more: (readonly [string, string])[]): AttackCase => ({
  name,
  request: { headers: [['Authorization', 'Bearer {{VALID}}'], [header, value], ...more] },
  expect: refusedFrom(clientIp),
});

export const forwardedTrusted: AttackCategory = {
  name: 'forwarded-header spoofing behind a trusted proxy',
  settings: { ip: { allow: ['198.51.100.0/24'], trustedProxies: ['127.0.0.0/8'], realIpHeader: 'x-forwarded-for' } },
  cases: [
    behindProxy('client prepends an allowed address; the proxy appends the real one', 'X-Forwarded-For', `${ALLOWED}, ${DENIED}`),
    behindProxy('client prepends several allowed addresses', 'X-Forwarded-For', `${ALLOWED}, ${ALLOWED}, ${DENIED}`),
    behindProxy('client claims to be a trusted proxy hop before its address', 'X-Forwarded-For', `${ALLOWED}, 127.0.0.1, ${DENIED}`),
    behindProxy('client prepends an allowed IPv4-mapped IPv6 address', 'X-Forwarded-For', `::ffff:${ALLOWED}, ${DENIED}`),
    behindProxy('client sends an octal form of an allowed address', 'X-Forwarded-For', `0306.0063.0144.07, ${DENIED}`),
    behindProxy('client sends garbage before its address', 'X-Forwarded-For', `not-an-ip, ${DENIED}`),
    behindProxy('client sends an allowed address in Forwarded (not the configured header)', 'X-Forwarded-For', DENIED, DENIED, ['Forwarded', `for=${ALLOWED}`]),
    behindProxy('client sends an allowed address in X-Real-IP (not the configured header)', 'X-Forwarded-For', DENIED, DENIED, ['X-Real-IP', ALLOWED]),
    behindProxy('the real hop is a garbage value: the walk stops at the trusted peer', 'X-Forwarded-For', `${ALLOWED}, garbage`, '127.0.0.1'),
    behindProxy('an allowed address with a port smuggled into the last hop', 'X-Forwarded-For', `${ALLOWED}, ${DENIED}:80`),
    behindProxy('an allowed address after a comma inside one header line split across two headers', 'X-Forwarded-For', ALLOWED, DENIED, ['X-Forwarded-For', DENIED]),
  ],
};

export const forwardedRealIp: AttackCategory = {
  name: 'forwarded-header spoofing with X-Real-IP configured',
  settings: { ip: { allow: ['198.51.100.0/24'], trustedProxies: ['10.0.0.0/8'], realIpHeader: 'x-real-ip' } },
  cases: [
    { name: 'untrusted peer sends the configured X-Real-IP', request: { headers: [['Authorization', 'Bearer {{VALID}}'], ['X-Real-IP', ALLOWED]] }, expect: refusedFrom('127.0.0.1') },
    { name: 'untrusted peer sends X-Real-IP with a list', request: { headers: [['Authorization', 'Bearer {{VALID}}'], ['X-Real-IP', `${ALLOWED}, ${ALLOWED}`]] }, expect: refusedFrom('127.0.0.1') },
    { name: 'untrusted peer sends X-Real-IP twice', request: { headers: [['Authorization', 'Bearer {{VALID}}'], ['X-Real-IP', ALLOWED], ['X-Real-IP', ALLOWED]] }, expect: refusedFrom('127.0.0.1') },
  ],
};

/**
 * Host routes (issue 13, item 4): `secure.example` needs the `admins` group, `open.example` lets anyone in.
 * The host is normalised once (case, trailing dot, default port) and the host judged is the one the
 * upstream is told: a trusted proxy's X-Forwarded-Host, else Host.
 */
const HOST_ROUTES = [
  { name: 'secure', host: 'secure.example', path: '/**', groups: ['admins'] },
  { name: 'open', host: 'open.example', path: '/**', anonymous: true },
];
const OPAQUE = ['Authorization', 'Bearer {{OPAQUE}}'] as const;
const onSecure = { status: 403, error: 'group_not_allowed' } as const;
const refusedHost = { status: 400, error: 'invalid_request' } as const;
const hostCase = (name: string, headers: readonly (readonly [string, string])[], expect: AttackCase['expect']): AttackCase => ({ name, request: { headers }, expect });

export const forwardedHostTrusted: AttackCategory = {
  name: 'host routes: spellings, duplicates and a trusted proxy’s X-Forwarded-Host',
  settings: { routes: HOST_ROUTES },
  cases: [
    hostCase('Host: secure.example (control)', [['Host', 'secure.example'], OPAQUE], onSecure),
    hostCase('Host with a trailing dot', [['Host', 'secure.example.'], OPAQUE], onSecure),
    hostCase('Host in upper case', [['Host', 'SECURE.EXAMPLE'], OPAQUE], onSecure),
    hostCase('Host with the default port 80', [['Host', 'secure.example:80'], OPAQUE], onSecure),
    hostCase('Host mixed case, trailing dot and port 443', [['Host', 'Secure.Example.:443'], OPAQUE], onSecure),
    hostCase('Host with a zero-padded port', [['Host', 'secure.example:0080'], OPAQUE], onSecure),
    hostCase('Host with another port', [['Host', 'secure.example:8443'], OPAQUE], onSecure),
    hostCase('Host with an empty port', [['Host', 'secure.example:'], OPAQUE], onSecure),
    hostCase('two Host headers, the open one first', [['Host', 'open.example'], ['Host', 'secure.example']], refusedHost),
    hostCase('two Host headers spelled differently', [['Host', 'open.example'], ['host', 'secure.example']], refusedHost),
    hostCase('Host with two trailing dots', [['Host', 'secure.example..'], OPAQUE], refusedHost),
    hostCase('Host with user info', [['Host', 'open.example@secure.example']], refusedHost),
    hostCase('Host percent-encoded', [['Host', 'secure%2eexample']], refusedHost),
    hostCase('Host with a path', [['Host', 'open.example/secure.example']], refusedHost),
    hostCase('Host with a port out of range', [['Host', 'open.example:99999']], refusedHost),
    hostCase('Host as a list', [['Host', 'open.example, secure.example']], refusedHost),
    hostCase('a trusted proxy names secure.example in X-Forwarded-Host', [['Host', 'open.example'], ['X-Forwarded-Host', 'secure.example'], OPAQUE], onSecure),
    hostCase('a trusted proxy names SECURE.EXAMPLE. in X-Forwarded-Host, anonymous', [['Host', 'open.example'], ['X-Forwarded-Host', 'SECURE.EXAMPLE.']], { status: 401, error: 'missing_credential' }),
    hostCase('X-Forwarded-Host twice (Node joins the two)', [['Host', 'open.example'], ['X-Forwarded-Host', 'open.example'], ['X-Forwarded-Host', 'secure.example']], refusedHost),
    hostCase('X-Forwarded-Host as a list', [['Host', 'open.example'], ['X-Forwarded-Host', 'open.example, secure.example']], refusedHost),
    hostCase('a trusted proxy names open.example: judged and forwarded as open', [['Host', 'secure.example'], ['X-Forwarded-Host', 'open.example']], { status: 200, error: 'anonymous', upstreamPath: '/api/resource' }),
    {
      name: 'forward auth: X-Forwarded-Host SECURE.EXAMPLE:80',
      request: { path: '/_portcullis/decide', headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/x'], ['X-Forwarded-Host', 'SECURE.EXAMPLE:80'], OPAQUE] },
      expect: onSecure,
    },
    {
      name: 'forward auth: X-Forwarded-Host secure.example. anonymous',
      request: { path: '/_portcullis/decide', headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/x'], ['X-Forwarded-Host', 'secure.example.']] },
      expect: { status: 401, error: 'missing_credential' },
    },
  ],
};

export const forwardedHostUntrusted: AttackCategory = {
  name: 'host routes: an untrusted peer’s X-Forwarded-Host is not believed',
  settings: { routes: HOST_ROUTES, ip: { trustedProxies: ['10.0.0.0/8'] } },
  cases: [
    hostCase('Host secure, X-Forwarded-Host open, anonymous', [['Host', 'secure.example'], ['X-Forwarded-Host', 'open.example']], { status: 401, error: 'missing_credential' }),
    hostCase('Host SECURE.EXAMPLE., X-Forwarded-Host open, anonymous', [['Host', 'SECURE.EXAMPLE.'], ['X-Forwarded-Host', 'open.example']], { status: 401, error: 'missing_credential' }),
    hostCase('Host secure, Forwarded host=open, anonymous', [['Host', 'secure.example'], ['Forwarded', 'host=open.example']], { status: 401, error: 'missing_credential' }),
    hostCase('Host secure with a token, X-Forwarded-Host open', [['Host', 'secure.example:80'], ['X-Forwarded-Host', 'open.example'], OPAQUE], onSecure),
  ],
};

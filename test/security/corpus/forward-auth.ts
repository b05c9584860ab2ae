// Forward auth (/_portcullis/decide) asked by a trusted proxy, with hostile request lines and with the client's own
// forwarding headers slipped through next to the ones the proxy set (the nginx auth_request bypass of issue 13).
import type { AttackCase, AttackCategory } from './types.js';

type Headers = readonly (readonly [string, string])[];

/** What a correctly configured proxy sends for `GET /api/x` on api.example (settings forwardAuth.headers: x-forwarded). */
const PROXY_SET = { 'X-Forwarded-Method': 'GET', 'X-Forwarded-Uri': '/api/x', 'X-Forwarded-Host': 'api.example' } as const;

/** The proxy's headers with `override` replacing some of them (undefined drops one), then `extra` as the client added them. */
function asked(override: Partial<Record<keyof typeof PROXY_SET, string | undefined>>, extra: Headers = []): Headers {
  const merged = { ...PROXY_SET, ...override };
  const set = Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined);
  return [...set, ...extra];
}

const decide = (name: string, headers: Headers, status: number, error: string, path = '/_portcullis/decide'): AttackCase => ({
  name,
  request: { path, headers },
  expect: { status, error },
});

const OPAQUE = ['Authorization', 'Bearer {{OPAQUE}}'] as const;

/** Hostile values in the header set the gateway reads; each is judged (or refused) like a direct request. */
const hostileValues: AttackCase[] = [
  decide('X-Forwarded-Uri as an absolute URL', asked({ 'X-Forwarded-Uri': 'http://evil.example/public/x' }), 400, 'invalid_path'),
  decide('X-Forwarded-Uri without a leading slash', asked({ 'X-Forwarded-Uri': 'public/x' }), 400, 'invalid_path'),
  decide('X-Forwarded-Uri protocol-relative', asked({ 'X-Forwarded-Uri': '//evil.example/public/x' }), 401, 'missing_credential'),
  decide('X-Forwarded-Uri climbing out of a public path', asked({ 'X-Forwarded-Uri': '/public/../admin' }), 401, 'missing_credential'),
  decide('X-Forwarded-Uri climbing out with encoded dots', asked({ 'X-Forwarded-Uri': '/public/%2e%2e/admin' }), 401, 'missing_credential'),
  decide('X-Forwarded-Uri with an encoded slash', asked({ 'X-Forwarded-Uri': '/public/..%2fadmin' }), 400, 'invalid_path'),
  decide('X-Forwarded-Uri with a fragment', asked({ 'X-Forwarded-Uri': '/admin#/../public/x' }), 400, 'invalid_path'),
  decide('X-Forwarded-Uri with a path parameter', asked({ 'X-Forwarded-Uri': '/public/..;/admin' }), 400, 'invalid_path'),
  decide('X-Forwarded-Uri empty', asked({ 'X-Forwarded-Uri': '' }), 400, 'invalid_path'),
  decide('GET-only bypass asked for DELETE', asked({ 'X-Forwarded-Method': 'DELETE', 'X-Forwarded-Uri': '/status' }), 401, 'missing_credential'),
  decide('a method list instead of a method', asked({ 'X-Forwarded-Method': 'GET, POST', 'X-Forwarded-Uri': '/status' }), 400, 'invalid_request'),
  decide('a method with a space inside', asked({ 'X-Forwarded-Method': 'G ET', 'X-Forwarded-Uri': '/status' }), 400, 'invalid_request'),
  decide('an unknown token via forward auth', asked({}, [['Authorization', 'Bearer not-a-known-token-0123456789']]), 401, 'invalid_token'),
  decide('X-Forwarded-Host with a path', asked({ 'X-Forwarded-Host': 'api.example/admin' }), 400, 'invalid_request'),
  decide('X-Forwarded-Host with user info', asked({ 'X-Forwarded-Host': 'public.example@api.example' }), 400, 'invalid_request'),
  decide('X-Forwarded-Host with a port out of range', asked({ 'X-Forwarded-Host': 'api.example:65536' }), 400, 'invalid_request'),
  decide('X-Forwarded-Host percent-encoded', asked({ 'X-Forwarded-Host': 'api%2eexample' }), 400, 'invalid_request'),
  decide('X-Forwarded-Host as a list', asked({ 'X-Forwarded-Host': 'api.example, public.example' }), 400, 'invalid_request'),
];

/**
 * nginx and Traefik pass the client's own headers to the decision call: a client adds the forms the
 * gateway does not read from, or a second copy of the ones it does. Nothing it adds may steer the decision.
 */
const clientAdded: AttackCase[] = [
  decide('client adds X-Original-URI naming a public path', asked({}, [['X-Original-URI', '/public/x']]), 400, 'invalid_request'),
  decide('client adds X-Original-Method: GET to a DELETE', asked({ 'X-Forwarded-Method': 'DELETE' }, [['X-Original-Method', 'GET']]), 400, 'invalid_request'),
  decide('client adds X-Original-Host naming another host', asked({}, [['X-Original-Host', 'public.example']]), 400, 'invalid_request'),
  decide('client appends a public path to the decide path', asked({}), 400, 'invalid_request', '/_portcullis/decide/public/x'),
  decide('client sends a second X-Forwarded-Uri (Node joins the two)', asked({}, [['X-Forwarded-Uri', '/public/x']]), 400, 'invalid_path'),
  decide('client sends a second X-Forwarded-Method', asked({ 'X-Forwarded-Method': 'DELETE' }, [['X-Forwarded-Method', 'GET']]), 400, 'invalid_request'),
  decide('client sends a second X-Forwarded-Host', asked({}, [['X-Forwarded-Host', 'public.example']]), 400, 'invalid_request'),
  decide('the proxy sent no X-Forwarded-Uri; the client sent X-Original-URI', asked({ 'X-Forwarded-Uri': undefined }, [['X-Original-URI', '/public/x']]), 400, 'invalid_request'),
  decide('the proxy sent no X-Forwarded-Method', asked({ 'X-Forwarded-Method': undefined }), 400, 'invalid_request'),
  decide('the proxy sent no X-Forwarded-Host', asked({ 'X-Forwarded-Host': undefined }), 400, 'invalid_request'),
  decide('nothing names the request (no guessing GET /)', [], 400, 'invalid_request'),
  decide(
    'forms the gateway never reads: X-Original-URL, X-Rewrite-URL, X-Forwarded-Prefix, Forwarded',
    asked({}, [['X-Original-URL', 'http://public.example/public/x'], ['X-Rewrite-URL', '/public/x'], ['X-Forwarded-Prefix', '/public'], ['Forwarded', 'host=public.example;proto=https']]),
    401,
    'missing_credential',
  ),
  decide('another form that agrees is judged as usual', asked({}, [['X-Original-URI', '/api/x'], ['X-Original-Method', 'get'], ['X-Original-Host', 'API.Example.:443']]), 401, 'missing_credential'),
];

export const forwardAuth: AttackCategory = {
  name: 'forward auth with hostile forwarded request lines',
  cases: [...hostileValues, ...clientAdded],
};

/** Members of `devs` (the OPAQUE token's alice) may only read. */
export const forwardAuthReadOnly: AttackCategory = {
  name: 'forward auth: a read-only caller asks for a write',
  settings: { groups: { readOnly: ['devs'] } },
  cases: [
    decide('DELETE as the proxy named it', asked({ 'X-Forwarded-Method': 'DELETE' }, [OPAQUE]), 403, 'read_only'),
    decide('DELETE, and the client adds X-Original-Method: GET', asked({ 'X-Forwarded-Method': 'DELETE' }, [OPAQUE, ['X-Original-Method', 'GET']]), 400, 'invalid_request'),
    decide('DELETE, and the client adds a second X-Forwarded-Method: GET', asked({ 'X-Forwarded-Method': 'DELETE' }, [OPAQUE, ['X-Forwarded-Method', 'GET']]), 400, 'invalid_request'),
    decide('DELETE named in lower case', asked({ 'X-Forwarded-Method': 'delete' }, [OPAQUE]), 403, 'read_only'),
    decide('DELETE, with Envoy’s form (GET decide call) added', asked({ 'X-Forwarded-Method': 'DELETE' }, [OPAQUE]), 400, 'invalid_request', '/_portcullis/decide/api/x'),
  ],
};

/** nginx set-ups that name the request in X-Original-* (settings forwardAuth.headers: x-original). */
const ORIGINAL_SET = [['X-Original-Method', 'GET'], ['X-Original-URI', '/api/x'], ['X-Original-Host', 'api.example']] as const;
const original = (uri: string, extra: Headers = []): Headers => [['X-Original-Method', 'GET'], ['X-Original-URI', uri], ['X-Original-Host', 'api.example'], ...extra];

export const forwardAuthOriginal: AttackCategory = {
  name: 'forward auth reading X-Original-* (forwardAuth.headers: x-original)',
  settings: { forwardAuth: { headers: 'x-original' } },
  cases: [
    decide('X-Original-URI climbing out of a public path', original('/public/%2e%2e/admin'), 401, 'missing_credential'),
    decide('X-Original-URI with an encoded slash', original('/public/..%2fadmin'), 400, 'invalid_path'),
    decide('client adds X-Forwarded-Uri naming a public path', original('/api/x', [['X-Forwarded-Uri', '/public/x']]), 400, 'invalid_request'),
    decide('client adds X-Forwarded-Method: GET', [...ORIGINAL_SET.filter(([n]) => n !== 'X-Original-Method'), ['X-Original-Method', 'DELETE'], ['X-Forwarded-Method', 'GET']], 400, 'invalid_request'),
    decide('client adds X-Forwarded-Host', original('/api/x', [['X-Forwarded-Host', 'public.example']]), 400, 'invalid_request'),
    decide('only the X-Forwarded-* set is there', asked({}), 400, 'invalid_request'),
  ],
};

/** Envoy's ext_authz form: the original path appended, the decide call's own method and Host (forwardAuth.headers: envoy). */
export const forwardAuthEnvoy: AttackCategory = {
  name: 'forward auth in Envoy’s form (forwardAuth.headers: envoy)',
  settings: { forwardAuth: { headers: 'envoy' } },
  cases: [
    { name: 'the appended path climbing out of a public path', request: { path: '/_portcullis/decide/public/%2e%2e/admin' }, expect: { status: 401, error: 'missing_credential' } },
    { name: 'the appended path with an encoded slash', request: { path: '/_portcullis/decide/public/..%2fadmin' }, expect: { status: 400, error: 'invalid_path' } },
    { name: 'no appended path', request: { path: '/_portcullis/decide' }, expect: { status: 400, error: 'invalid_request' } },
    { name: 'a query instead of an appended path', request: { path: '/_portcullis/decide?/public/x' }, expect: { status: 400, error: 'invalid_request' } },
    { name: 'client adds X-Forwarded-Uri naming a public path', request: { path: '/_portcullis/decide/api/x', headers: [['X-Forwarded-Uri', '/public/x']] }, expect: { status: 400, error: 'invalid_request' } },
    { name: 'client adds X-Forwarded-Host naming another host', request: { path: '/_portcullis/decide/api/x', headers: [['Host', 'api.example'], ['X-Forwarded-Host', 'public.example']] }, expect: { status: 400, error: 'invalid_request' } },
    { name: 'client adds X-Original-Method: GET to a DELETE', request: { method: 'DELETE', path: '/_portcullis/decide/api/x', headers: [['X-Original-Method', 'GET']] }, expect: { status: 400, error: 'invalid_request' } },
    { name: 'two Host headers on the decide call', request: { path: '/_portcullis/decide/api/x', headers: [['Host', 'api.example'], ['Host', 'public.example']] }, expect: { status: 400, error: 'invalid_request' } },
  ],
};

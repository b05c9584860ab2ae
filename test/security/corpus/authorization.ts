// Malformed, oversized and unsupported Authorization headers, and invalid base64 in Basic and Bearer credentials.
import type { AttackCase, AttackCategory } from './types.js';

const b64 = (text: string) => Buffer.from(text, 'latin1').toString('base64');
const path = '/api/resource';
const header = (value: string) => ({ path, headers: [['Authorization', value]] as const });

/** Refused by the credential parser: 400 invalid_request with an RFC 6750 invalid_request challenge. */
const malformed = (name: string, value: string, description: string): AttackCase => ({
  name,
  request: header(value),
  expect: { status: 400, error: 'invalid_request', description },
});

/** Parsed, but no provider accepts it. */
const unknown = (name: string, value: string, description: string | undefined = 'no provider accepts this credential'): AttackCase => ({
  name,
  request: header(value),
  expect: { status: 401, error: 'invalid_token', ...(description === undefined ? {} : { description }) },
});

const MALFORMED_BEARER = 'malformed bearer credentials';
const MALFORMED_BASIC = 'malformed basic credentials';
const UNSUPPORTED = 'unsupported authorization scheme';
const BASIC_TOKENS_ONLY = 'Basic credentials are accepted only with a gateway token as the password';

export const authorizationHeaders: AttackCategory = {
  name: 'malformed and oversized Authorization headers',
  cases: [
    malformed('scheme only: Bearer', 'Bearer', MALFORMED_BEARER),
    malformed('Bearer with trailing spaces only', 'Bearer   ', MALFORMED_BEARER),
    malformed('two tokens', 'Bearer abc def', MALFORMED_BEARER),
    malformed('comma-separated tokens', 'Bearer abc,def', MALFORMED_BEARER),
    malformed('quoted token', 'Bearer "abcdef"', MALFORMED_BEARER),
    malformed('token with semicolon', 'Bearer abc;def', MALFORMED_BEARER),
    malformed('token with a tab inside', 'Bearer abc\tdef', MALFORMED_BEARER),
    malformed('tab instead of space after the scheme', 'Bearer\tabcdef', MALFORMED_BEARER),
    malformed('= inside the token', 'Bearer abc=def', MALFORMED_BEARER),
    malformed('token with non-ASCII (latin1) bytes', 'Bearer abc\xe9def', MALFORMED_BEARER),
    malformed('token with a backslash', 'Bearer abc\\def', MALFORMED_BEARER),
    malformed('auth-param form (token=...)', 'Bearer token="abcdef"', MALFORMED_BEARER),
    malformed('JWT with a character outside base64url', 'Bearer eyJhbGciOiJSUzI1NiJ9.e!J9.c2ln', MALFORMED_BEARER),
    malformed('JSON instead of a token', 'Bearer {"sub":"admin"}', MALFORMED_BEARER),
    malformed('Bearer twice', 'Bearer Bearer abc', MALFORMED_BEARER),
    malformed('scheme only: Basic', 'Basic', MALFORMED_BASIC),
    malformed('Basic with non-base64 characters', 'Basic !!!', MALFORMED_BASIC),
    malformed('Basic with base64url alphabet (-_)', 'Basic YWxp-2U6_HBh', MALFORMED_BASIC),
    malformed('Basic with padding in the middle', 'Basic YQ==YWxpY2U6cA==', MALFORMED_BASIC),
    malformed('Basic with three padding characters', 'Basic YWxpY2U6cA===', MALFORMED_BASIC),
    malformed('Basic without a colon', `Basic ${b64('alicenocolon')}`, MALFORMED_BASIC),
    malformed('Basic with an empty user name', `Basic ${b64(':password')}`, MALFORMED_BASIC),
    malformed('Basic decoding to invalid UTF-8', `Basic ${b64('al\xffice:pa\xfess')}`, MALFORMED_BASIC),
    malformed('Basic with a NUL in the user name', `Basic ${b64('admin\x00:x')}`, MALFORMED_BASIC),
    malformed('Basic with CR/LF in the password', `Basic ${b64('alice:x\r\nX-Injected: 1')}`, MALFORMED_BASIC),
    malformed('Basic with DEL in the password', `Basic ${b64('alice:pa\x7fss')}`, MALFORMED_BASIC),
    malformed('Basic of an empty string', 'Basic ====', MALFORMED_BASIC),
    malformed('Basic with two credentials', `Basic ${b64('a:b')} ${b64('c:d')}`, MALFORMED_BASIC),
    malformed('Basic with a space inside the base64', 'Basic YWxp Y2U6cA==', MALFORMED_BASIC),
    malformed('Negotiate', 'Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEFoQMCAQ6iBwMFACAAAAA=', UNSUPPORTED),
    malformed('Digest', 'Digest username="admin", realm="x", nonce="1", uri="/", response="0"', UNSUPPORTED),
    malformed('NTLM', 'NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==', UNSUPPORTED),
    malformed('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA256 Credential=AKIA/x, SignedHeaders=host, Signature=00', UNSUPPORTED),
    malformed('OAuth 1.0 header', 'OAuth oauth_consumer_key="x", oauth_signature="y"', UNSUPPORTED),
    malformed('DPoP scheme', 'DPoP eyJhbGciOiJFUzI1NiJ9.e30.c2ln', UNSUPPORTED),
    malformed('Token scheme (GitHub style)', 'token ghp_abcdefghijklmnopqrstuvwxyz0123456789', UNSUPPORTED),
    malformed('bare token without a scheme', 'abcdef0123456789', UNSUPPORTED),
    malformed('scheme glued to the token', 'Bearerabcdef0123456789', UNSUPPORTED),
    { name: 'comma list of schemes', request: header('Basic, Bearer abcdef0123456789'), expect: { status: 400, error: 'invalid_request' } },
    unknown('lower-case scheme with an unknown token', 'bearer abcdef0123456789'),
    unknown('upper-case scheme with an unknown token', 'BEARER abcdef0123456789'),
    unknown('several spaces before the token', 'Bearer     abcdef0123456789'),
    unknown('trailing spaces after the token', 'Bearer abcdef0123456789   '),
    unknown('only padding characters', 'Bearer ===='.replace('====', 'A===')),
    unknown('12 KiB opaque token', `Bearer ${'A'.repeat(12 * 1024)}`),
    unknown('16000-character JWT-shaped token with undecodable parts', `Bearer ${'eyJ' + 'a'.repeat(8000)}.${'b'.repeat(8000)}.c`),
    unknown('Basic with an unknown user', `Basic ${b64('mallory:guess')}`, BASIC_TOKENS_ONLY),
    unknown('Basic carrying a valid opaque token as password (Basic takes gateway tokens only)', 'Basic {{BASIC_VALID}}', BASIC_TOKENS_ONLY),
    {
      name: 'Authorization larger than the HTTP header limit: refused by the parser (431)',
      request: header(`Bearer ${'A'.repeat(17 * 1024)}`),
      expect: { status: 431, error: 'request_header_fields_too_large', audited: false },
    },
    {
      name: 'Authorization with CR LF splitting into a second header: refused by the parser',
      request: { raw: 'GET /api/resource HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer abc\rX-Admin: 1\r\nConnection: close\r\n\r\n' },
      expect: { status: 400, error: 'parser' },
    },
    {
      name: 'Authorization with a NUL byte: refused by the parser',
      request: { raw: 'GET /api/resource HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer abc\x00def\r\nConnection: close\r\n\r\n' },
      expect: { status: 400, error: 'parser' },
    },
    {
      name: 'Authorization continued on an obs-fold line: refused by the parser',
      request: { raw: 'GET /api/resource HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer\r\n {{VALID}}\r\nConnection: close\r\n\r\n' },
      expect: { status: 400, error: 'parser' },
    },
    {
      name: 'an empty Authorization header counts as none',
      request: header(''),
      expect: { status: 401, error: 'missing_credential' },
    },
    {
      name: 'a valid credential in Proxy-Authorization does not authenticate',
      request: { path, headers: [['Proxy-Authorization', 'Bearer {{VALID}}']] },
      expect: { status: 401, error: 'missing_credential' },
    },
  ],
};

// With the master switch off nothing is judged and requests pass untouched: the request target reaches the upstream exactly
// as received, even a path the normaliser refuses (not the shortened form the audit records, cut at `;`, `#`, 512 chars).
import type { AttackCase, AttackCategory } from './types.js';

const untouched = (name: string, path: string): AttackCase => ({
  name,
  request: { path },
  expect: { status: 200, error: 'auth_disabled', upstreamPath: path },
});

export const masterSwitchOff: AttackCategory = {
  name: 'refused paths with the master switch off',
  settings: { enabled: false },
  cases: [
    untouched('a session id as a path parameter', '/app/login;jsessionid=ABC'),
    untouched('a path parameter and a query', '/app/login;jsessionid=ABC?next=/home&x=1'),
    untouched('several path parameters', '/x;a=1/y;b=2'),
    untouched('an encoded semicolon', '/a%3bb'),
    untouched('a Tomcat-style ..; segment', '/public/..;/admin'),
    untouched('a fragment sent on the wire', '/app#access_token=abc'),
    untouched('a backslash and a path parameter', '/a\\b;x=1'),
    untouched('characters outside RFC 3986 and a bad escape after a parameter', '/x;y=%ZZ"<>{}|^`'),
    untouched('dot segments and a double slash, which nothing judged and so nothing normalises', '/a/./b//c/../d'),
    untouched('a refused path longer than 512 characters', `/%2F${'a'.repeat(600)}`),
    untouched('a refused long path with a parameter at its end', `/${'a'.repeat(600)};x=1`),
    {
      name: 'with a credential, it passes untouched too',
      request: { path: '/app/login;jsessionid=ABC', headers: [['Authorization', 'Bearer {{VALID}}']] },
      expect: { status: 200, error: 'auth_disabled', upstreamPath: '/app/login;jsessionid=ABC' },
    },
  ],
};

// Identities whose names do not fit a header as they are (outside Latin-1, non-ASCII, spaces at an end, `%`, controls):
// the identity headers carry them percent-encoded, so the gateway neither fails (502/500) nor hands the upstream another name.
import type { TokenSpec } from '../forge.js';
import type { AttackCase, AttackCategory } from './types.js';

const as = (claims: Readonly<Record<string, unknown>>): TokenSpec => ({ sign: 'ours', claims });

/** A proxied request by `username`: the upstream must read `header` as X-Portcullis-User. */
const proxied = (name: string, username: string, header: string): AttackCase => ({
  name: `proxied: ${name}`,
  request: { token: as({ preferred_username: username }) },
  expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-portcullis-user': header } },
});

/** The same through forward auth: the answer carries the encoded header, nothing is proxied. */
const decided = (name: string, username: string, header: string): AttackCase => ({
  name: `forward auth: ${name}`,
  request: { path: '/_portcullis/decide', token: as({ preferred_username: username }), headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/api/x'], ['X-Forwarded-Host', 'gateway.test']] },
  expect: { status: 200, error: 'authenticated', proxied: false, answerHeaders: { 'x-portcullis-user': header } },
});

export const identityEncoding: AttackCategory = {
  name: 'identities that do not fit a header as they are',
  cases: [
    proxied('a Polish name (outside Latin-1)', 'Łukasz', '%C5%81ukasz'),
    proxied('a Chinese name', '王小明', '%E7%8E%8B%E5%B0%8F%E6%98%8E'),
    proxied('a Latin-1 name (would go out as one ISO-8859-1 byte)', 'José', 'Jos%C3%A9'),
    proxied('an emoji (a surrogate pair)', '😀dev', '%F0%9F%98%80dev'),
    proxied('a lone surrogate (not Unicode)', '\ud800x', '%EF%BF%BDx'),
    proxied('a leading space that parsers would trim into another user', ' admin', '%20admin'),
    proxied('a trailing space', 'admin ', 'admin%20'),
    proxied('a percent sign that would decode into another name', 'a%41', 'a%2541'),
    proxied('CR LF with an injected header', 'eve\r\nX-Portcullis-Groups: admins', 'eve%0D%0AX-Portcullis-Groups: admins'),
    proxied('a tab', 'eve\tadmin', 'eve%09admin'),
    proxied('a NUL', 'eve\u0000admin', 'eve%00admin'),
    proxied('DEL', 'eve\u007f', 'eve%7F'),
    {
      name: 'proxied: a JWT id outside Latin-1 as X-Portcullis-Token-Id',
      request: { token: as({ jti: 'jti-王' }) },
      expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-portcullis-token-id': 'jti-%E7%8E%8B' } },
    },
    decided('a Chinese name', '王小明', '%E7%8E%8B%E5%B0%8F%E6%98%8E'),
    decided('a Polish name', 'Łukasz', '%C5%81ukasz'),
    decided('CR LF with an injected header', 'eve\r\nX-Portcullis-Groups: admins', 'eve%0D%0AX-Portcullis-Groups: admins'),
  ],
};

/** Not attacks: group names were percent-encoded before, and stay so. */
export const identityEncodingControls: AttackCategory = {
  name: 'identities that do not fit a header as they are: controls (passed)',
  cases: [
    {
      name: 'groups outside Latin-1 (each group encoded, the comma kept as separator)',
      request: { token: as({ groups: ['Łódź', 'a,b'] }) },
      expect: { status: 200, error: 'authenticated', upstreamHeaders: { 'x-portcullis-groups': '%C5%81%C3%B3d%C5%BA,a%2Cb' } },
    },
    proxied('ordinary ASCII names pass unchanged', 'alice@example.com', 'alice@example.com'),
    proxied('a space inside a name passes unchanged', 'Jane Doe', 'Jane Doe'),
  ],
};

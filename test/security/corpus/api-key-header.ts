// The API-key header (settings credentials.apiKeyHeader): a gateway token sent in it authenticates, and the
// header never reaches the upstream, in any spelling; the harness also checks the token appears in no upstream header.
import type { AttackCase, AttackCategory } from './types.js';

const gone = { 'x-api-key': null, x_api_key: null, authorization: null } as const;
const asCi = { ...gone, 'x-portcullis-user': 'ci', 'x-portcullis-provider': 'gateway' } as const;
const authenticated = { status: 200, error: 'authenticated', upstreamHeaders: asCi } as const;

const passes: AttackCase[] = [
  { name: 'X-Api-Key: <gateway token>', request: { headers: [['X-Api-Key', '{{GATEWAY}}']] }, expect: authenticated },
  { name: 'x-API-KEY: <gateway token> (name in another case)', request: { headers: [['x-API-KEY', '{{GATEWAY}}']] }, expect: authenticated },
  { name: 'the key padded with spaces', request: { headers: [['X-Api-Key', '   {{GATEWAY}}  ']] }, expect: authenticated },
  { name: 'the key and its `_` spelling X_Api_Key', request: { headers: [['X-Api-Key', '{{GATEWAY}}'], ['X_Api_Key', '{{GATEWAY}}']] }, expect: authenticated },
  { name: 'the key on a write with a body', request: { method: 'POST', headers: [['X-Api-Key', '{{GATEWAY}}'], ['Content-Type', 'text/plain'], ['Content-Length', '5']], body: 'hello' }, expect: { ...authenticated, upstreamBody: 'hello' } },
  { name: 'the key on a public path (it still authenticates)', request: { path: '/public/doc', headers: [['X-Api-Key', '{{GATEWAY}}']] }, expect: authenticated },
  {
    name: 'the key with a Connection header naming it',
    request: { headers: [['X-Api-Key', '{{GATEWAY}}'], ['Connection', 'close, x-api-key']] },
    expect: authenticated,
  },
];

const refusals: AttackCase[] = [
  { name: 'the key and an Authorization header together', request: { headers: [['X-Api-Key', '{{GATEWAY}}'], ['Authorization', 'Bearer {{VALID}}']] }, expect: { status: 400, error: 'invalid_request' } },
  { name: 'a gateway token with one character changed', request: { headers: [['X-Api-Key', '{{GATEWAY_FLIPPED}}']] }, expect: { status: 401, error: 'invalid_token' } },
  { name: 'a provider token in the key header (gateway tokens only)', request: { headers: [['X-Api-Key', '{{OPAQUE}}']] }, expect: { status: 401, error: 'invalid_token' } },
  { name: 'an empty key header', request: { headers: [['X-Api-Key', '']] }, expect: { status: 401, error: 'missing_credential' } },
];

export const apiKeyHeader: AttackCategory = {
  name: 'the API-key header',
  settings: { credentials: { apiKeyHeader: 'x-api-key' } },
  cases: [...passes, ...refusals],
};

// Hostile values in the fields the decision log records: each request is answered as usual and recorded once, cut where the log cuts, never breaking its record.
import type { AttackCase, AttackCategory } from './types.js';

const LONG_HOST = `${'h'.repeat(3990)}.example`;
/** A Host that is not one is refused at the edge (core/host.ts) and recorded as received, its first 255 characters. */
const REFUSED_HOST = LONG_HOST.slice(0, 255);
const LONG_PATH = `/api/${'p'.repeat(7000)}`;

const cases: AttackCase[] = [
  {
    name: 'a 4,000-character Host, no credential: refused at the edge, recorded with the host cut to 255 characters',
    request: { headers: [['Host', LONG_HOST]] },
    expect: { status: 400, error: 'invalid_request', recorded: { host: REFUSED_HOST } },
  },
  {
    name: 'a 4,000-character Host with a valid token: refused at the edge all the same, recorded with the host cut',
    request: { headers: [['Host', LONG_HOST], ['Authorization', 'Bearer {{VALID}}']] },
    expect: { status: 400, error: 'invalid_request', recorded: { host: REFUSED_HOST } },
  },
  {
    name: 'a Host shaped like a record ({"allow":true}) is refused and recorded as text, exactly',
    request: { headers: [['Host', '{"allow":true,"reason":"x"}']] },
    expect: { status: 400, error: 'invalid_request', recorded: { host: '{"allow":true,"reason":"x"}' } },
  },
  {
    name: 'a Host with a comma and a quote, as a JSON list would hold them, is refused and recorded exactly',
    request: { headers: [['Host', 'a","b'], ['Authorization', 'Bearer {{VALID}}']] },
    expect: { status: 400, error: 'invalid_request', recorded: { host: 'a","b' } },
  },
  {
    name: 'a 7,000-character path is recorded whole',
    request: { path: LONG_PATH },
    expect: { status: 401, error: 'missing_credential', recorded: { path: LONG_PATH } },
  },
  {
    name: 'a client-chosen X-Request-Id does not become the recorded request id',
    request: { headers: [['X-Request-Id', 'forged-00000000-0000-7000-8000-000000000000']] },
    expect: { status: 401, error: 'missing_credential' },
  },
  {
    name: 'a path of a thousand distinct segments, valid token: recorded whole',
    request: { path: `/api/${Array.from({ length: 1000 }, (_, i) => i.toString(36)).join('/')}`, headers: [['Authorization', 'Bearer {{VALID}}']] },
    expect: { status: 200, error: 'authenticated', recorded: { path: `/api/${Array.from({ length: 1000 }, (_, i) => i.toString(36)).join('/')}` } },
  },
];

export const decisionLog: AttackCategory = { name: 'decision log: hostile recorded fields', cases };

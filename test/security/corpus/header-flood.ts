// Header flooding: past a cap, Node (at the gateway and at an upstream on Node) keeps only the first fields, which
// would push out the identity and forwarding headers the gateway adds; the gateway refuses with 431 instead.
import type { AttackCategory, Expectation } from './types.js';

const AUTH = ['Authorization', 'Bearer {{VALID}}'] as const;
/** `n` filler fields; the wire form adds Host and Connection, so a request with AUTH has n + 3. */
const filler = (n: number, name = (i: number) => `X-Filler-${i}`, value = 'v'): (readonly [string, string])[] =>
  Array.from({ length: n }, (_, i) => [name(i), value] as const);

const COUNT: Expectation = { status: 431, error: 'request_header_fields_too_large' };
/** Refused by the HTTP parser for size: a JSON 431 all the same, but no request existed to audit. */
const SIZE: Expectation = { status: 431, error: 'request_header_fields_too_large', audited: false };

export const headerFlood: AttackCategory = {
  name: 'header count and size caps',
  cases: [
    { name: '101 header fields', request: { headers: [AUTH, ...filler(98)] }, expect: COUNT },
    { name: '1000 short header fields (what pushed the identity headers out)', request: { headers: [AUTH, ...filler(997)] }, expect: COUNT },
    { name: '1500 one-letter header fields', request: { headers: [AUTH, ...filler(1497, (i) => `h${i}`)] }, expect: COUNT },
    { name: '150 repetitions of one name', request: { headers: [AUTH, ...filler(147, () => 'X-Dup')] }, expect: COUNT },
    { name: '101 empty-valued fields', request: { headers: [AUTH, ...filler(98, (i) => `X-E${i}`, '')] }, expect: COUNT },
    { name: '120 Cookie lines', request: { headers: [AUTH, ...filler(117, () => 'Cookie', 'a=1')] }, expect: COUNT },
    { name: 'an anonymous flood: refused before the pipeline, not 401', request: { headers: filler(200) }, expect: COUNT },
    { name: 'a flood on a bypass path', request: { path: '/alive', headers: filler(200) }, expect: COUNT },
    { name: 'a flood on forward auth', request: { path: '/_portcullis/decide', headers: [AUTH, ['X-Forwarded-Uri', '/api/x'], ...filler(200)] }, expect: COUNT },
    { name: '50 fields of 400 bytes (20 KB head)', request: { headers: [AUTH, ...filler(50, (i) => `X-Big-${i}`, 'b'.repeat(400))] }, expect: SIZE },
    { name: 'one 17 KiB Cookie', request: { headers: [AUTH, ['Cookie', `c=${'x'.repeat(17 * 1024)}`]] }, expect: SIZE },
    { name: 'a 64 KiB field name', request: { headers: [AUTH, [`X-${'n'.repeat(64 * 1024)}`, '1']] }, expect: SIZE },
    { name: 'a 17 KiB request target (the request line counts)', request: { path: `/${'p'.repeat(17 * 1024)}`, headers: [AUTH] }, expect: SIZE },
  ],
};

/** Not attacks: the most a client may send still passes, with every header the gateway adds. */
export const headerFloodControls: AttackCategory = {
  name: 'header count and size caps: controls (passed)',
  cases: [
    {
      name: 'exactly 100 fields pass, with every header the gateway adds',
      request: { headers: [AUTH, ...filler(97)] },
      expect: {
        status: 200,
        error: 'authenticated',
        upstreamHeaders: { 'x-portcullis-user': 'mallory', 'x-portcullis-groups': 'devs', 'x-forwarded-for': '127.0.0.1', 'x-filler-96': 'v' },
      },
    },
  ],
};

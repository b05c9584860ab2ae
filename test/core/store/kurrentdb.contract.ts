// The store contract against a KurrentDB server (25.1 or newer): `npm run test:kurrentdb` with PORTCULLIS_TEST_KURRENTDB naming it. Not in `npm test`: no server runs in this CI.
import { randomBytes } from 'node:crypto';

import { KurrentEventStore } from '../../../core/store/kurrentdb.js';
import { eventStoreContract } from './contract.js';

const server = process.env.PORTCULLIS_TEST_KURRENTDB;

describe('kurrentdb', () => {
  before(() => {
    // Run only on purpose, and then never as a silent skip.
    if (!server) throw new Error('PORTCULLIS_TEST_KURRENTDB must name a KurrentDB server, e.g. kurrentdb://127.0.0.1:2113?tls=false');
  });
  eventStoreContract('kurrentdb', async () => {
    // A namespace of its own per test: the server keeps what earlier tests wrote.
    const namespace = `t${randomBytes(6).toString('hex')}`;
    return KurrentEventStore.open(`${server!}${server!.includes('?') ? '&' : '?'}namespace=${namespace}`);
  });
});

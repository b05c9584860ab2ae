// Fault suite, upstream: refusing, resetting mid-body, slow to answer or to finish, against the built gateway.
import { expect } from 'chai';
import { request } from 'undici';

import { call } from '../e2e/fixtures/http.js';
import type { Gateway } from '../e2e/fixtures/processes.js';
import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import {
  bearer,
  expectError,
  expectHealthy,
  jwtKeyProvider,
  putProvider,
  removeDataDirs,
  requireBuiltCli,
  startFaultGateway,
} from './fixtures/gateway.js';
import { AUDIENCE, newIdpKey, signToken } from './fixtures/idp.js';
import { startFaultUpstream, type FaultUpstream } from './fixtures/upstream.js';

/**
 * portcullis.yaml `upstreamTimeoutMs` for these tests: headers and body gaps longer than this end the
 * exchange. The slow answers below are either far shorter or far longer, so a busy machine cannot
 * move one to the other side.
 */
const UPSTREAM_TIMEOUT_MS = 2_000;
/** An upstream slower than usual, well within the timeout. */
const SLOWISH_MS = 250;
/** An upstream that takes far longer than the timeout (the gateway gives up first). */
const STALLED_MS = 8_000;
const ISSUER = 'urn:portcullis:faults:upstream';

describe('faults: upstream (built gateway, misbehaving upstream on loopback)', function () {
  this.timeout(20_000);

  let upstream: FaultUpstream;
  let gateway: Gateway;
  let token: string;

  const get = (path: string, timeoutMs = 10_000) => call(`${gateway.url}${path}`, { headers: bearer(token), timeoutMs });
  /** Health, and an ordinary proxied request answered. */
  const expectServing = async (): Promise<void> => {
    await expectHealthy(gateway);
    const res = await get('/ok/next-request');
    expect(res.status, res.text).to.equal(200);
    expect((res.json as { user?: unknown }).user).to.equal('fault-user');
  };

  before(async () => {
    requireBuiltCli();
    upstream = await startFaultUpstream();
    gateway = await startFaultGateway({ upstream: upstream.url, processConfig: { upstreamTimeoutMs: UPSTREAM_TIMEOUT_MS } });
    const key = await newIdpKey('upstream-k1');
    const put = await putProvider(gateway, 'local-key', jwtKeyProvider(key.publicJwk, ISSUER, AUDIENCE));
    expect(put.status, put.text).to.be.oneOf([200, 201]);
    token = await signToken(ISSUER, key);
    await expectServing();
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await removeDataDirs();
  });

  describe('refusing connections', () => {
    // 502, not the 504 of a timeout: a refused connection is an answer the gateway does not wait for.
    it('answers 502 upstream_unavailable while nothing listens', async () => {
      await upstream.refuse();
      try {
        for (let i = 0; i < 3; i++) expectError(await get(`/ok/refused-${i}`), 502, 'upstream_unavailable');
        await expectHealthy(gateway);
      } finally {
        await upstream.accept();
      }
    });

    it('proxies again as soon as the upstream listens again', expectServing);
  });

  describe('resetting', () => {
    it('answers 502 upstream_unavailable when the upstream resets before its headers', async () => {
      const res = await get('/reset-before-headers/x');
      expectError(res, 502, 'upstream_unavailable');
      await expectServing();
    });

    it('ends only that exchange when the upstream resets mid-body: the client sees a truncated answer, not a clean one', async () => {
      const res = await request(`${gateway.url}/reset-mid-body/x`, { headers: bearer(token), headersTimeout: 5_000, bodyTimeout: 5_000 });
      // The headers were already relayed (200, 256 KiB announced): all the gateway can do is cut the connection.
      expect(res.statusCode).to.equal(200);
      let received = 0;
      const outcome = await (async () => {
        try {
          for await (const chunk of res.body) received += (chunk as Buffer).length;
          return 'complete';
        } catch (err) {
          return (err as { code?: string }).code ?? 'error';
        }
      })();
      expect(outcome, `got ${received} bytes`).to.not.equal('complete');
      expect(received).to.be.below(256 * 1024);
      await expectServing();
    });

    it('survives 20 concurrent mid-body resets next to ordinary traffic', async () => {
      const resets = Array.from({ length: 20 }, (_, i) =>
        request(`${gateway.url}/reset-mid-body/${i}`, { headers: bearer(token), headersTimeout: 5_000, bodyTimeout: 5_000 })
          .then((res) => res.body.arrayBuffer())
          .then(
            () => 'complete',
            () => 'cut',
          ),
      );
      const ordinary = Array.from({ length: 20 }, (_, i) => get(`/ok/beside-resets-${i}`).then((r) => r.status));
      const [cut, statuses] = await Promise.all([Promise.all(resets), Promise.all(ordinary)]);
      expect(cut.filter((c) => c === 'complete')).to.deep.equal([]);
      expect(statuses).to.deep.equal(Array(20).fill(200));
      await expectServing();
    });
  });

  describe('slow', () => {
    it('waits for an upstream slower than usual but within upstreamTimeoutMs', async () => {
      const res = await get(`/slow-headers/${SLOWISH_MS}/x`);
      expect(res.status, res.text).to.equal(200);
    });

    // The upstream would answer 200 after STALLED_MS: a 504 is the gateway giving up first.
    it(`answers 504 upstream_timeout after upstreamTimeoutMs (${UPSTREAM_TIMEOUT_MS} ms) when the headers do not come`, async () => {
      expectError(await get(`/slow-headers/${STALLED_MS}/x`), 504, 'upstream_timeout');
      await expectServing();
    });

    it('answers 504 for each of 20 concurrent slow requests and serves others meanwhile', async () => {
      const hitsBefore = upstream.hits.get('slow-headers') ?? 0;
      let slowAnswered = 0;
      const slow = Array.from({ length: 20 }, (_, i) =>
        get(`/slow-headers/${STALLED_MS}/${i}`).finally(() => {
          slowAnswered += 1;
        }),
      );
      await eventually(() => (upstream.hits.get('slow-headers') ?? 0) - hitsBefore === 20, { within: 10_000, what: 'all 20 slow requests reaching the upstream' });
      const fast = await get('/ok/during-slow');
      expect(fast.status).to.equal(200);
      expect(slowAnswered, 'ordinary traffic is not queued behind the slow exchanges').to.equal(0);
      const answers = await Promise.all(slow);
      expect(answers.map((r) => `${r.status} ${(r.json as { error?: string } | undefined)?.error}`)).to.deep.equal(
        Array(20).fill('504 upstream_timeout'),
      );
      await expectServing();
    });

    it('cuts the connection when the body stalls longer than upstreamTimeoutMs after the headers were relayed', async function () {
      this.timeout(30_000);
      // The client itself would wait longer than the upstream stalls: only the gateway can end this early.
      const res = await request(`${gateway.url}/slow-body/${STALLED_MS}/x`, { headers: bearer(token), headersTimeout: 20_000, bodyTimeout: 20_000 });
      expect(res.statusCode).to.equal(200);
      const outcome = await res.body.text().then(
        () => 'complete',
        (err: { code?: string }) => err.code ?? 'error',
      );
      expect(outcome, 'the gateway cut the connection').to.not.be.oneOf(['complete', 'UND_ERR_BODY_TIMEOUT']);
      await expectServing();
    });
  });

  describe('client hanging up', () => {
    it('survives clients that disconnect mid-response, and ends the upstream exchange too', async () => {
      const cutBefore = upstream.dripsCut.count;
      const aborted = Array.from({ length: 10 }, async (_, i) => {
        const controller = new AbortController();
        const res = await request(`${gateway.url}/drip/200/${i}`, { headers: bearer(token), signal: controller.signal });
        let seen = 0;
        try {
          for await (const chunk of res.body) {
            seen += (chunk as Buffer).length;
            if (seen >= 4 * 1024) controller.abort();
          }
        } catch {
          // the abort itself
        }
        return seen;
      });
      const seen = await Promise.all(aborted);
      expect(seen.every((s) => s < 200 * 1024)).to.equal(true);
      await eventually(() => expect(upstream.dripsCut.count - cutBefore, 'upstream answers abandoned, not streamed to the end').to.equal(10), {
        within: 10_000,
      });
      await expectServing();
    });
  });
});

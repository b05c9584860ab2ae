// Fault suite, upstream: refusing, resetting mid-body, slow to answer or to finish, against the built gateway.
import { expect } from 'chai';
import { request } from 'undici';

import { call } from '../e2e/fixtures/http.js';
import { sleep, stopAll, type Gateway } from '../e2e/fixtures/processes.js';
import {
  bearer,
  expectError,
  expectHealthy,
  jwtKeyProvider,
  putProvider,
  removeDataDirs,
  requireBuiltCli,
  startFaultGateway,
  timed,
} from './fixtures/gateway.js';
import { AUDIENCE, newIdpKey, signToken } from './fixtures/idp.js';
import { startFaultUpstream, type FaultUpstream } from './fixtures/upstream.js';

/** portcullis.yaml `upstreamTimeoutMs` for these tests: headers and body gaps longer than this end the exchange. */
const UPSTREAM_TIMEOUT_MS = 1_000;
const ISSUER = 'urn:portcullis:faults:upstream';

describe('faults: upstream (built gateway, misbehaving upstream on loopback)', function () {
  this.timeout(20_000);

  let upstream: FaultUpstream;
  let gateway: Gateway;
  let token: string;

  const get = (path: string, timeoutMs = 10_000) => call(`${gateway.url}${path}`, { headers: bearer(token), timeoutMs });
  /** Health, and an ordinary proxied request answered at once. */
  const expectServing = async (): Promise<void> => {
    await expectHealthy(gateway);
    const { value: res, ms } = await timed(() => get('/ok/next-request'));
    expect(res.status, res.text).to.equal(200);
    expect((res.json as { user?: unknown }).user).to.equal('fault-user');
    expect(ms).to.be.below(1_000);
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
    it('answers 502 upstream_unavailable at once while nothing listens', async () => {
      await upstream.refuse();
      try {
        for (let i = 0; i < 3; i++) {
          const { value: res, ms } = await timed(() => get(`/ok/refused-${i}`));
          expectError(res, 502, 'upstream_unavailable');
          expect(ms).to.be.below(UPSTREAM_TIMEOUT_MS);
        }
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
      const res = await get(`/slow-headers/${UPSTREAM_TIMEOUT_MS / 2}/x`);
      expect(res.status, res.text).to.equal(200);
    });

    it(`answers 504 upstream_timeout after upstreamTimeoutMs (${UPSTREAM_TIMEOUT_MS} ms) when the headers do not come`, async () => {
      const { value: res, ms } = await timed(() => get('/slow-headers/8000/x'));
      expectError(res, 504, 'upstream_timeout');
      expect(ms).to.be.at.least(UPSTREAM_TIMEOUT_MS - 50).and.below(UPSTREAM_TIMEOUT_MS + 1_500);
      await expectServing();
    });

    it('answers 504 for each of 20 concurrent slow requests and serves others meanwhile', async () => {
      const slow = Array.from({ length: 20 }, (_, i) => get(`/slow-headers/8000/${i}`));
      await sleep(200);
      const { value: fast, ms } = await timed(() => get('/ok/during-slow'));
      expect(fast.status).to.equal(200);
      expect(ms, 'ordinary traffic is not queued behind the slow exchanges').to.be.below(UPSTREAM_TIMEOUT_MS);
      const answers = await Promise.all(slow);
      expect(answers.map((r) => `${r.status} ${(r.json as { error?: string } | undefined)?.error}`)).to.deep.equal(
        Array(20).fill('504 upstream_timeout'),
      );
      await expectServing();
    });

    it('cuts the connection when the body stalls longer than upstreamTimeoutMs after the headers were relayed', async () => {
      const started = performance.now();
      const res = await request(`${gateway.url}/slow-body/8000/x`, { headers: bearer(token), headersTimeout: 5_000, bodyTimeout: 8_000 });
      expect(res.statusCode).to.equal(200);
      const outcome = await res.body.text().then(
        () => 'complete',
        (err: { code?: string }) => err.code ?? 'error',
      );
      const ms = performance.now() - started;
      expect(outcome).to.not.equal('complete');
      expect(ms, 'cut near the timeout, not when the upstream finished').to.be.below(UPSTREAM_TIMEOUT_MS + 2_000);
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
      const deadline = Date.now() + 3_000;
      while (upstream.dripsCut.count - cutBefore < 10 && Date.now() < deadline) await sleep(50);
      expect(upstream.dripsCut.count - cutBefore, 'upstream answers abandoned, not streamed to the end').to.equal(10);
      await expectServing();
    });
  });
});

// Tests for the outbound JSON helper: limits, redirects, content checks and error codes.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import nock from 'nock';
import { fetchJson, UpstreamHttpError, type FetchJsonOptions, type UpstreamErrorCode } from '../../core/http.js';

const BASE = 'https://idp.example.test';
const opts: FetchJsonOptions = { timeoutMs: 1_000, maxBytes: 1_024 };
const JSON_HEADERS = { 'content-type': 'application/json' };

async function failure(promise: Promise<unknown>): Promise<UpstreamHttpError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof UpstreamHttpError) return err;
    throw err;
  }
  throw new Error('expected an UpstreamHttpError');
}

async function expectCode(promise: Promise<unknown>, code: UpstreamErrorCode, status?: number): Promise<UpstreamHttpError> {
  const err = await failure(promise);
  expect(err.code).to.equal(code);
  expect(err.status).to.equal(status);
  return err;
}

describe('core/http fetchJson', () => {
  it('returns the parsed JSON of a 2xx answer', async () => {
    nock(BASE).get('/doc').reply(200, { a: 1 }, JSON_HEADERS);
    expect(await fetchJson(fetch, `${BASE}/doc`, opts)).to.deep.equal({ a: 1 });
  });

  it('accepts +json media types with parameters', async () => {
    nock(BASE).get('/jwks').reply(200, '{"keys":[]}', { 'content-type': 'application/jwk-set+json; charset=utf-8' });
    expect(await fetchJson(fetch, `${BASE}/jwks`, opts)).to.deep.equal({ keys: [] });
  });

  it('sends method, headers and body', async () => {
    nock(BASE)
      .post('/introspect', 'token=abc')
      .matchHeader('authorization', 'Basic eDp5')
      .reply(200, { active: true }, JSON_HEADERS);
    const body = new URLSearchParams({ token: 'abc' });
    const result = await fetchJson(fetch, `${BASE}/introspect`, { ...opts, method: 'post', headers: { authorization: 'Basic eDp5' }, body });
    expect(result).to.deep.equal({ active: true });
  });

  it('never follows a redirect', async () => {
    const elsewhere = nock('https://elsewhere.example.test').get('/x').reply(200, {}, JSON_HEADERS);
    nock(BASE).get('/moved').reply(302, '', { location: 'https://elsewhere.example.test/x' });
    await expectCode(fetchJson(fetch, `${BASE}/moved`, opts), 'http_status', 302);
    expect(elsewhere.isDone()).to.equal(false);
  });

  it('reports a non-2xx status', async () => {
    nock(BASE).get('/doc').reply(500, { error: 'boom' }, JSON_HEADERS);
    await expectCode(fetchJson(fetch, `${BASE}/doc`, opts), 'http_status', 500);
  });

  it('refuses a body whose declared length exceeds the limit', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(2_000) });
    nock(BASE).get('/big').reply(200, big, { ...JSON_HEADERS, 'content-length': String(big.length) });
    await expectCode(fetchJson(fetch, `${BASE}/big`, opts), 'too_large', 200);
  });

  it('stops reading a streamed body past the limit', async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => (i === 0 ? '{"pad":"' : 'x'.repeat(100)));
    nock(BASE).get('/stream').reply(200, () => Readable.from(chunks), JSON_HEADERS);
    await expectCode(fetchJson(fetch, `${BASE}/stream`, opts), 'too_large', 200);
  });

  it('reports malformed JSON', async () => {
    nock(BASE).get('/doc').reply(200, '{"a":', JSON_HEADERS);
    await expectCode(fetchJson(fetch, `${BASE}/doc`, opts), 'malformed', 200);
  });

  it('reports a non-JSON content type', async () => {
    nock(BASE).get('/doc').reply(200, '<html></html>', { 'content-type': 'text/html' });
    await expectCode(fetchJson(fetch, `${BASE}/doc`, opts), 'malformed', 200);
  });

  it('times out a slow answer', async () => {
    nock(BASE).get('/slow').delay(500).reply(200, {}, JSON_HEADERS);
    const err = await expectCode(fetchJson(fetch, `${BASE}/slow`, { ...opts, timeoutMs: 50 }), 'timeout');
    expect(err.message).to.equal(`GET ${BASE}/slow: no answer within 50 ms`);
  });

  it('lets go of a finished call: its timer is cleared and a later caller abort no longer reaches it', async () => {
    let given: AbortSignal | undefined;
    const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
      given = init?.signal ?? undefined;
      return new Response('{"a":1}', { headers: JSON_HEADERS });
    };
    const caller = new AbortController();
    expect(await fetchJson(fetch, `${BASE}/doc`, { ...opts, timeoutMs: 30, signal: caller.signal })).to.deep.equal({ a: 1 });
    // Time passing beyond the 30 ms timeout is the behaviour under test here, not a wait for something.
    await new Promise((r) => setTimeout(r, 60));
    caller.abort();
    // A timer or listener still attached would have aborted it, and kept the exchange reachable until then.
    expect(given?.aborted).to.equal(false);
  });

  it('reports a connection failure as unreachable', async () => {
    nock(BASE).get('/down').replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    await expectCode(fetchJson(fetch, `${BASE}/down`, opts), 'unreachable');
  });

  it('reports a caller abort as unreachable', async () => {
    nock(BASE).get('/slow').delay(500).reply(200, {}, JSON_HEADERS);
    const err = await expectCode(fetchJson(fetch, `${BASE}/slow`, { ...opts, signal: AbortSignal.abort() }), 'unreachable');
    expect(err.message).to.equal(`GET ${BASE}/slow: aborted`);
  });

  it('keeps query strings and headers out of error messages', async () => {
    nock(BASE).get('/doc').query(true).reply(401, {}, JSON_HEADERS);
    const err = await expectCode(
      fetchJson(fetch, `${BASE}/doc?access_token=s3cret`, { ...opts, headers: { authorization: 'Bearer s3cret-too' } }),
      'http_status',
      401,
    );
    expect(err.message).to.equal(`GET ${BASE}/doc: answered HTTP 401`);
  });

  it('rejects unusable options with a TypeError', async () => {
    let caught: unknown;
    await fetchJson(fetch, `${BASE}/doc`, { timeoutMs: 0, maxBytes: 10 }).catch((err: unknown) => (caught = err));
    expect(caught).to.be.instanceOf(TypeError);
  });
});

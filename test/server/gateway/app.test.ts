// The gateway listener in-process: denials, identity headers, header hygiene, forward auth, audit, and upstream faults.
import { expect } from 'chai';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { SignJWT } from 'jose';
import { Agent } from 'undici';

import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import type { DecisionEntry } from '../../../core/decision-log/reader.js';
import { startEchoUpstream } from '../../../server/gateway/echo-upstream.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { PATH_CORPUS } from '../../policies/path-corpus.js';
import { eventually } from '../../support/eventually.js';
import { CLOSED_PORT } from '../../support/ports.js';
import {
  ADMIN_TOKEN,
  decisionEntries,
  changeSettings,
  configureStatic,
  FIXED_TIME,
  listen,
  send,
  startRuntime,
  type HttpResult,
  type Listening,
} from '../fixtures.js';

const ALICE = 'tok-alice-5f1c2d9e8b7a';
const BAD = 'bad-7d1e0c44aa19';
/** What a proxy sends forward auth for `GET /` on api.example (settings forwardAuth.headers: x-forwarded, the default). */
const FORWARDED_GET = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', 'x-forwarded-host': 'api.example' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Echo {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Raw HTTP/1.1 over a socket: the only way to send hop-by-hop fields that HTTP clients refuse to set. */
function rawExchange(port: number, text: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      const head = all.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, body: all.slice(split + 4) });
    });
    socket.write(text); // no half-close: Node would drop the exchange; `Connection: close` ends it instead
  });
}

describe('server/gateway', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let client: Agent;
  let gateway: Listening;
  let echoCount: number;
  let echoUrl: string;
  /** Closed in reverse order after each test (listeners before the proxies that feed them, runtime last). */
  let cleanups: (() => Promise<void>)[];

  async function startGateway(upstreamUrl: string, timeoutMs = 5000): Promise<Listening> {
    const proxy = new UpstreamProxy({
      upstream: new URL(upstreamUrl),
      timeoutMs,
      logger: silentLogger,
      isTrustedProxy: (ip) => runtime.compiled.isTrustedProxy(ip),
    });
    cleanups.push(() => proxy.close());
    const listening = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
    cleanups.push(() => listening.close());
    return listening;
  }

  async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
    const upstream = await listen(handler);
    cleanups.push(() => upstream.close());
    return upstream;
  }

  const call = (path: string, options: Parameters<typeof send>[2] = {}, target: Listening = gateway): Promise<HttpResult> =>
    send(client, target.url + path, options);

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  function expectDenial(res: HttpResult, status: number, code: string): void {
    expect(res.status, res.text).to.equal(status);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    expect(res.json.error).to.equal(code);
    expect(res.json.error_description).to.be.a('string').and.not.equal('');
    expect(res.headers['x-request-id']).to.match(UUID);
    expect(res.json.request_id).to.equal(res.headers['x-request-id']);
  }

  async function decidedFor(res: HttpResult): Promise<DecisionEntry> {
    await runtime.audit.flush();
    const events = (await decisionEntries(store)).filter((e) => e.data.requestId === res.headers['x-request-id']);
    expect(events, 'exactly one AccessDecided for the request').to.have.length(1);
    return events[0]!;
  }

  beforeEach(async () => {
    cleanups = [];
    ({ runtime, store } = await startRuntime());
    cleanups.push(() => runtime.close());
    await configureStatic(runtime, 'p1', { [ALICE]: { username: 'alice', groups: ['devs', 'ops team'] } });
    const echo = await startEchoUpstream();
    echoCount = 0;
    echoUrl = echo.url;
    echo.server.on('request', () => (echoCount += 1));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          echo.server.close(() => resolve());
          echo.server.closeAllConnections();
        }),
    );
    gateway = await startGateway(echo.url);
    client = new Agent({ keepAliveTimeout: 10 });
  });

  afterEach(async () => {
    await client.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  describe('denials', () => {
    it('no credential → 401 missing_credential with a bare Bearer challenge (and Basic, for gateway tokens) and the request id', async () => {
      const res = await call('/rest/api/2/myself');
      expectDenial(res, 401, 'missing_credential');
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="portcullis", Basic realm="portcullis"');
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(echoCount, 'upstream never called').to.equal(0);
    });

    it('a refused token (bad-…) → 401 invalid_token with error="invalid_token" in the challenge', async () => {
      const res = await call('/x', { headers: bearer(BAD) });
      expectDenial(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="portcullis", error="invalid_token", error_description="the token was revoked", Basic realm="portcullis"');
      expect(res.text).not.to.include(BAD);
    });

    it('a token no provider knows → 401 invalid_token', async () => {
      const res = await call('/x', { headers: bearer('tok-nobody-knows') });
      expectDenial(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis", error="invalid_token"/);
    });

    it('a provider that cannot answer → 503 provider_unavailable, without a challenge', async () => {
      await configureStatic(runtime, 'p1', {}, { unavailable: true });
      const res = await call('/x', { headers: bearer(ALICE) });
      expectDenial(res, 503, 'provider_unavailable');
      expect(res.headers).not.to.have.property('www-authenticate');
      expect(echoCount).to.equal(0);
    });

    for (const header of ['Basic !!!', 'Basic dXNlcm5vY29sb24=', 'Negotiate abc', 'Bearer a b']) {
      it(`Authorization: ${header} → 400 invalid_request with error="invalid_request"`, async () => {
        const res = await call('/x', { headers: { authorization: header } });
        expectDenial(res, 400, 'invalid_request');
        expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis", error="invalid_request"/);
        expect(echoCount).to.equal(0);
      });
    }

    it('a JWT whose iss matches no provider → 401 invalid_token', async () => {
      const jwt = await new SignJWT({ sub: 'mallory' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('https://unknown-issuer.example')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'));
      const res = await call('/x', { headers: bearer(jwt) });
      expectDenial(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis", error="invalid_token"/);
      expect(res.text).not.to.include(jwt);
    });

    it('an unknown /_portcullis/ endpoint → 404 JSON, not proxied', async () => {
      const res = await call('/_portcullis/other', { headers: bearer(ALICE) });
      expectDenial(res, 404, 'not_found');
      expect(echoCount).to.equal(0);
      expect((await decidedFor(res)).data).to.include({ allow: false, status: 404, reason: 'not_found', stage: 'gateway', path: '/_portcullis/other', credential: 'bearer' });
    });

    it('a request target that is not a path (OPTIONS *) → 400 invalid_request, audited with the target as received', async () => {
      const res = await rawExchange(gateway.port, ['OPTIONS * HTTP/1.1', 'Host: api.example', 'Connection: close', '', ''].join('\r\n'));
      expect(res.status, res.head).to.equal(400);
      expect(JSON.parse(res.body)).to.include({ error: 'invalid_request', error_description: 'the request target must be a path' });
      const requestId = /^x-request-id: (.+)$/im.exec(res.head)?.[1]?.trim();
      expect(requestId).to.match(UUID);
      expect((await decidedFor({ headers: { 'x-request-id': requestId } } as unknown as HttpResult)).data).to.include({
        allow: false,
        reason: 'invalid_request',
        stage: 'gateway',
        method: 'OPTIONS',
        path: '*',
      });
      expect(echoCount).to.equal(0);
    });
  });

  describe('proxying an allowed request', () => {
    it('forwards to the upstream with the identity headers and without the consumed Authorization', async () => {
      const res = await call('/rest/api/2/issue?x=1&y=%20', { headers: bearer(ALICE) });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers['x-request-id']).to.match(UUID);
      const seen = res.json as unknown as Echo;
      expect(seen.method).to.equal('GET');
      expect(seen.url).to.equal('/rest/api/2/issue?x=1&y=%20');
      expect(seen.headers['x-portcullis-user']).to.equal('alice');
      expect(seen.headers['x-portcullis-provider']).to.equal('p1');
      expect(seen.headers['x-portcullis-groups']).to.equal('devs,ops%20team');
      expect(seen.headers).not.to.have.property('x-portcullis-token-id');
      expect(seen.headers).not.to.have.property('authorization');
      expect(seen.headers['x-request-id']).to.equal(res.headers['x-request-id']);
    });

    it('replaces client-sent identity headers with the gateway’s own', async () => {
      const res = await call('/x', {
        headers: { ...bearer(ALICE), 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins', 'X-Portcullis-Token-Id': 'forged', 'X-Portcullis-Other': '1' },
      });
      expect(res.status).to.equal(200);
      const seen = (res.json as unknown as Echo).headers;
      expect(seen['x-portcullis-user']).to.equal('alice');
      expect(seen['x-portcullis-groups']).to.equal('devs,ops%20team');
      expect(seen).not.to.have.property('x-portcullis-token-id');
      expect(seen).not.to.have.property('x-portcullis-other');
    });

    it('drops client-sent identity headers when the master switch lets the request through anonymously', async () => {
      await changeSettings(runtime, { enabled: false });
      const res = await call('/x', { headers: { 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins', 'X-Portcullis-Provider': 'p1' } });
      expect(res.status).to.equal(200);
      const seen = (res.json as unknown as Echo).headers;
      expect(Object.keys(seen).filter((h) => h.startsWith('x-portcullis-'))).to.deep.equal([]);
    });

    it('never forwards an anonymous request that was denied, spoofed headers or not', async () => {
      const res = await call('/x', { headers: { 'X-Portcullis-User': 'admin', 'X-Portcullis-Groups': 'admins' } });
      expectDenial(res, 401, 'missing_credential');
      expect(echoCount).to.equal(0);
    });

    it('does not forward hop-by-hop fields, nor those named by Connection', async () => {
      const res = await rawExchange(
        gateway.port,
        [
          'GET /hop HTTP/1.1',
          'Host: api.example',
          `Authorization: Bearer ${ALICE}`,
          'Connection: close, X-Secret',
          'X-Secret: s3cret',
          'Keep-Alive: timeout=5',
          'TE: trailers',
          'Proxy-Authorization: Basic dXNlcjpwYXNz',
          'Proxy-Connection: keep-alive',
          'X-Kept: yes',
          '',
          '',
        ].join('\r\n'),
      );
      expect(res.status, res.head).to.equal(200);
      const seen = (JSON.parse(res.body) as Echo).headers;
      for (const h of ['x-secret', 'keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) expect(seen, h).not.to.have.property(h);
      expect(String(seen.connection ?? '')).not.to.match(/x-secret/i);
      expect(seen['x-kept']).to.equal('yes');
      expect(seen['x-forwarded-host']).to.equal('api.example');
    });

    it('does not pass the upstream’s hop-by-hop response fields to the client', async () => {
      const upstream = await startUpstream((_req, res) => {
        res.writeHead(200, { connection: 'x-up-secret', 'x-up-secret': '1', 'keep-alive': 'timeout=1', 'proxy-authenticate': 'Basic', 'x-up-kept': '1' });
        res.end('ok');
      });
      const gw = await startGateway(upstream.url);
      const res = await call('/x', { headers: bearer(ALICE) }, gw);
      expect(res.status).to.equal(200);
      expect(res.text).to.equal('ok');
      expect(res.headers['x-up-kept']).to.equal('1');
      for (const h of ['x-up-secret', 'proxy-authenticate']) expect(res.headers, h).not.to.have.property(h);
      expect(res.headers['x-request-id']).to.match(UUID);
    });

    it('prefixes the upstream URL’s base path', async () => {
      const gw = await startGateway(`${echoUrl}/base/`);
      const res = await call('/rest/api?x=1', { headers: bearer(ALICE) }, gw);
      expect(res.status).to.equal(200);
      expect((res.json as unknown as Echo).url).to.equal('/base/rest/api?x=1');
    });

    it('passes a POST sent with Expect: 100-continue (as curl does for large bodies) to the upstream', async () => {
      const res = await rawExchange(
        gateway.port,
        ['POST /expect HTTP/1.1', 'Host: api.example', `Authorization: Bearer ${ALICE}`, 'Expect: 100-continue',
          'Content-Type: text/plain', 'Content-Length: 5', 'Connection: close', '', 'hello'].join('\r\n'),
      );
      // Node answers the interim 100 itself; the final answer follows it.
      const final = /HTTP\/1\.1 (?!100)(\d{3})[^]*$/.exec(res.head + '\r\n\r\n' + res.body)?.[0] ?? '';
      expect(final, final).to.match(/^HTTP\/1\.1 200/);
      const seen = JSON.parse(final.slice(final.indexOf('\r\n\r\n') + 4)) as Echo;
      expect(seen.body).to.equal('hello');
      expect(seen.headers).not.to.have.property('expect');
    });

    it('does not forward an absolute-form request target as a path (answers 400, or forwards its origin-form path)', async () => {
      const gw = await startGateway(`${echoUrl}/base/`);
      const res = await rawExchange(
        gw.port,
        ['GET http://evil.example/x HTTP/1.1', 'Host: api.example', `Authorization: Bearer ${ALICE}`, 'Connection: close', '', ''].join('\r\n'),
      );
      if (res.status === 200) expect((JSON.parse(res.body) as Echo).url).to.equal('/base/x');
      else expect(res.status, res.head).to.equal(400);
    });

    it('sets X-Forwarded-For to the peer and X-Forwarded-Proto/Host', async () => {
      const res = await call('/x', { headers: bearer(ALICE) });
      const seen = (res.json as unknown as Echo).headers;
      expect(seen['x-forwarded-for']).to.equal('127.0.0.1');
      expect(seen['x-forwarded-proto']).to.equal('http');
      expect(seen['x-forwarded-host']).to.equal(`127.0.0.1:${gateway.port}`);
    });

    it('appends the peer to X-Forwarded-For from a trusted proxy, keeps its X-Forwarded-Proto, and audits the client behind it', async () => {
      const res = await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } });
      expect((res.json as unknown as Echo).headers['x-forwarded-for']).to.equal('203.0.113.9, 127.0.0.1');
      // The proxy terminated TLS: the upstream must still learn the client used https.
      expect((res.json as unknown as Echo).headers['x-forwarded-proto']).to.equal('https');
      const event = await decidedFor(res);
      expect(event.data.clientIp).to.equal('203.0.113.9');
      expect(event.data.peerIp).to.equal('127.0.0.1');
    });

    it('replaces X-Forwarded-* sent by an untrusted peer', async () => {
      await changeSettings(runtime, { ip: { trustedProxies: ['10.0.0.0/8'] } });
      const res = await call('/x', {
        headers: { ...bearer(ALICE), 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      });
      const seen = (res.json as unknown as Echo).headers;
      expect(seen['x-forwarded-for']).to.equal('127.0.0.1');
      expect(seen['x-forwarded-host']).to.equal(`127.0.0.1:${gateway.port}`);
      expect(seen['x-forwarded-proto']).to.equal('http');
      expect((await decidedFor(res)).data.clientIp).to.equal('127.0.0.1');
    });

    describe('request bodies', () => {
      let counting: Listening;
      let gw: Listening;
      beforeEach(async () => {
        counting = await startUpstream((req, res) => {
          let received = 0;
          req.on('data', (c: Buffer) => (received += c.length));
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ received, contentLength: req.headers['content-length'] ?? null, te: req.headers['transfer-encoding'] ?? null }));
          });
        });
        gw = await startGateway(counting.url);
      });

      it('streams a 2 MB request body to the upstream', async () => {
        const body = Buffer.alloc(2 * 1024 * 1024, 7);
        const res = await call('/upload', { method: 'POST', headers: { ...bearer(ALICE), 'content-type': 'application/octet-stream' }, body }, gw);
        expect(res.status, res.text).to.equal(200);
        expect(res.json).to.deep.equal({ received: body.length, contentLength: String(body.length), te: null });
      });

      it('streams a chunked request body of unknown length', async () => {
        const chunk = Buffer.alloc(64 * 1024, 1);
        const source = Readable.from((function* () {
          for (let i = 0; i < 40; i++) yield chunk;
        })());
        const res = await send(client, `${gw.url}/upload`, { method: 'POST', headers: bearer(ALICE), body: source as unknown as Buffer });
        expect(res.status, res.text).to.equal(200);
        expect(res.json.received).to.equal(40 * chunk.length);
        expect(res.json.te).to.equal('chunked');
      });
    });
  });

  describe('audit', () => {
    it('records exactly one decision per request, in a block of the decision log, with reason and stage, and never the raw token', async () => {
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://nobody.example')
        .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'));
      const cases: [Record<string, string>, boolean, number, string, string][] = [
        [bearer(ALICE), true, 200, 'authenticated', 'pipeline'],
        [{}, false, 401, 'missing_credential', 'authenticate'],
        [bearer(BAD), false, 401, 'invalid_token', 'authenticate'],
        [bearer(jwt), false, 401, 'invalid_token', 'authenticate'],
        [{ authorization: 'Basic !!!' }, false, 400, 'invalid_request', 'authenticate'],
        [{ authorization: `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}` }, false, 401, 'invalid_token', 'authenticate'],
      ];
      const responses: HttpResult[] = [];
      for (const [headers] of cases) responses.push(await call('/audited/path?q=1', { headers }));

      await runtime.audit.flush();
      const events = await decisionEntries(store);
      expect(events).to.have.length(cases.length);
      for (let i = 0; i < cases.length; i++) {
        const [, allow, status, reason, stage] = cases[i]!;
        expect(responses[i]!.status, `case ${i}`).to.equal(status);
        const event = await decidedFor(responses[i]!);
        expect(event.stream).to.match(/^access-\d{4}-\d{2}-\d{2}$/);
        expect(event.data).to.include({ allow, status, reason, stage, method: 'GET', path: '/audited/path', peerIp: '127.0.0.1' });
        expect(event.data.trace).to.be.an('array').that.is.not.empty;
        expect(event.data.trace.at(-1)).to.deep.equal({ stage: stage === 'pipeline' ? 'rate_limit' : stage, outcome: allow ? 'pass' : 'deny' });
      }
      const blocks = (await store.readAll({ streamPrefixes: ['access-'] })).filter((e) => e.type === 'AccessDecisionsRecorded');
      expect(blocks.map((b) => b.metadata.actor)).to.deep.equal(blocks.map(() => 'gateway'));
      expect(blocks.reduce((n, b) => n + (b.data as { count: number }).count, 0)).to.equal(cases.length);
      expect((await decidedFor(responses[0]!)).data.identity).to.deep.equal({
        subject: 'sub-alice', username: 'alice', provider: 'p1', groups: ['devs', 'ops team'],
      });

      const everything = JSON.stringify(await store.readAll());
      for (const secret of [ALICE, BAD, jwt, Buffer.from(`alice:${ALICE}`).toString('base64')]) {
        expect(everything.includes(secret), `secret ${secret.slice(0, 8)}… stored`).to.equal(false);
      }
    });

    it('with the master switch off, passes the request and audits it as auth_disabled', async () => {
      await changeSettings(runtime, { enabled: false });
      const res = await call('/open');
      expect(res.status).to.equal(200);
      expect((res.json as unknown as Echo).url).to.equal('/open');
      const event = await decidedFor(res);
      expect(event.data).to.include({ allow: true, reason: 'auth_disabled', stage: 'master_switch' });
    });

    it('records nothing when audit is disabled', async () => {
      await changeSettings(runtime, { audit: { enabled: false } });
      await call('/x', { headers: bearer(ALICE) });
      await call('/x');
      await runtime.audit.flush();
      expect(await decisionEntries(store)).to.deep.equal([]);
    });

    it('takes the request time, and so the day of the access stream, from the runtime’s clock', async () => {
      const res = await call('/x', { headers: bearer(ALICE) });
      const event = await decidedFor(res);
      expect(event.stream).to.equal('access-2024-03-05');
      expect(event.data.time).to.equal(FIXED_TIME);
      expect(event.time).to.equal(new Date(FIXED_TIME).toISOString());
    });
  });

  describe('forward auth at /_portcullis/decide', () => {
    const forwarded = { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/rest/api/2/issue?x=1', 'x-forwarded-host': 'jira.example' };

    it('answers 200 with the identity headers for a known token, and audits the forwarded request', async () => {
      const res = await call('/_portcullis/decide', { headers: { ...forwarded, ...bearer(ALICE) } });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers['x-portcullis-user']).to.equal('alice');
      expect(res.headers['x-portcullis-provider']).to.equal('p1');
      expect(res.headers['x-portcullis-groups']).to.equal('devs,ops%20team');
      expect(res.text).to.equal('');
      expect(echoCount, 'forward auth never proxies').to.equal(0);
      const event = await decidedFor(res);
      expect(event.data).to.include({ allow: true, method: 'POST', path: '/rest/api/2/issue', host: 'jira.example', reason: 'authenticated' });
    });

    it('reads the X-Original-* set instead when the settings name it (forwardAuth.headers: x-original)', async () => {
      await changeSettings(runtime, { forwardAuth: { headers: 'x-original' } });
      const original = { 'x-original-method': 'delete', 'x-original-uri': '/api/thing/7', 'x-original-host': 'Jira.Example.' };
      const res = await call('/_portcullis/decide?from=nginx', { headers: { ...original, ...bearer(ALICE) } });
      expect(res.status, res.text).to.equal(200);
      const event = await decidedFor(res);
      expect(event.data).to.include({ method: 'DELETE', path: '/api/thing/7', host: 'jira.example' });
      // The X-Forwarded-* set alone is no longer read: nothing names the request.
      expectDenial(await call('/_portcullis/decide', { headers: { ...forwarded, ...bearer(ALICE) } }), 400, 'invalid_request');
    });

    it('reads only the named set: a missing header is refused, never guessed as GET /', async () => {
      const LABELS = { 'x-forwarded-method': 'X-Forwarded-Method', 'x-forwarded-uri': 'X-Forwarded-Uri', 'x-forwarded-host': 'X-Forwarded-Host' };
      for (const missing of ['x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-host'] as const) {
        const partial: Record<string, string> = { ...forwarded, ...bearer(ALICE) };
        delete partial[missing];
        const res = await call('/_portcullis/decide', { headers: partial });
        expectDenial(res, 400, 'invalid_request');
        expect(res.json.error_description, missing).to.include(LABELS[missing]);
        expect((await decidedFor(res)).data).to.include({ allow: false, stage: 'forward_auth', reason: 'invalid_request' });
      }
      expectDenial(await call('/_portcullis/decide', { headers: bearer(ALICE) }), 400, 'invalid_request');
    });

    it('refuses 400 when another form names another request: the issue 13 bypass through nginx', async () => {
      await changeSettings(runtime, { paths: { public: ['/public/**'] }, groups: { readOnly: ['devs'] } });
      // nginx passes the client's own headers on to the decision call: a client adds the form it hopes is read first.
      const protectedPath = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/admin', 'x-forwarded-host': 'jira.example' };
      expectDenial(await call('/_portcullis/decide', { headers: { ...protectedPath, 'x-original-uri': '/public/x' } }), 400, 'invalid_request');
      expectDenial(await call('/_portcullis/decide', { headers: { ...protectedPath, 'x-original-host': 'other.example' } }), 400, 'invalid_request');
      const write = { ...protectedPath, 'x-forwarded-method': 'DELETE', ...bearer(ALICE) };
      expectDenial(await call('/_portcullis/decide', { headers: write }), 403, 'read_only');
      expectDenial(await call('/_portcullis/decide', { headers: { ...write, 'x-original-method': 'GET' } }), 400, 'invalid_request');
      // The same request named twice is judged as usual.
      const agreeing = await call('/_portcullis/decide', { headers: { ...protectedPath, 'x-original-uri': '/admin', 'x-original-method': 'get', 'x-original-host': 'JIRA.example:80' } });
      expectDenial(agreeing, 401, 'missing_credential');
    });

    it('answers 401 with a challenge without a credential', async () => {
      const res = await call('/_portcullis/decide', { headers: forwarded });
      expectDenial(res, 401, 'missing_credential');
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="portcullis", Basic realm="portcullis"');
      expect(res.headers).not.to.have.property('x-portcullis-user');
      expect((await decidedFor(res)).data).to.include({ allow: false, method: 'POST', path: '/rest/api/2/issue' });
    });

    it('answers 401 invalid_token for a refused token', async () => {
      const res = await call('/_portcullis/decide', { headers: { ...forwarded, ...bearer(BAD) } });
      expectDenial(res, 401, 'invalid_token');
    });

    it('takes the request Envoy appends to the decide path, with the original method and Host (forwardAuth.headers: envoy)', async () => {
      await changeSettings(runtime, { forwardAuth: { headers: 'envoy' } });
      const res = await call('/_portcullis/decide/rest/api/2/issue?x=1', { method: 'POST', headers: { host: 'Jira.Example', ...bearer(ALICE) } });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers['x-portcullis-user']).to.equal('alice');
      expect(echoCount, 'forward auth never proxies').to.equal(0);
      expect((await decidedFor(res)).data).to.include({ allow: true, method: 'POST', path: '/rest/api/2/issue', host: 'jira.example' });
      // The same request named both ways is fine; two different ones are refused, and so is a client's own X-Forwarded-Host.
      const both = await call('/_portcullis/decide/api/a?b=1', { headers: { 'x-forwarded-uri': '/api/a?b=1', ...bearer(ALICE) } });
      expect(both.status, both.text).to.equal(200);
      const differing = await call('/_portcullis/decide/public/a', { headers: { 'x-forwarded-uri': '/admin', ...bearer(ALICE) } });
      expectDenial(differing, 400, 'invalid_request');
      const otherMethod = await call('/_portcullis/decide/api/a', { method: 'DELETE', headers: { 'x-forwarded-method': 'GET', ...bearer(ALICE) } });
      expectDenial(otherMethod, 400, 'invalid_request');
      const otherHost = await call('/_portcullis/decide/api/a', { headers: { host: 'jira.example', 'x-forwarded-host': 'other.example', ...bearer(ALICE) } });
      expectDenial(otherHost, 400, 'invalid_request');
      expectDenial(await call('/_portcullis/decide', { headers: bearer(ALICE) }), 400, 'invalid_request');
    });

    it('with the X-Forwarded-* set, an appended path is another form: it must agree', async () => {
      const agreeing = await call('/_portcullis/decide/rest/api/2/issue?x=1', { method: 'POST', headers: { ...forwarded, ...bearer(ALICE) } });
      expect(agreeing.status, agreeing.text).to.equal(200);
      expectDenial(await call('/_portcullis/decide/public/a', { method: 'POST', headers: { ...forwarded, ...bearer(ALICE) } }), 400, 'invalid_request');
    });

    it('normalises the appended path like any other: no way around a public prefix', async () => {
      await changeSettings(runtime, { paths: { public: ['/public/**'] }, forwardAuth: { headers: 'envoy' } });
      expect((await call('/_portcullis/decide/public/a')).status).to.equal(200);
      expectDenial(await call('/_portcullis/decide/public/%2e%2e/admin'), 401, 'missing_credential');
      expectDenial(await call('/_portcullis/decide/public/..%2fadmin'), 400, 'invalid_path');
      expect((await decidedFor(await call('/_portcullis/decide/public/./b//c'))).data).to.include({ path: '/public/b/c', reason: 'anonymous' });
    });

    it('refuses 403 untrusted_proxy when the peer is not a trusted proxy', async () => {
      await changeSettings(runtime, { ip: { trustedProxies: ['10.0.0.0/8'] } });
      const res = await call('/_portcullis/decide', { headers: { ...forwarded, ...bearer(ALICE) } });
      expectDenial(res, 403, 'untrusted_proxy');
      expect(res.headers).not.to.have.property('x-portcullis-user');
    });
  });

  describe('the requested host (judged once, forwarded as judged)', () => {
    const rawRequest = (lines: string[]) => rawExchange(gateway.port, ['GET /h HTTP/1.1', ...lines, 'Connection: close', '', ''].join('\r\n'));
    const secureRoute = { routes: [{ name: 'secure', host: 'secure.example', path: '/**', groups: ['admins'] }] };

    it('refuses two Host headers with 400 invalid_request (RFC 9112 §3.2), audited and not proxied', async () => {
      for (const [first, second] of [['Host: open.example', 'Host: secure.example'], ['Host: a.example', 'host: a.example']]) {
        const res = await rawRequest([first!, second!, `Authorization: Bearer ${ALICE}`]);
        expect(res.status, res.head).to.equal(400);
        expect(JSON.parse(res.body).error).to.equal('invalid_request');
      }
      expect(echoCount, 'never proxied').to.equal(0);
      await runtime.audit.flush();
      expect((await decisionEntries(store)).map((e) => e.data.reason)).to.deep.equal(['invalid_request', 'invalid_request']);
    });

    it('refuses a Host that is not a host with 400 invalid_request', async () => {
      for (const host of ['open.example@secure.example', 'secure%2eexample', 'a.example/b', 'a.example:99999', 'a..example', 'a.example, b.example']) {
        const res = await rawRequest([`Host: ${host}`, `Authorization: Bearer ${ALICE}`]);
        expect(res.status, `${host}: ${res.head}`).to.equal(400);
        expect(JSON.parse(res.body).error, host).to.equal('invalid_request');
      }
      expect(echoCount, 'never proxied').to.equal(0);
    });

    it('normalises case, a trailing dot and the default port once: the audit and the upstream see the same host', async () => {
      const res = await rawRequest(['Host: API.Example.:80', `Authorization: Bearer ${ALICE}`]);
      expect(res.status, res.head).to.equal(200);
      expect((JSON.parse(res.body) as Echo).headers['x-forwarded-host']).to.equal('api.example');
      await runtime.audit.flush();
      expect((await decisionEntries(store)).map((e) => e.data.host)).to.deep.equal(['api.example']);
    });

    it('a host route is not escaped by a trailing dot, upper case or a default port', async () => {
      await changeSettings(runtime, secureRoute);
      for (const host of ['secure.example', 'secure.example.', 'SECURE.EXAMPLE', 'secure.example:80', 'Secure.Example.:443']) {
        const res = await rawRequest([`Host: ${host}`, `Authorization: Bearer ${ALICE}`]);
        expect(res.status, `${host}: ${res.head}`).to.equal(403);
        expect(JSON.parse(res.body).error, host).to.equal('group_not_allowed');
      }
      expect(echoCount, 'never proxied').to.equal(0);
    });

    it('judges a trusted proxy’s X-Forwarded-Host, and forwards that same host', async () => {
      await changeSettings(runtime, secureRoute);
      const refused = await call('/h', { headers: { ...bearer(ALICE), 'x-forwarded-host': 'secure.example' } });
      expectDenial(refused, 403, 'group_not_allowed');
      const allowed = await call('/h', { headers: { ...bearer(ALICE), host: 'secure.example', 'x-forwarded-host': 'Open.Example.' } });
      expect(allowed.status, allowed.text).to.equal(200);
      expect((allowed.json as unknown as Echo).headers['x-forwarded-host']).to.equal('open.example');
      expect((await decidedFor(allowed)).data.host).to.equal('open.example');
    });

    it('ignores an untrusted peer’s X-Forwarded-Host: judges Host, and forwards Host', async () => {
      await changeSettings(runtime, { ...secureRoute, ip: { trustedProxies: ['10.0.0.0/8'] } });
      const refused = await call('/h', { headers: { ...bearer(ALICE), host: 'SECURE.example', 'x-forwarded-host': 'open.example' } });
      expectDenial(refused, 403, 'group_not_allowed');
      const allowed = await call('/h', { headers: { ...bearer(ALICE), host: 'open.example:8080', 'x-forwarded-host': 'secure.example' } });
      expect(allowed.status, allowed.text).to.equal(200);
      expect((allowed.json as unknown as Echo).headers['x-forwarded-host']).to.equal('open.example:8080');
    });
  });

  describe('policies at the edge', () => {
    const rawGet = (target: string, headers: string[] = []) =>
      rawExchange(gateway.port, [`GET ${target} HTTP/1.1`, 'Host: api.example', ...headers, 'Connection: close', '', ''].join('\r\n'));

    describe(`the path-bypass corpus through the gateway (${PATH_CORPUS.length} payloads): what the upstream receives`, () => {
      beforeEach(() => changeSettings(runtime, { paths: { public: ['/public/**'] } }));
      for (const [target, canonical] of PATH_CORPUS) {
        it(`${target} → ${canonical === 'reject' ? '400 invalid_path, not proxied' : canonical}`, async () => {
          const authenticated = await rawGet(target, [`Authorization: Bearer ${ALICE}`]);
          const anonymous = await rawGet(target);
          if (canonical === 'reject') {
            // Node's own parser refuses a few of them before the gateway sees them: a 400 all the same.
            expect(authenticated.status, authenticated.head).to.equal(400);
            expect(anonymous.status).to.equal(400);
            if (authenticated.body.startsWith('{')) expect(JSON.parse(authenticated.body).error).to.equal('invalid_path');
            expect(echoCount, 'never proxied').to.equal(0);
            return;
          }
          expect(authenticated.status, authenticated.head).to.equal(200);
          const q = target.indexOf('?');
          expect((JSON.parse(authenticated.body) as Echo).url).to.equal(canonical + (q === -1 ? '' : target.slice(q)));
          const judged = await rawGet(canonical);
          expect(anonymous.status, 'anonymous: judged like the canonical path').to.equal(judged.status);
        });
      }

      it('records invalid_path decisions in the audit, with the raw path', async () => {
        const res = await call('/public/..%2fadmin', { headers: bearer(ALICE) });
        expectDenial(res, 400, 'invalid_path');
        expect((await decidedFor(res)).data).to.include({ allow: false, reason: 'invalid_path', stage: 'paths', path: '/public/..%2fadmin' });
      });
    });

    it('never passes headers an upstream could read as another path', async () => {
      const res = await call('/x', {
        headers: { ...bearer(ALICE), 'X-Original-URL': '/admin', 'X-Rewrite-URL': '/admin', 'X-Forwarded-Uri': '/admin', 'X-Forwarded-Prefix': '/admin' },
      });
      const seen = (res.json as unknown as Echo).headers;
      for (const h of ['x-original-url', 'x-rewrite-url', 'x-forwarded-uri', 'x-forwarded-prefix']) expect(seen, h).not.to.have.property(h);
    });

    it('forward auth judges X-Forwarded-Uri normalised the same way', async () => {
      await changeSettings(runtime, { paths: { public: ['/public/**'] } });
      const decide = (uri: string) => call('/_portcullis/decide', { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri, 'x-forwarded-host': 'api.example' } });
      expect((await decide('/public/a?x=1')).status).to.equal(200);
      expectDenial(await decide('/public/../admin'), 401, 'missing_credential');
      expectDenial(await decide('/public/%2e%2e/admin'), 401, 'missing_credential');
      expectDenial(await decide('/public/..%2fadmin'), 400, 'invalid_path');
      const event = await decidedFor(await decide('/public/./b//c'));
      expect(event.data).to.include({ path: '/public/b/c', reason: 'anonymous' });
    });

    describe('client address', () => {
      it('restricts by the address a trusted proxy reports, and ignores what an untrusted peer claims', async () => {
        await changeSettings(runtime, { ip: { allow: ['198.51.100.0/24'] } });
        expect((await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '198.51.100.7' } })).status).to.equal(200);
        expectDenial(await call('/x', { headers: bearer(ALICE) }), 403, 'ip_not_allowed');
        await changeSettings(runtime, { ip: { trustedProxies: [] } });
        const spoofed = await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '198.51.100.7', 'x-real-ip': '198.51.100.7', forwarded: 'for=198.51.100.7' } });
        expectDenial(spoofed, 403, 'ip_not_allowed');
        expect((await decidedFor(spoofed)).data.clientIp).to.equal('127.0.0.1');
      });

      it('reads the configured real-IP header, and only that one', async () => {
        await changeSettings(runtime, { ip: { deny: ['203.0.113.0/24'], realIpHeader: 'X-Real-IP' } });
        expectDenial(await call('/x', { headers: { ...bearer(ALICE), 'x-real-ip': '203.0.113.5' } }), 403, 'ip_not_allowed');
        const xff = await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '203.0.113.5' } });
        expect(xff.status).to.equal(200);
        expect((await decidedFor(xff)).data.clientIp).to.equal('127.0.0.1');
      });

      it('denies IPv6 clients by CIDR', async () => {
        await changeSettings(runtime, { ip: { deny: ['2001:db8::/32'] } });
        expectDenial(await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '2001:db8::1' } }), 403, 'ip_not_allowed');
        expect((await call('/x', { headers: { ...bearer(ALICE), 'x-forwarded-for': '2001:db9::1' } })).status).to.equal(200);
      });
    });

    describe('decision trace header', () => {
      it('answers the trace to an admin who asks, on denials and on proxied answers, and never forwards the debug header', async () => {
        const denied = await call('/x', { headers: { 'x-portcullis-debug': ADMIN_TOKEN } });
        expectDenial(denied, 401, 'missing_credential');
        expect(denied.headers['x-portcullis-trace']).to.equal('master_switch:pass,paths:pass,ip:pass,authenticate:deny(missing_credential)');
        const allowed = await call('/x', { headers: { ...bearer(ALICE), 'x-portcullis-debug': ADMIN_TOKEN } });
        expect(allowed.status).to.equal(200);
        expect(allowed.headers['x-portcullis-trace']).to.equal(
          'master_switch:pass,paths:pass,ip:pass,authenticate:pass(provider=p1),token_scopes:pass,groups:pass,read_only:pass,routes:pass,rate_limit:pass',
        );
        expect((allowed.json as unknown as Echo).headers).not.to.have.property('x-portcullis-debug');
        const fa = await call('/_portcullis/decide', { headers: { ...bearer(BAD), ...FORWARDED_GET, 'x-portcullis-debug': ADMIN_TOKEN } });
        expect(fa.headers['x-portcullis-trace']).to.equal('master_switch:pass,paths:pass,ip:pass,authenticate:deny(invalid_token)');
      });

      it('says nothing to anyone else', async () => {
        for (const value of ['', 'wrong-token', ALICE]) {
          const res = await call('/x', { headers: { ...bearer(ALICE), 'x-portcullis-debug': value } });
          expect(res.headers, value).not.to.have.property('x-portcullis-trace');
        }
        expect((await call('/x')).headers).not.to.have.property('x-portcullis-trace');
      });
    });

    describe('rate limits', () => {
      it('sends the RateLimit headers on proxied answers (over the upstream’s own) and 429 with Retry-After over the limit', async () => {
        const upstream = await startUpstream((_req, res) => {
          res.writeHead(200, { 'x-ratelimit-limit': '999999', 'content-type': 'text/plain' });
          res.end('ok');
        });
        const gw = await startGateway(upstream.url);
        await changeSettings(runtime, { rateLimit: { enabled: true, limit: 2, windowSeconds: 60 } });
        const first = await call('/x', { headers: bearer(ALICE) }, gw);
        expect(first.status).to.equal(200);
        expect(first.headers).to.include({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'ratelimit-policy': '"default";q=2;w=60' });
        // FIXED_TIME is 06:07:08: the minute window ends in 52 s.
        expect(first.headers.ratelimit).to.equal('"default";r=1;t=52');
        expect(first.headers['x-ratelimit-reset']).to.equal('2024-03-05T06:08:00.000Z');
        expect((await call('/x', { headers: bearer(ALICE) }, gw)).status).to.equal(200);
        const refused = await call('/x', { headers: bearer(ALICE) }, gw);
        expectDenial(refused, 429, 'rate_limited');
        expect(refused.headers).to.include({ 'retry-after': '52', 'x-ratelimit-remaining': '0', ratelimit: '"default";r=0;t=52' });
        expect((await decidedFor(refused)).data).to.include({ reason: 'rate_limited', stage: 'rate_limit' });
        const fa = await call('/_portcullis/decide', { headers: { ...bearer(ALICE), ...FORWARDED_GET } });
        expect(fa.status).to.equal(429);
        expect(fa.headers['retry-after']).to.equal('52');
      });
    });
  });

  describe('upstream faults end one exchange, never the process', () => {
    let unexpected: unknown[];
    const onUnexpected = (err: unknown) => unexpected.push(err);
    beforeEach(() => {
      unexpected = [];
      process.on('uncaughtException', onUnexpected);
      process.on('unhandledRejection', onUnexpected);
    });
    afterEach(() => {
      process.off('uncaughtException', onUnexpected);
      process.off('unhandledRejection', onUnexpected);
      expect(unexpected, 'uncaught errors during the test').to.deep.equal([]);
    });

    /** An upstream that answers /ok, and otherwise behaves as `fault` says. */
    async function faultyUpstream(fault: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listening> {
      return startUpstream((req, res) => {
        if (req.url === '/ok') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('fine');
        } else fault(req, res);
      });
    }

    async function expectStillServing(gw: Listening): Promise<void> {
      const next = await call('/ok', { headers: bearer(ALICE) }, gw);
      expect(next.status).to.equal(200);
      expect(next.text).to.equal('fine');
    }

    it('an upstream that refuses connections → 502 upstream_unavailable', async () => {
      const gw = await startGateway(`http://127.0.0.1:${CLOSED_PORT}`);
      const res = await call('/x', { headers: bearer(ALICE) }, gw);
      expectDenial(res, 502, 'upstream_unavailable');
    });

    // The upstream never answers: only the gateway's own timeout can produce the 504.
    it('an upstream that never answers → 504 upstream_timeout, and the gateway answers the next request', async () => {
      const upstream = await faultyUpstream(() => {
        /* never answer */
      });
      const gw = await startGateway(upstream.url, 300);
      const res = await call('/hang', { headers: bearer(ALICE) }, gw);
      expectDenial(res, 504, 'upstream_timeout');
      await expectStillServing(gw);
    });

    it('an upstream that resets mid-body → the client sees an aborted response; the next request is served', async () => {
      const upstream = await faultyUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 1), () => setTimeout(() => res.socket?.destroy(), 20));
      });
      const gw = await startGateway(upstream.url);
      let failure: unknown;
      try {
        await call('/reset', { headers: bearer(ALICE) }, gw);
      } catch (err) {
        failure = err;
      }
      expect(failure, 'the truncated response must not look complete').to.be.instanceOf(Error);
      await expectStillServing(gw);
    });

    it('a client that hangs up mid-response → the upstream exchange is aborted; the next request is served', async () => {
      let upstreamClosed!: () => void;
      const upstreamGone = new Promise<void>((resolve) => (upstreamClosed = resolve));
      let finished = false;
      const upstream = await faultyUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let n = 0;
        const timer = setInterval(() => {
          if (++n > 40) {
            clearInterval(timer);
            finished = true;
            res.end('done');
          } else res.write(`chunk ${n}\n`);
        }, 25);
        res.on('close', () => {
          clearInterval(timer);
          upstreamClosed();
        });
      });
      const gw = await startGateway(upstream.url);

      await new Promise<void>((resolve, reject) => {
        const socket = connect(gw.port, '127.0.0.1');
        socket.on('error', reject);
        socket.once('data', (first: Buffer) => {
          try {
            expect(first.toString('utf8')).to.match(/^HTTP\/1\.1 200/);
          } catch (err) {
            reject(err);
          }
          socket.destroy();
          resolve();
        });
        socket.write(`GET /slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`);
      });
      await upstreamGone;
      expect(finished, 'the upstream was cut off, not left streaming to nobody').to.equal(false);
      await expectStillServing(gw);
    });

    it('a client that hangs up before the upstream answered → the upstream exchange ends then, not at the timeout', async () => {
      let arrived!: () => void;
      const upstreamReached = new Promise<void>((resolve) => (arrived = resolve));
      let upstreamClosed = false;
      const upstream = await faultyUpstream((req) => {
        req.socket.once('close', () => (upstreamClosed = true));
        arrived();
      });
      // A timeout far beyond the wait below: a closed upstream connection can only be the client's leaving.
      const gw = await startGateway(upstream.url, 600_000);
      const socket = connect(gw.port, '127.0.0.1');
      socket.write(`GET /silent HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`);
      await upstreamReached;
      socket.destroy();
      await eventually(() => upstreamClosed, { within: 5_000, what: 'the upstream connection closing when the client left' });
      await expectStillServing(gw);
    });

    it('a client that hangs up mid-upload → nothing escapes; the next request is served', async () => {
      let upstreamSawEnd: boolean | undefined;
      let upstreamDone!: () => void;
      const upstreamGone = new Promise<void>((resolve) => (upstreamDone = resolve));
      let uploadArriving!: () => void;
      const uploadUnderWay = new Promise<void>((resolve) => (uploadArriving = resolve));
      const upstream = await faultyUpstream((req, res) => {
        req.on('data', () => uploadArriving());
        req.on('end', () => {
          upstreamSawEnd = true;
          res.end('complete?');
        });
        req.on('close', () => {
          upstreamSawEnd ??= false;
          upstreamDone();
        });
        req.on('error', () => {});
      });
      const gw = await startGateway(upstream.url);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(gw.port, '127.0.0.1', () => {
          socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\nContent-Length: 1000000\r\n\r\n`);
          // Hang up once the upload has begun to reach the upstream.
          socket.write(Buffer.alloc(20_000, 1), () =>
            void uploadUnderWay.then(() => {
              socket.destroy();
              resolve();
            }),
          );
        });
        socket.on('error', reject);
      });
      await upstreamGone;
      expect(upstreamSawEnd, 'a truncated upload must not reach the upstream as complete').to.equal(false);
      await expectStillServing(gw);
    });
  });
});

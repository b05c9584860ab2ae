// What the upstream receives in headers: reserved names in any spelling dropped, a cap on the client's fields with the
// gateway's own headers first, and identity values percent-encoded so any name fits (items of issue 13).
import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent } from 'undici';

import type { DecisionRecord } from '../../../core/decision-log/record.js';
import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { rawExchange, wire } from '../../security/raw.js';
import { changeSettings, configureStatic, decisionEntries, listen, send, startRuntime, type HttpResult, type Listening } from '../fixtures.js';

const ALICE = 'tok-alice-7a1c';
const LUKASZ = 'tok-lukasz-2b9d';
const WANG = 'tok-wang-4e3f';

interface Seen {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

describe('server/proxy: headers sent upstream', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let client: Agent;
  let gateway: Listening;
  let upstream: Listening;
  let seen: Seen[];
  let cleanups: (() => Promise<void>)[];

  beforeEach(async () => {
    cleanups = [];
    seen = [];
    ({ runtime, store } = await startRuntime());
    cleanups.push(() => runtime.close());
    await configureStatic(runtime, 'p1', {
      [ALICE]: { username: 'alice', groups: ['devs'] },
      [LUKASZ]: { username: 'Łukasz', groups: ['Łódź'] },
      [WANG]: { username: '王小明', groups: [] },
    });
    upstream = await listen((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
    cleanups.push(() => upstream.close());
    const proxy = new UpstreamProxy({ upstream: new URL(upstream.url), timeoutMs: 5000, logger: silentLogger, isTrustedProxy: () => false });
    cleanups.push(() => proxy.close());
    gateway = await listen(createGatewayApp({ runtime, proxy, logger: silentLogger }).callback());
    cleanups.push(() => gateway.close());
    client = new Agent({ keepAliveTimeout: 10 });
  });

  afterEach(async () => {
    await client.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const call = (path: string, headers: Record<string, string>): Promise<HttpResult> => send(client, gateway.url + path, { headers });

  async function decided(requestId: string | undefined): Promise<DecisionRecord> {
    await runtime.audit.flush();
    const events = (await decisionEntries(store)).map((e) => e.data).filter((d) => d.requestId === requestId);
    expect(events, 'one AccessDecided for the request').to.have.length(1);
    return events[0]!;
  }

  describe('reserved names in `_` spellings', () => {
    it('drops every client header whose `_` spelling names an identity, path-override, forwarding or hop-by-hop header', async () => {
      const spoofed = [
        'X_Portcullis_User', 'X-Portcullis_Groups', 'x_portcullis_provider', 'X_PORTCULLIS_TOKEN_ID', 'X_Original_URL', 'X_Original_URI',
        'X_Rewrite_Url', 'X_Forwarded_Uri', 'X_Forwarded_For', 'X_Forwarded_Host', 'X_Forwarded_Proto', 'X_Request_Id', 'Proxy_Authorization',
      ];
      const res = await call('/x', { authorization: `Bearer ${ALICE}`, ...Object.fromEntries(spoofed.map((n) => [n, 'spoofed'])), X_Tenant_Id: 'acme' });
      expect(res.status, res.text).to.equal(200);
      const headers = seen[0]!.headers;
      expect(Object.keys(headers).filter((h) => h.includes('_'))).to.deep.equal(['x_tenant_id']);
      expect(headers).to.include({ 'x-portcullis-user': 'alice', 'x-portcullis-groups': 'devs', 'x-forwarded-for': '127.0.0.1', 'x-request-id': res.headers['x-request-id'] });
    });

    it('drops the `_` spelling of the API-key header once the gateway consumed the key', async () => {
      await changeSettings(runtime, { credentials: { apiKeyHeader: 'x-api-key' } });
      const { token } = await runtime.tokenCommands.issue({ owner: 'ci', name: 'deploy', kind: 'service' }, { actor: 'test' });
      const res = await call('/x', { 'x-api-key': token, 'X_Api_Key': token });
      expect(res.status, res.text).to.equal(200);
      expect(seen[0]!.headers['x-portcullis-user']).to.equal('ci');
      expect(JSON.stringify(seen[0]!.headers), 'the key went upstream').not.to.include(token);
    });
  });

  describe('the header-field cap', () => {
    const fillers = (n: number) => Array.from({ length: n }, (_, i) => [`X-Filler-${i}`, 'v'] as const);

    it('answers more than 100 client header fields with 431 request_header_fields_too_large, audited, without proxying', async () => {
      // wire() adds Host and Connection: Authorization + 98 fillers + 2 = 101 fields.
      const ex = await rawExchange(gateway.port, wire('GET', '/x', [['Authorization', `Bearer ${ALICE}`], ...fillers(98)]));
      const res = ex.responses[0]!;
      expect(res.status, res.body).to.equal(431);
      expect(JSON.parse(res.body)).to.include({ error: 'request_header_fields_too_large', request_id: res.headers['x-request-id'] });
      expect(seen).to.have.length(0);
      expect(await decided(res.headers['x-request-id'])).to.include({ allow: false, status: 431, reason: 'request_header_fields_too_large', stage: 'gateway' });
    });

    it('refuses 1000 fields, where Node would have kept the first 1000 and lost the gateway’s own headers upstream', async () => {
      const ex = await rawExchange(gateway.port, wire('GET', '/x', [['Authorization', `Bearer ${ALICE}`], ...fillers(997)]));
      expect(ex.responses[0]!.status).to.equal(431);
      expect(seen).to.have.length(0);
    });

    it('passes exactly 100 fields, and sends the request id and identity before the client’s fields', async () => {
      const ex = await rawExchange(gateway.port, wire('GET', '/x', [['Authorization', `Bearer ${ALICE}`], ...fillers(97)]));
      expect(ex.responses[0]!.status, ex.responses[0]!.body).to.equal(200);
      const names = seen[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      // undici writes its framing (Host, Connection) first; the gateway's own headers follow before any of the client's.
      const own = names.filter((n) => n !== 'host' && n !== 'connection').slice(0, 4);
      expect(own).to.deep.equal(['x-request-id', 'x-portcullis-user', 'x-portcullis-provider', 'x-portcullis-groups']);
      expect(seen[0]!.headers['x-filler-96']).to.equal('v');
      expect(seen[0]!.headers['x-forwarded-for']).to.equal('127.0.0.1');
    });
  });

  describe('identity values outside printable ASCII', () => {
    it('sends a name outside Latin-1 percent-encoded (it was a 502 upstream_unavailable)', async () => {
      const res = await call('/x', { authorization: `Bearer ${LUKASZ}` });
      expect(res.status, res.text).to.equal(200);
      expect(seen[0]!.headers).to.include({ 'x-portcullis-user': '%C5%81ukasz', 'x-portcullis-groups': '%C5%81%C3%B3d%C5%BA' });
      expect(decodeURIComponent(seen[0]!.headers['x-portcullis-user'] as string)).to.equal('Łukasz');
    });

    it('answers forward auth for a Chinese name with the encoded header (it was a 500)', async () => {
      const res = await call('/_portcullis/decide', { authorization: `Bearer ${WANG}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', 'x-forwarded-host': 'gateway.test' });
      expect(res.status, res.text).to.equal(200);
      expect(res.headers['x-portcullis-user']).to.equal('%E7%8E%8B%E5%B0%8F%E6%98%8E');
      expect(seen).to.have.length(0);
    });
  });
});

// The request line the upstream receives, and who is blamed when the gateway cannot send it: a refused path passes exactly
// as received when the master switch is off, and a request undici refuses to write is the gateway's 500, never a 502.
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { Agent } from 'undici';

import type { Decision } from '../../../core/access.js';
import type { Logger } from '../../../core/logger.js';
import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { createGatewayApp } from '../../../server/gateway/app.js';
import { UpstreamProxy } from '../../../server/gateway/proxy.js';
import { request } from '../../fixtures/requests.js';
import { rawExchange, wire } from '../../security/raw.js';
import { changeSettings, decisionEntries, listen, send, startRuntime, type Listening } from '../fixtures.js';

describe('server/proxy: the request target and the gateway’s own faults', () => {
  let cleanups: (() => Promise<void>)[];
  let urls: string[];
  let upstream: Listening;

  beforeEach(async () => {
    cleanups = [];
    urls = [];
    upstream = await listen((req: IncomingMessage, res) => {
      urls.push(req.url ?? '');
      res.end('ok');
    });
    cleanups.push(() => upstream.close());
  });

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  function proxyTo(base: string, logger: Logger = silentLogger): UpstreamProxy {
    const proxy = new UpstreamProxy({ upstream: new URL(base), timeoutMs: 5000, logger, isTrustedProxy: () => false });
    cleanups.push(() => proxy.close());
    return proxy;
  }

  describe('with the master switch off', () => {
    let runtime: Runtime;
    let store: MemoryEventStore;

    async function gatewayTo(base: string): Promise<Listening> {
      ({ runtime, store } = await startRuntime());
      cleanups.push(() => runtime.close());
      await changeSettings(runtime, { enabled: false });
      const gateway = await listen(createGatewayApp({ runtime, proxy: proxyTo(base), logger: silentLogger }).callback());
      cleanups.push(() => gateway.close());
      return gateway;
    }

    it('forwards the request target exactly as received, even a path normalisation refuses, and audits its shortened form', async () => {
      const gateway = await gatewayTo(upstream.url);
      // Raw, since an HTTP client would normalise some of these targets itself.
      for (const target of ['/app/login;jsessionid=ABC', '/app/login;jsessionid=ABC?next=/home', '/a%3bb', `/%2F${'a'.repeat(600)}`, '/a/./b//c/%7e?', '/x/../y']) {
        const ex = await rawExchange(gateway.port, wire('GET', target, []));
        expect(ex.responses[0]?.status, `${target}: ${ex.text}`).to.equal(200);
        expect(urls.at(-1)).to.equal(target);
      }
      await runtime.audit.flush();
      const paths = (await decisionEntries(store)).map((e) => e.data.path);
      expect(paths[0]).to.equal('/app/login…');
      expect(paths.every((p) => !p.includes('jsessionid'))).to.equal(true);
    });

    it('forwards characters clients may not send raw (\\, ", <, |, `, a fragment, a bad escape) as they are, under the upstream’s base path', async () => {
      const gateway = await gatewayTo(`${upstream.url}/base/`);
      const target = '/a\\b;v=1%ZZ"<>{}|^`#frag';
      const ex = await rawExchange(gateway.port, `GET ${target} HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n\r\n`);
      expect(ex.responses[0]?.status, ex.text).to.equal(200);
      expect(urls).to.deep.equal([`/base${target}`]);
    });
  });

  it('answers 500 internal_error (logged), not 502 upstream_unavailable, when undici refuses what the gateway built', async () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (obj: unknown) => void errors.push(obj), child: () => logger };
    const proxy = proxyTo(upstream.url, logger);
    const allowed: Decision = { allow: true, status: 200, reason: 'anonymous', stage: 'rate_limit', trace: [], credentialConsumed: false };
    // A path undici cannot write (a character above U+00FF): the gateway's fault, found before the upstream is asked.
    const gateway = await listen((req, res) => void proxy.forward(req, res, request({ id: 'req-own-fault', path: '/\u0141' }), allowed));
    cleanups.push(() => gateway.close());
    const client = new Agent();
    cleanups.push(() => client.close());
    const res = await send(client, `${gateway.url}/x`);
    expect(res.status).to.equal(500);
    expect(res.json).to.include({ error: 'internal_error', request_id: 'req-own-fault' });
    expect(urls).to.have.length(0);
    expect(errors).to.have.length(1);
  });

  it('still blames the upstream (502 upstream_unavailable) when it cannot be reached', async () => {
    const port = upstream.port;
    await upstream.close();
    const proxy = proxyTo(`http://127.0.0.1:${port}`);
    const allowed: Decision = { allow: true, status: 200, reason: 'auth_disabled', stage: 'master_switch', trace: [], credentialConsumed: false };
    const gateway = await listen((req, res) => void proxy.forward(req, res, request(), allowed));
    cleanups.push(() => gateway.close());
    const client = new Agent();
    cleanups.push(() => client.close());
    const res = await send(client, `${gateway.url}/x`);
    expect(res.status).to.equal(502);
    expect(res.json.error).to.equal('upstream_unavailable');
  });
});

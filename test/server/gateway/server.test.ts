// The gateway listener's HTTP server: a head over the size limit gets a JSON 431; every other parser refusal stays Node's.
import { expect } from 'chai';

import type { Logger } from '../../../core/logger.js';
import { silentLogger } from '../../../core/logger.js';
import { createGatewayHttpServer, MAX_HEADER_BYTES } from '../../../server/gateway/server.js';
import { rawExchange, wire } from '../../security/raw.js';
import { listen, type Listening } from '../fixtures.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('server/gateway-server', () => {
  let server: Listening;
  let logged: Record<string, unknown>[];

  beforeEach(async () => {
    logged = [];
    const logger: Logger = { ...silentLogger, info: (obj: unknown) => void logged.push(obj as Record<string, unknown>), child: () => logger };
    server = await listen((_req, res) => res.end('ok'), (h) => createGatewayHttpServer(h, logger));
  });

  afterEach(() => server.close());

  it('answers a head over 16 KiB with 431 request_header_fields_too_large as JSON, with a request id it logs, and closes', async () => {
    const ex = await rawExchange(server.port, wire('GET', '/x', [['X-Big', 'a'.repeat(MAX_HEADER_BYTES)]]));
    const res = ex.responses[0]!;
    expect(res.status).to.equal(431);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    const body = JSON.parse(res.body) as Record<string, string>;
    expect(body.error).to.equal('request_header_fields_too_large');
    expect(body.request_id).to.match(UUID).and.equal(res.headers['x-request-id']);
    expect(logged.map((l) => l.requestId)).to.deep.equal([body.request_id]);
    expect(ex.closed).to.equal(true);
  });

  it('serves a head just under the limit', async () => {
    const ex = await rawExchange(server.port, wire('GET', '/x', [['X-Big', 'a'.repeat(MAX_HEADER_BYTES - 200)]]));
    expect(ex.responses[0]?.status).to.equal(200);
  });

  it('writes nothing into an answer already under way on the connection (pipelining), as Node does', async () => {
    const first = wire('GET', '/a', [['Connection', 'keep-alive']]);
    const ex = await rawExchange(server.port, first + wire('GET', '/b', [['X-Big', 'a'.repeat(MAX_HEADER_BYTES)]]));
    expect(ex.responses.map((r) => [r.status, r.body])).to.deep.equal([[200, 'ok']]);
    expect(ex.closed).to.equal(true);
  });

  it('leaves every other parser refusal as Node answers it: a bare 400 without a body', async () => {
    for (const head of ['GET /x HTTP/1.1\r\nHost: a\r\nX Note: a\r\n\r\n', 'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']) {
      const ex = await rawExchange(server.port, head);
      expect(ex.text).to.equal('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    }
    expect(logged).to.deep.equal([]);
  });
});

// The admin API's OpenAPI document: every route in it and nothing else, valid OpenAPI 3.1, and real answers matching their documented schemas.
import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { Registry } from 'prom-client';
import request from 'supertest';
import type { z } from 'zod';

import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import { createAdminApp, createAdminRouters } from '../../../server/admin/app.js';
import { ADMIN_PATHS } from '../../../server/admin/openapi.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import { ADMIN_TOKEN, FIXED_TIME, configureStatic, listen, startRuntime, type Listening } from '../fixtures.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

/** `/api/v1/providers/:id` → `/api/v1/providers/{id}`, as OpenAPI writes a path template. */
const templated = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

/** The schema the document gives for this answer. */
function documented(path: string, method: (typeof METHODS)[number], status: number): z.ZodType {
  const responses = (ADMIN_PATHS[path]?.[method]?.responses ?? {}) as Record<string, { content?: Record<string, { schema?: unknown }> }>;
  const schema = responses[String(status)]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} documents no JSON answer for ${status}`);
  return schema as z.ZodType;
}

describe('server/admin OpenAPI document', () => {
  let runtime: Runtime;
  let store: MemoryEventStore;
  let listening: Listening;

  beforeEach(async () => {
    ({ runtime, store } = await startRuntime());
    listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
  });

  afterEach(async () => {
    await listening.close();
    await runtime.close();
  });

  const get = (path: string) => request(listening.url).get(path).set('authorization', `Bearer ${ADMIN_TOKEN}`);

  it('documents every registered route, and no route that is not registered', () => {
    const { open, api } = createAdminRouters({ runtime, logger: silentLogger, metrics: new Registry() });
    const registered = new Set<string>();
    for (const layer of [...open.stack, ...api.stack]) {
      for (const method of layer.methods) {
        if (method === 'HEAD') continue; // Koa's router answers HEAD for every GET
        registered.add(`${method} ${templated(String(layer.path))}`);
      }
    }
    const inDocument = new Set<string>();
    for (const [path, item] of Object.entries(ADMIN_PATHS)) {
      for (const method of METHODS) if (item[method]) inDocument.add(`${method.toUpperCase()} ${path}`);
    }
    expect(registered.size).to.be.greaterThan(25);
    expect([...registered].filter((r) => !inDocument.has(r)), 'registered but not documented').to.deep.equal([]);
    expect([...inDocument].filter((r) => !registered.has(r)), 'documented but not registered').to.deep.equal([]);
  });

  it('is served at /api/v1/openapi.json behind the admin token, and validates as OpenAPI 3.1', async () => {
    await request(listening.url).get('/api/v1/openapi.json').expect(401);
    const res = await get('/api/v1/openapi.json').expect(200);
    expect(res.body.openapi).to.equal('3.1.0');
    expect(res.body.paths['/api/v1/providers/{id}/test'].post.requestBody.content['application/json'].schema.required).to.deep.equal(['token']);
    const result = await new Validator().validate(res.body);
    expect(result.errors ?? [], JSON.stringify(result.errors)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
  });

  it('describes the answers the routes give', async () => {
    await configureStatic(runtime, 'corp', { 'tok-ann': { username: 'ann', groups: ['dev'] } });
    const t = FIXED_TIME;
    await store.decisions.appendBlocks([
      sealedBlock('b', [
        sampleDecision({ time: t - 60_000, requestId: 'r1' }),
        sampleDecision({ time: t - 30_000, requestId: 'r2', allow: false, status: 403, reason: 'ip_not_allowed' }),
      ]),
    ]);
    const issued = await request(listening.url)
      .post('/api/v1/tokens')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ owner: 'ann', name: 'ci' })
      .expect(201);
    expect(documented('/api/v1/tokens', 'post', 201).safeParse(issued.body).error).to.equal(undefined);
    const session = await request(listening.url).post('/api/v1/session').set('authorization', `Bearer ${ADMIN_TOKEN}`).expect(201);
    expect(documented('/api/v1/session', 'post', 201).safeParse(session.body).error).to.equal(undefined);
    const test = await request(listening.url)
      .post('/api/v1/providers/corp/test')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ token: 'tok-ann' })
      .expect(200);
    expect(documented('/api/v1/providers/{id}/test', 'post', 200).safeParse(test.body).error).to.equal(undefined);

    const reads: [string, string][] = [
      ['/readyz', '/readyz'],
      ['/api/v1/settings', '/api/v1/settings'],
      ['/api/v1/providers', '/api/v1/providers'],
      ['/api/v1/providers/{id}', '/api/v1/providers/corp'],
      ['/api/v1/provider-kinds', '/api/v1/provider-kinds'],
      ['/api/v1/tokens', '/api/v1/tokens'],
      ['/api/v1/tokens/{id}', `/api/v1/tokens/${issued.body.id as string}`],
      ['/api/v1/state', '/api/v1/state'],
      ['/api/v1/state', `/api/v1/state?asOf=${new Date(t).toISOString()}`],
      ['/api/v1/history', '/api/v1/history'],
      ['/api/v1/events', '/api/v1/events'],
      ['/api/v1/checkpoints', '/api/v1/checkpoints'],
      ['/api/v1/audit', '/api/v1/audit'],
      ['/api/v1/audit/stats', '/api/v1/audit/stats'],
      ['/api/v1/verify', '/api/v1/verify'],
      ['/api/v1/session', '/api/v1/session'],
      ['/api/v1/session/options', '/api/v1/session/options'],
    ];
    for (const [path, url] of reads) {
      const res = await get(url).expect(200);
      const parsed = documented(path, 'get', 200).safeParse(res.body);
      expect(parsed.error?.issues ?? [], url).to.deep.equal([]);
    }
    const kinds = await get('/api/v1/provider-kinds').expect(200);
    const kind = kinds.body.kinds.find((k: { kind: string }) => k.kind === 'static');
    expect(kind.configSchema.required).to.deep.equal(['tokens']);
    expect(kind.secretFields).to.deep.equal([]);
    const verified = await get('/api/v1/verify').expect(200);
    expect(verified.body).to.include({ ok: true });
    expect(verified.body.events).to.be.greaterThan(2);
    await get('/api/v1/verify?full=1').expect(400);
    const audit = await get('/api/v1/audit').expect(200);
    expect(audit.body.decisions).to.have.length(2);

    const notFound = await get('/api/v1/providers/nobody').expect(404);
    expect(documented('/api/v1/providers/{id}', 'get', 404).safeParse(notFound.body).success).to.equal(true);
  });
});

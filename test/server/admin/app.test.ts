// The admin listener in-process: health, readiness, the admin token, settings, providers and the event feed.
import { expect } from 'chai';
import request from 'supertest';

import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import type { MemoryEventStore } from '../../../core/store/memory.js';
import type { RecordedEvent } from '../../../core/store/port.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { StoreSizeWatch } from '../../../server/runtime/store-size.js';
import { sampleDecision, sealedBlock } from '../../fixtures/decisions.js';
import { ADMIN_TOKEN, configureStatic, listen, startRuntime, tokenHash, type Listening } from '../fixtures.js';

interface Call {
  auth?: string | false;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as is, with content-type application/json. */
  raw?: string | Buffer;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('server/admin', () => {
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

  /** Every admin call goes through here, which also checks the answer never repeats the admin token. */
  async function call(method: 'get' | 'put' | 'patch' | 'delete' | 'post', path: string, options: Call = {}): Promise<request.Response> {
    let test = request(listening.url)[method](path);
    if (options.auth !== false) test = test.set('authorization', options.auth ?? `Bearer ${ADMIN_TOKEN}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) test = test.set(name, value);
    if (options.raw !== undefined) test = test.set('content-type', 'application/json').send(options.raw);
    else if (options.body !== undefined) test = test.send(options.body as object);
    const res = await test;
    expect(JSON.stringify(res.headers), 'headers echo the admin token').not.to.include(ADMIN_TOKEN);
    expect(res.text ?? '', 'body echoes the admin token').not.to.include(ADMIN_TOKEN);
    expect(res.headers['x-request-id']).to.match(UUID);
    return res;
  }

  const expectError = (res: request.Response, status: number, code: string) => {
    expect(res.status, res.text).to.equal(status);
    expect(res.headers['content-type']).to.match(/^application\/json/);
    expect(res.body.error).to.equal(code);
    expect(res.body.error_description).to.be.a('string').and.not.equal('');
    expect(res.body.request_id).to.equal(res.headers['x-request-id']);
  };

  const fieldPaths = (res: request.Response): string[] => (res.body.fields as { path: string }[]).map((f) => f.path);

  const staticBody = (tokens: Record<string, string> = { 'tok-alice': 'alice' }, extra: Record<string, unknown> = {}) => ({
    kind: 'static',
    config: { tokens: Object.fromEntries(Object.entries(tokens).map(([t, u]) => [tokenHash(t), { username: u }])), ...extra },
  });

  describe('health and readiness', () => {
    it('GET /healthz answers 200 without a credential', async () => {
      const res = await call('get', '/healthz', { auth: false });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'ok' });
    });

    it('GET /readyz answers 200 with the checks when every provider is ready', async () => {
      await configureStatic(runtime, 'p1', { 'tok-alice': { username: 'alice' } });
      const res = await call('get', '/readyz', { auth: false });
      expect(res.status).to.equal(200);
      expect(res.body.status).to.equal('ready');
      expect(res.body.checks['provider:p1']).to.deep.equal({ ready: true });
      expect(res.body.checks.audit).to.deep.equal({ ready: true });
    });

    it('GET /readyz shows the store size past storeSizeWarnBytes, and stays ready', async () => {
      let bytes = 2_000_000;
      runtime.storeSize = new StoreSizeWatch({ sizeBytes: async () => bytes }, 5_000_000, silentLogger);
      try {
        await runtime.storeSize.check();
        const under = await call('get', '/readyz', { auth: false });
        expect(under.status).to.equal(200);
        expect(under.body.checks.storeSize).to.deep.equal({ ready: true, detail: 'store 2000000 bytes of 5000000' });
        bytes = 6_000_000;
        await runtime.storeSize.check();
        const over = await call('get', '/readyz', { auth: false });
        expect(over.status).to.equal(200);
        expect(over.body.checks.storeSize).to.deep.equal({ ready: true, detail: 'store 6000000 bytes, past storeSizeWarnBytes 5000000' });
      } finally {
        runtime.storeSize = undefined;
      }
      expect((await call('get', '/readyz', { auth: false })).body.checks).to.not.have.property('storeSize');
    });

    it('GET /readyz answers 503 while a provider is still warming up', async () => {
      await configureStatic(runtime, 'p1', {}, { warming: true });
      const res = await call('get', '/readyz', { auth: false });
      expect(res.status).to.equal(503);
      expect(res.body.status).to.equal('not_ready');
    });

    it('GET /readyz stays 200 but names a provider that warmed up without keys', async () => {
      await configureStatic(runtime, 'p1', {}, { ready: false });
      const res = await call('get', '/readyz', { auth: false });
      expect(res.status).to.equal(200);
      expect(res.body.checks['provider:p1']).to.deep.equal({ ready: false, detail: 'keys not fetched yet' });
    });
  });

  describe('admin token', () => {
    it('refuses a call without Authorization with 401 and a Bearer challenge without an error code (RFC 6750 §3.1)', async () => {
      const res = await call('get', '/api/v1/settings', { auth: false });
      expectError(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).to.equal('Bearer realm="portcullis-admin"');
    });

    it('refuses a wrong token with 401 invalid_token', async () => {
      const res = await call('get', '/api/v1/settings', { auth: 'Bearer test-admin-token-0123456789abcdeX' });
      expectError(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis-admin", error="invalid_token"/);
    });

    for (const header of ['Basic dGVzdDp0ZXN0', `Bearer`, `Bearer ${ADMIN_TOKEN} extra`, ADMIN_TOKEN]) {
      it(`refuses a malformed Authorization header (${header.slice(0, 12)}…) with 401`, async () => {
        const res = await call('get', '/api/v1/settings', { auth: header });
        expectError(res, 401, 'unauthorized');
        expect(res.headers['www-authenticate']).to.match(/^Bearer realm="portcullis-admin"/);
      });
    }

    it('checks the token before reading the body', async () => {
      const res = await call('patch', '/api/v1/settings', { auth: false, raw: '{not json' });
      expectError(res, 401, 'unauthorized');
    });
  });

  describe('settings', () => {
    it('GET /settings answers revision 0, the defaults, the sparse document and ETag "0"', async () => {
      const res = await call('get', '/api/v1/settings');
      expect(res.status).to.equal(200);
      expect(res.headers.etag).to.equal('"0"');
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.body.revision).to.equal(0);
      expect(res.body.document).to.deep.equal({});
      expect(res.body.settings).to.deep.equal({
        enabled: true,
        credentials: { basic: 'tokens-only', pat: { allow: false, pattern: null }, gatewayTokens: true, apiKeyHeader: null },
        ip: { allow: [], deny: [], trustedProxies: ['127.0.0.0/8', '::1/128'], realIpHeader: 'x-forwarded-for' },
        paths: { bypass: [], public: [], restrictPublic: [] },
        groups: { allowed: [], readOnly: [], tokenCreators: [], mapping: [] },
        routes: [],
        rateLimit: { enabled: false, limit: 600, windowSeconds: 60, key: 'user', exempt: { users: [], groups: [], ips: [] } },
        tokens: { allowUserCreate: false, maxPerUser: 10, maxExpiryDays: 365, defaultExpiryDays: 90 },
        audit: { enabled: true, retention: { maxDays: false, maxEntries: false } },
        forwardAuth: { headers: 'x-forwarded' },
        assertion: { enabled: false, issuer: 'portcullis', audience: null, ttlSeconds: 30, reuseSeconds: 10 },
        console: { signInProvider: null, adminGroups: [], sessionMinutes: 480 },
      });
    });

    it('PATCH with the current If-Match applies the merge patch; a stale If-Match then gets 412', async () => {
      const first = await call('patch', '/api/v1/settings', { headers: { 'if-match': '"0"' }, body: { enabled: false } });
      expect(first.status, first.text).to.equal(200);
      expect(first.headers.etag).to.equal('"1"');
      expect(first.body.revision).to.equal(1);
      expect(first.body.settings.enabled).to.equal(false);
      expect(first.body.document).to.deep.equal({ enabled: false });
      expect(runtime.compiled.settings.enabled, 'pipeline recompiled before the answer').to.equal(false);

      const again = await call('get', '/api/v1/settings');
      expect(again.headers.etag).to.equal('"1"');

      const stale = await call('patch', '/api/v1/settings', { headers: { 'if-match': '"0"' }, body: { enabled: true } });
      expectError(stale, 412, 'precondition_failed');
      expect(runtime.projection.state.settingsRevision).to.equal(1);
      expect(runtime.projection.state.settings.enabled).to.equal(false);
    });

    it('accepts application/merge-patch+json and a weak or bare If-Match', async () => {
      const res = await call('patch', '/api/v1/settings', {
        headers: { 'if-match': 'W/"0"', 'content-type': 'application/merge-patch+json' },
        raw: JSON.stringify({ audit: { enabled: false } }),
      });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.settings.audit.enabled).to.equal(false);
      const bare = await call('patch', '/api/v1/settings', { headers: { 'if-match': '1' }, body: { audit: null } });
      expect(bare.status, bare.text).to.equal(200);
      expect(bare.body.revision).to.equal(2);
      expect(bare.body.document).to.deep.equal({});
    });

    it('PATCH audit.retention sets the limits (refused as an unknown field before)', async () => {
      const res = await call('patch', '/api/v1/settings', { body: { audit: { retention: { maxDays: 30, maxEntries: 1_000_000 } } } });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.settings.audit.retention).to.deep.equal({ maxDays: 30, maxEntries: 1_000_000 });
      expect(runtime.projection.state.settings.audit.retention.maxDays).to.equal(30);
    });

    // Each unknown key is its own field error, named by its full path.
    const invalid: [string, unknown, string[]][] = [
      ['a wrong type', { enabled: 'yes' }, ['enabled']],
      ['an unknown key', { nope: 1 }, ['nope']],
      ['an unknown nested key', { ip: { realIp: 'x' } }, ['ip.realIp']],
      ['two unknown keys', { a: 1, ip: { b: 2 } }, ['a', 'ip.b']],
      ['an invalid CIDR', { ip: { trustedProxies: ['999.1.1.1'] } }, ['ip.trustedProxies[0]']],
      ['several errors at once', { enabled: 1, audit: { enabled: 'no' } }, ['enabled', 'audit.enabled']],
      ['a retention of zero days', { audit: { retention: { maxDays: 0 } } }, ['audit.retention.maxDays']],
      ['an unknown retention key', { audit: { retention: { maxBytes: 1 } } }, ['audit.retention.maxBytes']],
      // A route is known by its name to its rate-limit counters and its assertion overrides.
      ['two routes of one name', { routes: [{ name: 'api', path: '/a/**' }, { name: 'api', path: '/b/**' }] }, ['routes[1].name']],
      ['a route named as the next one is by default', { routes: [{ name: 'route-2', path: '/a/**' }, { path: '/b/**' }] }, ['routes[1].name']],
    ];
    for (const [what, patch, paths] of invalid) {
      it(`PATCH with ${what} → 400 invalid_request naming each field, nothing appended`, async () => {
        const before = (await store.readAll()).length;
        const res = await call('patch', '/api/v1/settings', { body: patch });
        expectError(res, 400, 'invalid_request');
        expect(fieldPaths(res)).to.have.members(paths);
        for (const f of res.body.fields as { message: string }[]) expect(f.message).to.be.a('string').and.not.equal('');
        expect((await store.readAll()).length).to.equal(before);
      });
    }

    it('a repeated route name is refused naming the route that has it first', async () => {
      const res = await call('patch', '/api/v1/settings', { body: { routes: [{ path: '/x' }, { name: 'api', path: '/a/**' }, { name: 'api', path: '/b/**' }] } });
      expectError(res, 400, 'invalid_request');
      expect(res.body.fields).to.deep.equal([{ path: 'routes[2].name', message: 'the name api is already routes[1]\'s' }]);
    });

    it('an unknown key is named in its field error', async () => {
      const res = await call('patch', '/api/v1/settings', { body: { nope: 1 } });
      expectError(res, 400, 'invalid_request');
      expect(JSON.stringify(res.body.fields)).to.include('nope');
    });

    it('PATCH with a body that is not an object → 400 invalid_request', async () => {
      for (const raw of ['[1]', '[]']) {
        const res = await call('patch', '/api/v1/settings', { raw });
        expectError(res, 400, 'invalid_request');
      }
      expect(runtime.projection.state.settingsRevision).to.equal(0);
    });

    it('PATCH with malformed JSON → 400 invalid_request without a stack trace', async () => {
      const res = await call('patch', '/api/v1/settings', { raw: '{"enabled": fal' });
      expectError(res, 400, 'invalid_request');
      expect(res.text).not.to.match(/\bat [\w.<>]+ \(|node_modules|\.js:\d+/);
      expect(res.body).not.to.have.property('stack');
    });

    it('PATCH with a JSON scalar (not accepted by strict JSON) → 400 invalid_request', async () => {
      const res = await call('patch', '/api/v1/settings', { raw: '"yes"' });
      expectError(res, 400, 'invalid_request');
    });

    it('PATCH with a body over 1 MB → 413 payload_too_large', async () => {
      const raw = JSON.stringify({ enabled: true, pad: 'x'.repeat(1024 * 1024 + 10) });
      const res = await call('patch', '/api/v1/settings', { raw });
      expectError(res, 413, 'payload_too_large');
      expect(runtime.projection.state.settingsRevision).to.equal(0);
    });

    it('If-Match that is not a revision → 400 invalid_request naming If-Match', async () => {
      const res = await call('patch', '/api/v1/settings', { headers: { 'if-match': 'nonsense' }, body: { enabled: false } });
      expectError(res, 400, 'invalid_request');
      expect(fieldPaths(res)).to.deep.equal(['If-Match']);
      expect(runtime.projection.state.settingsRevision).to.equal(0);
    });

    it('a PATCH that changes nothing answers 200 and appends no event', async () => {
      const set = await call('patch', '/api/v1/settings', { body: { enabled: false } });
      expect(set.body.revision).to.equal(1);
      const count = (await store.readAll()).length;

      for (const body of [{ enabled: false }, {}, { nope: null }]) {
        const res = await call('patch', '/api/v1/settings', { headers: { 'if-match': '"1"' }, body });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.revision).to.equal(1);
        expect(res.headers.etag).to.equal('"1"');
      }
      expect((await store.readAll()).length).to.equal(count);
    });
  });

  describe('providers', () => {
    it('PUT creates (201) then replaces (200), with the revision as ETag; GET lists it with its status', async () => {
      const created = await call('put', '/api/v1/providers/p1', { body: staticBody() });
      expect(created.status, created.text).to.equal(201);
      expect(created.headers.etag).to.equal('"1"');
      expect(created.body).to.include({ id: 'p1', kind: 'static', enabled: true, order: 0, revision: 1 });
      expect(created.body.status).to.deep.equal({ ready: true });

      const replaced = await call('put', '/api/v1/providers/p1', { body: { ...staticBody({ 'tok-bob': 'bob' }), order: 5 } });
      expect(replaced.status, replaced.text).to.equal(200);
      expect(replaced.headers.etag).to.equal('"2"');
      expect(replaced.body).to.include({ revision: 2, order: 5 });

      const list = await call('get', '/api/v1/providers');
      expect(list.status).to.equal(200);
      expect(list.body.providers).to.have.length(1);
      expect(list.body.providers[0]).to.include({ id: 'p1', kind: 'static', revision: 2 });
      expect(list.body.providers[0].status).to.deep.equal({ ready: true });

      const one = await call('get', '/api/v1/providers/p1');
      expect(one.status).to.equal(200);
      expect(one.headers.etag).to.equal('"2"');
      expect(runtime.compiled.providers.has('p1'), 'pipeline uses it').to.equal(true);
    });

    it('a disabled provider is listed as not running', async () => {
      const res = await call('put', '/api/v1/providers/p2', { body: { ...staticBody(), enabled: false } });
      expect(res.status).to.equal(201);
      expect(res.body.status).to.deep.equal({ ready: false, detail: 'disabled' });
    });

    it('PUT with a stale If-Match → 412', async () => {
      await call('put', '/api/v1/providers/p1', { body: staticBody() });
      const res = await call('put', '/api/v1/providers/p1', { headers: { 'if-match': '"7"' }, body: staticBody({ 'tok-bob': 'bob' }) });
      expectError(res, 412, 'precondition_failed');
    });

    it('PUT with an unknown kind → 400 naming `kind`', async () => {
      const res = await call('put', '/api/v1/providers/p1', { body: { kind: 'nonexistent', config: {} } });
      expectError(res, 400, 'invalid_request');
      expect(fieldPaths(res)).to.deep.equal(['kind']);
      expect(res.body.fields[0].message).to.include('static');
    });

    it('PUT with an invalid config → 400 with fields prefixed `config.`', async () => {
      const res = await call('put', '/api/v1/providers/p1', {
        body: { kind: 'static', config: { tokens: { abc: { username: 5 } }, unavailable: 'no', extra: 1 } },
      });
      expectError(res, 400, 'invalid_request');
      const paths = fieldPaths(res);
      expect(paths).to.include.members(['config.tokens.abc.username', 'config.unavailable']);
      for (const p of paths) expect(p).to.match(/^config(\.|$)/);
      expect(await store.readAll()).to.have.length(0);
    });

    it('PUT with a body missing `config` or with an unknown member → 400 naming it', async () => {
      const missing = await call('put', '/api/v1/providers/p1', { body: { kind: 'static' } });
      expectError(missing, 400, 'invalid_request');
      expect(fieldPaths(missing)).to.include('config');
      const unknown = await call('put', '/api/v1/providers/p1', { body: { ...staticBody(), secret: 'x' } });
      expectError(unknown, 400, 'invalid_request');
    });

    for (const id of ['Bad_ID', '-leading-dash', 'a'.repeat(64)]) {
      it(`PUT with the bad id ${id.slice(0, 14)} → 400 naming \`id\``, async () => {
        const res = await call('put', `/api/v1/providers/${id}`, { body: staticBody() });
        expectError(res, 400, 'invalid_request');
        expect(fieldPaths(res)).to.deep.equal(['id']);
      });
    }

    it('DELETE → 204; afterwards GET → 404 not_found and the pipeline no longer has it', async () => {
      await call('put', '/api/v1/providers/p1', { body: staticBody() });
      const del = await call('delete', '/api/v1/providers/p1');
      expect(del.status).to.equal(204);
      expect(del.text ?? '').to.equal('');
      const res = await call('get', '/api/v1/providers/p1');
      expectError(res, 404, 'not_found');
      expect(runtime.compiled.providers.has('p1')).to.equal(false);
      expect((await call('get', '/api/v1/providers')).body.providers).to.deep.equal([]);
    });

    it('DELETE of an unknown provider → 404 not_found', async () => {
      expectError(await call('delete', '/api/v1/providers/nobody'), 404, 'not_found');
    });
  });

  it('an unknown route → 404 JSON not_found for the admin, 401 for anyone else (no route map for strangers)', async () => {
    expectError(await call('get', '/api/v1/nothing-here'), 404, 'not_found');
    expectError(await call('get', '/nothing-here'), 404, 'not_found');
    expectError(await call('get', '/nothing-here', { auth: false }), 401, 'unauthorized');
  });

  for (const path of ['/API/V1/settings', '/Api/v1/settings', '/api/V1/providers', '/api/v1/Settings', '/HEALTHZ/../api/v1/settings']) {
    it(`no spelling of an API path skips the admin token: ${path}`, async () => {
      expectError(await call('get', path, { auth: false }), 401, 'unauthorized');
      const res = await call('get', path);
      expect(res.status, 'with the token, other spellings are simply not routes').to.be.oneOf([404]);
    });
  }

  describe('event feed', () => {
    async function makeEvents(): Promise<void> {
      for (let i = 0; i < 4; i++) {
        const res = await call('patch', '/api/v1/settings', { body: { enabled: i % 2 === 1 } });
        expect(res.status).to.equal(200);
      }
      expect((await call('put', '/api/v1/providers/p1', { body: staticBody() })).status).to.equal(201);
      expect((await call('put', '/api/v1/providers/p2', { body: staticBody() })).status).to.equal(201);
    }

    it('GET /events?limit=5 pages through the log with position, type, hash, prevHash and next', async () => {
      await makeEvents();
      const page = await call('get', '/api/v1/events?limit=5');
      expect(page.status).to.equal(200);
      const events = page.body.events as RecordedEvent[];
      expect(events).to.have.length(5);
      expect(events.map((e) => e.type)).to.deep.equal(['SettingsChanged', 'SettingsChanged', 'SettingsChanged', 'SettingsChanged', 'ProviderConfigured']);
      expect(events[0]!.prevHash).to.equal('');
      for (let i = 0; i < events.length; i++) {
        expect(events[i]!.position).to.equal(String(i + 1));
        expect(events[i]!.hash).to.match(/^[0-9a-f]{64}$/);
        if (i > 0) expect(events[i]!.prevHash).to.equal(events[i - 1]!.hash);
      }
      expect(page.body.next).to.equal('5');

      const rest = await call('get', `/api/v1/events?limit=5&after=${page.body.next as string}`);
      expect(rest.status).to.equal(200);
      expect((rest.body.events as RecordedEvent[]).map((e) => e.position)).to.deep.equal(['6']);
      expect(rest.body.next).to.equal('6');

      const end = await call('get', '/api/v1/events?after=6');
      expect(end.body.events).to.deep.equal([]);
      expect(end.body.next).to.equal('6');
    });

    it('an empty log answers no events and next null', async () => {
      const res = await call('get', '/api/v1/events');
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ events: [], next: null });
    });

    it('GET /events?expand=decisions shows each decision block as one entry per decision; limit counts entries, blocks stay whole', async () => {
      await call('patch', '/api/v1/settings', { body: { enabled: true } });
      const block = (id: string, n: number) =>
        sealedBlock(id, Array.from({ length: n }, (_, i) => sampleDecision({ requestId: `${id}-${i}`, time: Date.UTC(2026, 0, 5) + i })));
      const { position: first } = await store.decisions.appendBlocks([block('b1', 3)]);
      const { position: second } = await store.decisions.appendBlocks([block('b2', 2)]);

      const plain = await call('get', '/api/v1/events');
      expect((plain.body.events as RecordedEvent[]).map((e) => e.type)).to.deep.equal(['SettingsChanged', 'AccessDecisionsRecorded', 'AccessDecisionsRecorded']);

      const page = await call('get', '/api/v1/events?expand=decisions&limit=2');
      expect(page.status).to.equal(200);
      const entries = page.body.events as { type: string; position: string; index?: number; time?: string; stream?: string; data: { requestId?: string } }[];
      expect(entries.map((e) => [e.type, e.position, e.index, e.data.requestId])).to.deep.equal([
        ['SettingsChanged', '1', undefined, undefined],
        ['AccessDecided', first, 0, 'b1-0'],
        ['AccessDecided', first, 1, 'b1-1'],
        ['AccessDecided', first, 2, 'b1-2'],
      ]);
      expect(entries[1]).to.deep.include({ stream: 'access-2026-01-05', time: '2026-01-05T00:00:00.000Z' });
      expect(entries[1]!.data).to.deep.include({ method: 'GET', path: '/rest/api/2/issue/PROJ-1', allow: true, reason: 'authenticated' });
      expect(page.body.next).to.equal(first);

      const rest = await call('get', `/api/v1/events?expand=decisions&after=${first}`);
      expect((rest.body.events as { data: { requestId: string } }[]).map((e) => e.data.requestId)).to.deep.equal(['b2-0', 'b2-1']);
      expect(rest.body.next).to.equal(second);
    });

    for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=2.5', 'after=abc', 'after=-1', 'expand=events', 'expand=decisions&expand=decisions']) {
      it(`GET /events?${query} → 400 invalid_request`, async () => {
        expectError(await call('get', `/api/v1/events?${query}`), 400, 'invalid_request');
      });
    }

    for (const query of ['after=007', 'after=99999999999999999999']) {
      it(`GET /events?${query} (digits, but no position a store hands out) → 400, not 500`, async () => {
        expectError(await call('get', `/api/v1/events?${query}`), 400, 'invalid_request');
      });
    }

    it('every event the admin API appends carries actor admin, the source IP and the request id', async () => {
      const responses = [
        await call('patch', '/api/v1/settings', { body: { enabled: false } }),
        await call('put', '/api/v1/providers/p1', { body: staticBody() }),
        await call('delete', '/api/v1/providers/p1'),
      ];
      const events = await store.readAll();
      expect(events.map((e) => e.type)).to.deep.equal(['SettingsChanged', 'ProviderConfigured', 'ProviderRemoved']);
      events.forEach((e, i) => {
        expect(e.metadata).to.deep.equal({ actor: 'admin', sourceIp: '127.0.0.1', correlationId: responses[i]!.headers['x-request-id'] });
      });
    });
  });
});

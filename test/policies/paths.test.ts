// The paths stage: invalid_path, bypass, public and restrictPublic, judged on the normalised path; the bypass corpus through the pipeline.
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { toAccessRequest } from '../../server/gateway/access-request.js';
import type { Pipeline } from '../../core/pipeline.js';
import { bearer, kit, request, tableProvider } from './kit.js';
import { PATH_CORPUS } from './path-corpus.js';

const alice = tableProvider('p', { 'tok-alice': { username: 'alice' } });

describe('policies/paths', () => {
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit(
      {
        paths: {
          bypass: ['GET /health', '/static/**'],
          public: ['/public/**', 'GET /rest/api/*/serverInfo', '/rest/open/**'],
          restrictPublic: ['/public/private/**', 'POST /rest/open/**'],
        },
      },
      [alice],
    ).pipeline;
  });
  const decide = (method: string, path: string, extra = {}) => pipeline.decide(request({ method, path, rawPath: path, ...extra }));

  it('answers 400 invalid_path for a path normalisation refused, before anything else', async () => {
    const d = await pipeline.decide(request({ rawPath: '/a/%2e%2e%2f', path: '/a/%2e%2e%2f', pathError: 'encoded slash or backslash', ...bearer('tok-alice') }));
    expect(d).to.include({ allow: false, status: 400, reason: 'invalid_path', stage: 'paths' });
    expect(d.description).to.match(/encoded slash/);
    expect(d.trace.map((t) => `${t.stage}:${t.outcome}`)).to.deep.equal(['master_switch:pass', 'paths:deny']);
  });

  it('lets bypass paths through without authentication (reason bypass), credential untouched', async () => {
    const d = await decide('GET', '/health');
    expect(d).to.include({ allow: true, reason: 'bypass', stage: 'paths', credentialConsumed: false });
    expect((await decide('POST', '/static/a/b.css'))).to.include({ reason: 'bypass' });
    expect((await decide('POST', '/health'))).to.include({ status: 401, reason: 'missing_credential' });
    expect((await decide('GET', '/static/x', bearer('bad-x')))).to.include({ allow: true, reason: 'bypass' });
  });

  it('lets anonymous callers through public paths, and still authenticates those who present a credential', async () => {
    const anon = await decide('GET', '/public/doc');
    expect(anon).to.include({ allow: true, reason: 'anonymous' });
    expect(anon.trace.find((t) => t.stage === 'paths')).to.deep.equal({ stage: 'paths', outcome: 'pass', detail: 'public' });
    expect(anon.trace.find((t) => t.stage === 'authenticate')).to.deep.equal({ stage: 'authenticate', outcome: 'pass', detail: 'anonymous' });
    expect(await decide('GET', '/rest/api/2/serverInfo')).to.include({ allow: true, reason: 'anonymous' });
    expect(await decide('POST', '/rest/api/2/serverInfo')).to.include({ status: 401 });
    const known = await decide('GET', '/public/doc', bearer('tok-alice'));
    expect(known).to.include({ allow: true, reason: 'authenticated', credentialConsumed: true });
    expect(await decide('GET', '/public/doc', bearer('bad-1'))).to.include({ status: 401, reason: 'invalid_token' });
  });

  describe('a method-override header (the upstream may run the request as the method it names)', () => {
    const overriding = (method: string, path: string, methodOverride: string, extra = {}) => decide(method, path, { methodOverride, ...extra });

    it('bypasses only when every method named is on the bypass list', async () => {
      expect(await overriding('GET', '/health', 'DELETE')).to.include({ status: 401, reason: 'missing_credential' });
      expect(await overriding('GET', '/health', 'GET, POST')).to.include({ status: 401, reason: 'missing_credential' });
      expect(await overriding('GET', '/health', 'GET')).to.include({ allow: true, reason: 'bypass' });
      expect(await overriding('POST', '/static/a.css', 'DELETE')).to.include({ allow: true, reason: 'bypass' });
    });

    it('is public only when every method named is public, and restricted when any is restricted', async () => {
      expect(await overriding('GET', '/rest/api/2/serverInfo', 'DELETE')).to.include({ status: 401, reason: 'missing_credential' });
      expect(await overriding('GET', '/rest/open/a', 'POST')).to.include({ status: 401, reason: 'missing_credential' });
      expect(await overriding('GET', '/rest/open/a', 'PUT')).to.include({ allow: true, reason: 'anonymous' });
      expect(await overriding('GET', '/rest/api/2/serverInfo', 'DELETE', bearer('tok-alice'))).to.include({ allow: true, reason: 'authenticated' });
    });
  });

  it('a method-override header naming several methods: every one must be bypassed or public, any one restricted or routed elsewhere refuses', async () => {
    const p = kit(
      {
        paths: { bypass: ['GET /h', 'PUT /h'], public: ['/open/**'], restrictPublic: ['POST /open/**'] },
        routes: [
          { name: 'reads', methods: ['GET', 'PUT'], path: '/r/**' },
          { name: 'deletes', methods: ['DELETE'], path: '/r/**', groups: ['ops'] },
        ],
      },
      [alice],
    ).pipeline;
    const overriding = (method: string, path: string, methodOverride: string, extra = {}) => p.decide(request({ method, path, rawPath: path, methodOverride, ...extra }));
    const bypassed = await overriding('GET', '/h', 'PUT');
    expect(bypassed).to.include({ allow: true, reason: 'bypass', description: 'the path is on the bypass list' });
    expect(await overriding('GET', '/h', 'PUT, DELETE')).to.include({ status: 401, reason: 'missing_credential' });
    expect(await overriding('GET', '/open/a', 'PUT')).to.include({ allow: true, reason: 'anonymous' });
    expect(await overriding('GET', '/open/a', 'PUT, POST')).to.include({ status: 401, reason: 'missing_credential' });
    expect(await overriding('GET', '/r/x', 'PUT', bearer('tok-alice'))).to.include({ allow: true });
    expect(await overriding('GET', '/r/x', 'PUT, DELETE', bearer('tok-alice'))).to.include({
      status: 400,
      reason: 'method_override_conflict',
      stage: 'paths',
      description: 'a method-override header names a method that other path rules or routes govern than the request method',
    });
  });

  it('restrictPublic takes public paths back', async () => {
    expect(await decide('GET', '/public/private/x')).to.include({ status: 401, reason: 'missing_credential' });
    expect(await decide('GET', '/public/private')).to.include({ status: 401 });
    expect(await decide('GET', '/rest/open/a')).to.include({ allow: true, reason: 'anonymous' });
    expect(await decide('POST', '/rest/open/a')).to.include({ status: 401 });
    expect(await decide('GET', '/public/private/x', bearer('tok-alice'))).to.include({ allow: true });
  });

  it('judges one trailing slash like none, so restrictPublic cannot be dodged with one', async () => {
    expect(await decide('GET', '/public/private/')).to.include({ status: 401 });
    expect(await decide('GET', '/health/')).to.include({ reason: 'bypass' });
  });

  describe(`the bypass corpus through the pipeline (${PATH_CORPUS.length} payloads)`, () => {
    let p: Pipeline;
    before(() => {
      p = kit({ paths: { public: ['/public/**'], restrictPublic: ['/public/private/**'] } }, [alice]).pipeline;
    });
    const asRequest = (url: string, token?: string) =>
      toAccessRequest(
        { headers: token ? { authorization: `Bearer ${token}` } : {} } as unknown as IncomingMessage,
        'r',
        { method: 'GET', url, host: 'h' },
        '192.0.2.1',
        '192.0.2.1',
        0,
      );
    for (const [target, canonical] of PATH_CORPUS) {
      it(`${target} → ${canonical === 'reject' ? '400 invalid_path' : `judged as ${canonical}`}`, async () => {
        for (const token of [undefined, 'tok-alice']) {
          const d = await p.decide(asRequest(target, token));
          if (canonical === 'reject') {
            expect(d, `token ${token}`).to.include({ allow: false, status: 400, reason: 'invalid_path' });
          } else {
            const same = await p.decide(asRequest(canonical, token));
            expect(asRequest(target).path).to.equal(canonical);
            expect({ allow: d.allow, status: d.status, reason: d.reason }, `token ${token}`).to.deep.equal({ allow: same.allow, status: same.status, reason: same.reason });
          }
        }
      });
    }
  });
});

// Per-route rules: first match by method, path and host; provider, group and scope requirements; read-only; anonymous.
import { expect } from 'chai';

import { normaliseHost } from '../../core/host.js';
import type { Pipeline } from '../../core/pipeline.js';
import { bearer, kit, request, tableProvider } from './kit.js';

const a = tableProvider('corp', {
  'tok-dev': { username: 'dev', groups: ['devs'], scopes: ['read', 'write'] },
  'tok-reader': { username: 'reader', groups: ['devs'], scopes: ['read'] },
  'tok-ops': { username: 'op', groups: ['ops'] },
});
const b = tableProvider('github', { 'tok-gh': { username: 'octo', groups: ['devs'], scopes: ['read', 'write'] } });

describe('policies/routes', () => {
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit(
      {
        routes: [
          { name: 'status', path: '/status', anonymous: true },
          { name: 'admin', path: '/rest/admin/**', groups: ['ops'] },
          { name: 'write', methods: ['POST', 'PUT'], path: '/rest/api/**', scopes: ['write'], providers: ['corp'] },
          { name: 'archive', path: '/rest/archive/**', readOnly: true },
          { name: 'tenant', path: '/rest/**', host: '*.tenant.example', providers: ['github'] },
          { name: 'fallback', path: '/rest/**' },
        ],
        paths: { public: ['/rest/api/open/**'] },
      },
      [a, b],
    ).pipeline;
  });
  const decide = (method: string, path: string, token?: string, host = 'api.example') =>
    pipeline.decide(request({ method, path, host, ...(token ? bearer(token) : {}) }));
  const routeOf = async (...args: Parameters<typeof decide>) => (await decide(...args)).trace.find((t) => t.stage === 'paths')?.detail;

  it('matches the first rule in order, by method, path and host', async () => {
    expect(await routeOf('GET', '/rest/api/x', 'tok-dev')).to.equal('route=fallback');
    expect(await routeOf('POST', '/rest/api/x', 'tok-dev')).to.equal('route=write');
    expect(await routeOf('GET', '/rest/x', 'tok-gh', 'a.tenant.example:8443')).to.equal('route=tenant');
    // The gateway hands the pipeline a normalised host (core/host.ts); these are the forms it gives.
    for (const host of ['A.Tenant.Example', 'a.tenant.example.', 'A.TENANT.EXAMPLE.:443']) {
      const normal = normaliseHost(host);
      expect(normal.ok && (await routeOf('GET', '/rest/x', 'tok-gh', normal.host)), host).to.equal('route=tenant');
    }
    expect(await routeOf('GET', '/rest/x', 'tok-gh', 'tenant.example')).to.equal('route=fallback');
    expect(await routeOf('GET', '/other', 'tok-dev')).to.equal(undefined);
  });

  it('refuses a method-override header naming a method another route governs (400 method_override_conflict)', async () => {
    const overriding = (method: string, path: string, methodOverride: string) =>
      pipeline.decide(request({ method, path, host: 'api.example', methodOverride, ...bearer('tok-reader') }));
    // GET matches `fallback`, POST matches `write` (which needs the write scope): the upstream may run it as a POST.
    expect(await overriding('GET', '/rest/api/x', 'POST')).to.include({ allow: false, status: 400, reason: 'method_override_conflict', stage: 'paths' });
    expect(await overriding('GET', '/rest/api/x', 'GET')).to.include({ allow: true });
    // The same route for every method named: the route's own rules decide.
    expect(await overriding('POST', '/rest/api/x', 'PUT')).to.include({ status: 403, reason: 'insufficient_scope' });
  });

  it('an anonymous route lets callers in without a credential', async () => {
    expect(await decide('GET', '/status')).to.include({ allow: true, reason: 'anonymous' });
    expect(await decide('GET', '/status', 'tok-dev')).to.include({ allow: true, reason: 'authenticated' });
  });

  it('requires one of its groups', async () => {
    expect(await decide('GET', '/rest/admin/users', 'tok-ops')).to.include({ allow: true });
    const d = await decide('GET', '/rest/admin/users', 'tok-dev');
    expect(d).to.include({ status: 403, reason: 'group_not_allowed', stage: 'routes' });
  });

  it('requires one of its providers and every scope', async () => {
    expect(await decide('POST', '/rest/api/issue', 'tok-dev')).to.include({ allow: true });
    expect(await decide('POST', '/rest/api/issue', 'tok-reader')).to.include({ status: 403, reason: 'insufficient_scope' });
    expect(await decide('POST', '/rest/api/issue', 'tok-gh')).to.include({ status: 403, reason: 'provider_not_allowed' });
  });

  it('a read-only route refuses writes for everyone', async () => {
    expect(await decide('GET', '/rest/archive/1', 'tok-ops')).to.include({ allow: true });
    expect(await decide('DELETE', '/rest/archive/1', 'tok-ops')).to.include({ status: 403, reason: 'read_only', stage: 'routes' });
  });

  it('a route with requirements asks an anonymous caller on a public path to authenticate', async () => {
    const { pipeline: p } = kit({ paths: { public: ['/rest/**'] }, routes: [{ path: '/rest/admin/**', groups: ['ops'] }] }, [a]);
    const d = await p.decide(request({ path: '/rest/admin/x' }));
    expect(d).to.include({ status: 401, reason: 'missing_credential', stage: 'routes', challenge: true });
    expect(await p.decide(request({ path: '/rest/other' }))).to.include({ allow: true, reason: 'anonymous' });
  });

  it('a route with anonymous: false takes a public path back; requests matching no rule use the global settings', async () => {
    const { pipeline: p } = kit({ paths: { public: ['/rest/**'] }, routes: [{ name: 'closed', path: '/rest/closed/**', anonymous: false }] }, [a]);
    expect(await p.decide(request({ path: '/rest/closed/x' }))).to.include({ status: 401 });
    expect(await p.decide(request({ path: '/rest/open' }))).to.include({ allow: true });
  });

  it('a host pattern: `*.x` matches only names below x; a plain name only itself', async () => {
    const { pipeline: p } = kit(
      {
        routes: [
          { name: 'tenants', path: '/t/**', host: '*.tenant.example', groups: ['ops'] },
          { name: 'api', path: '/a/**', host: 'api.example', groups: ['ops'] },
        ],
      },
      [a],
    );
    const at = (path: string, host: string) => p.decide(request({ path, host, ...bearer('tok-dev') }));
    expect(await at('/t/x', 'a.tenant.example')).to.include({ status: 403, reason: 'group_not_allowed', stage: 'routes' });
    // Not below tenant.example: no route, so the global settings (none) let the caller through.
    for (const host of ['tenant.example', 'eviltenant.example', 'a.long.other.example.org']) expect(await at('/t/x', host), host).to.include({ allow: true });
    expect(await at('/a/x', 'api.example')).to.include({ status: 403, reason: 'group_not_allowed' });
    for (const host of ['xapi.example', 'api.example.org']) expect(await at('/a/x', host), host).to.include({ allow: true });
  });

  it('a route for GET governs HEAD too; a literal route does not govern the paths below it', async () => {
    const { pipeline: p } = kit({ routes: [{ name: 'report', methods: ['GET'], path: '/report', groups: ['ops'] }, { name: 'open', path: '/open', anonymous: true }] }, [a]);
    for (const method of ['GET', 'HEAD']) {
      expect(await p.decide(request({ method, path: '/report', ...bearer('tok-dev') })), method).to.include({ status: 403, reason: 'group_not_allowed', stage: 'routes' });
    }
    expect(await p.decide(request({ method: 'POST', path: '/report', ...bearer('tok-dev') }))).to.include({ allow: true });
    expect(await p.decide(request({ path: '/open' }))).to.include({ allow: true, reason: 'anonymous' });
    expect(await p.decide(request({ path: '/open/deeper' }))).to.include({ status: 401, reason: 'missing_credential', stage: 'authenticate' });
  });

  it('every scope a route lists is required, and the refusals say which route and what it needs', async () => {
    const { pipeline: p } = kit(
      {
        routes: [
          { name: 'admin', path: '/admin', scopes: ['read', 'admin'] },
          { name: 'corp-only', path: '/corp', providers: ['corp'] },
          { name: 'archive', path: '/archive', readOnly: true },
        ],
        paths: { public: ['/admin'] },
      },
      [a, b],
    );
    const at = (path: string, token?: string, extra = {}) => p.decide(request({ path, ...(token ? bearer(token) : {}), ...extra }));
    expect(await at('/admin', 'tok-dev')).to.include({ status: 403, reason: 'insufficient_scope', description: 'route admin requires the scopes: read admin' });
    expect(await at('/admin')).to.include({ status: 401, reason: 'missing_credential', description: 'this route requires authentication' });
    expect(await at('/corp', 'tok-gh')).to.include({ status: 403, reason: 'provider_not_allowed', description: 'route corp-only does not accept identities from this provider' });
    const corp = await at('/corp', 'tok-dev');
    expect(corp).to.include({ allow: true });
    expect(corp.trace.find((t) => t.stage === 'routes')).to.deep.equal({ stage: 'routes', outcome: 'pass', detail: 'route=corp-only' });
    const archive = await at('/archive', 'tok-dev');
    expect(archive.trace.find((t) => t.stage === 'routes')).to.deep.equal({ stage: 'routes', outcome: 'pass', detail: 'route=archive' });
    expect(await at('/archive', 'tok-dev', { methodOverride: 'DELETE' })).to.include({ status: 403, reason: 'method_override_read_only' })
      .and.to.have.property('description').that.match(/^this route may only read: /);
  });

  it('names unnamed rules route-<n> and refuses contradictory rules', async () => {
    const { pipeline: p } = kit({ routes: [{ path: '/a' }, { path: '/b', anonymous: true }] });
    expect((await p.decide(request({ path: '/b' }))).trace.find((t) => t.stage === 'paths')?.detail).to.equal('route=route-2 public');
    expect(() => kit({ routes: [{ path: '/a', anonymous: true, groups: ['x'] }] })).to.throw(/anonymous route/);
    expect(() => kit({ routes: [{ path: '/a/../b' }] })).to.throw(/path pattern/);
    expect(() => kit({ routes: [{ path: '/a', host: 'bad host' }] })).to.throw();
  });
});

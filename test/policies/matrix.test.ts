// The combined pipeline: one settings document with every stage configured, and a table of requests with the stage and reason that decide each.
import { expect } from 'chai';
import { ManualClock } from '../../core/clock.js';
import type { AccessRequest } from '../../core/access.js';
import type { Pipeline } from '../../core/pipeline.js';
import { bearer, kit, request, tableProvider } from './kit.js';

const people = tableProvider('corp', {
  'tok-dev': { username: 'dev', groups: ['devs'], scopes: ['write'] },
  'tok-viewer': { username: 'viewer', groups: ['viewers'] },
  'tok-guest': { username: 'guest', groups: ['guests'] },
  'tok-ops': { username: 'op', groups: ['ops', 'devs'] },
});

const settings = {
  ip: { allow: ['192.0.2.0/24', '2001:db8::/32'], deny: ['192.0.2.66'] },
  paths: { bypass: ['GET /health'], public: ['GET /rest/api/*/serverInfo', '/pub/**'], restrictPublic: ['/pub/secret/**'] },
  groups: { allowed: ['devs'], readOnly: ['viewers'] },
  routes: [
    { name: 'admin', path: '/rest/admin/**', groups: ['ops'] },
    { name: 'search', path: 'POST /rest/api/2/search', readOnly: false, rateLimit: { limit: 100, windowSeconds: 60 } },
    { name: 'frozen', path: '/rest/frozen/**', readOnly: true },
  ],
  rateLimit: { enabled: true, limit: 1000 },
};

type Case = [string, Partial<AccessRequest>, boolean, number, string, string];
const cases: Case[] = [
  ['bypass, from anywhere', { path: '/health', clientIp: '203.0.113.1' }, true, 200, 'bypass', 'paths'],
  ['bypass is method-qualified', { method: 'POST', path: '/health' }, false, 401, 'missing_credential', 'authenticate'],
  ['invalid path', { path: '/x/..%2f', pathError: 'encoded slash or backslash' }, false, 400, 'invalid_path', 'paths'],
  ['address outside allow', { clientIp: '198.51.100.1', ...bearer('tok-dev') }, false, 403, 'ip_not_allowed', 'ip'],
  ['denied address inside allow', { clientIp: '192.0.2.66', ...bearer('tok-dev') }, false, 403, 'ip_not_allowed', 'ip'],
  ['IPv6 allowed', { clientIp: '2001:db8::1', ...bearer('tok-dev') }, true, 200, 'authenticated', 'pipeline'],
  ['public, anonymous', { path: '/rest/api/2/serverInfo' }, true, 200, 'anonymous', 'pipeline'],
  ['public is still IP-restricted', { path: '/rest/api/2/serverInfo', clientIp: '198.51.100.1' }, false, 403, 'ip_not_allowed', 'ip'],
  ['public with a bad token', { path: '/pub/a', ...bearer('bad-x') }, false, 401, 'invalid_token', 'authenticate'],
  ['restricted public', { path: '/pub/secret/a' }, false, 401, 'missing_credential', 'authenticate'],
  ['no credential', {}, false, 401, 'missing_credential', 'authenticate'],
  ['group not allowed', bearer('tok-guest'), false, 403, 'group_not_allowed', 'groups'],
  ['viewer reads', bearer('tok-viewer'), true, 200, 'authenticated', 'pipeline'],
  ['viewer writes', { method: 'PUT', ...bearer('tok-viewer') }, false, 403, 'read_only', 'read_only'],
  ['viewer searches by POST (route lifts read-only)', { method: 'POST', path: '/rest/api/2/search', ...bearer('tok-viewer') }, true, 200, 'authenticated', 'pipeline'],
  ['admin route, not ops', { path: '/rest/admin/x', ...bearer('tok-dev') }, false, 403, 'group_not_allowed', 'routes'],
  ['admin route, ops', { path: '/rest/admin/x', ...bearer('tok-ops') }, true, 200, 'authenticated', 'pipeline'],
  ['read-only route', { method: 'DELETE', path: '/rest/frozen/1', ...bearer('tok-ops') }, false, 403, 'read_only', 'routes'],
  ['dev writes', { method: 'POST', path: '/rest/api/2/issue', ...bearer('tok-dev') }, true, 200, 'authenticated', 'pipeline'],
];

describe('policies: the combined pipeline', () => {
  // Built in a hook, not at load: mutation testing then books the stage factories to these tests (docs/testing.md).
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit(settings, [people], { clock: new ManualClock(Date.UTC(2024, 0, 1)) }).pipeline;
  });
  for (const [name, over, allow, status, reason, stage] of cases) {
    it(`${name} → ${status} ${reason} (${stage})`, async () => {
      const d = await pipeline.decide(request({ clientIp: '192.0.2.10', ...over, rawPath: over.path ?? '/x' }));
      expect({ allow: d.allow, status: d.status, reason: d.reason, stage: d.stage }).to.deep.equal({ allow, status, reason, stage });
      // What the caller reads as error_description: always some human text (never asserted word for word).
      if (!allow) expect(d.description, 'error_description').to.be.a('string').that.is.not.empty;
      const last = d.trace[d.trace.length - 1]!;
      if (stage !== 'pipeline') expect(last).to.include({ stage, outcome: allow ? 'allow' : 'deny', reason });
      else expect(d.trace.map((t) => t.stage)).to.deep.equal(['master_switch', 'paths', 'ip', 'authenticate', 'token_scopes', 'groups', 'read_only', 'routes', 'rate_limit']);
    });
  }

  it('the master switch passes everything, invalid paths included, untouched', async () => {
    const { pipeline: off } = kit({ ...settings, enabled: false }, [people]);
    for (const [, over] of cases) {
      const d = await off.decide(request({ clientIp: '192.0.2.10', ...over }));
      expect(d).to.include({ allow: true, reason: 'auth_disabled', stage: 'master_switch' });
    }
  });
});

// groups.readOnly without groups.allowed (the default): only `allowed` shuts outsiders out; read-only members may only read.
const readOnlyAlone: Case[] = [
  ['outsider reads', bearer('tok-guest'), true, 200, 'authenticated', 'pipeline'],
  ['outsider writes', { method: 'DELETE', ...bearer('tok-guest') }, true, 200, 'authenticated', 'pipeline'],
  ['viewer reads', bearer('tok-viewer'), true, 200, 'authenticated', 'pipeline'],
  ['viewer writes', { method: 'PUT', ...bearer('tok-viewer') }, false, 403, 'read_only', 'read_only'],
  ['dev writes', { method: 'POST', ...bearer('tok-dev') }, true, 200, 'authenticated', 'pipeline'],
];

describe('policies: read-only groups alone', () => {
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit({ groups: { readOnly: ['viewers'] } }, [people]).pipeline;
  });
  for (const [name, over, allow, status, reason, stage] of readOnlyAlone) {
    it(`${name} → ${status} ${reason} (${stage})`, async () => {
      const d = await pipeline.decide(request({ clientIp: '192.0.2.10', ...over }));
      expect({ allow: d.allow, status: d.status, reason: d.reason, stage: d.stage }).to.deep.equal({ allow, status, reason, stage });
      if (!allow) expect(d.description, 'error_description').to.be.a('string').that.is.not.empty;
    });
  }
});

// Method-override headers and read-only callers: a read-only group, gateway token or route refuses a read whose override names a write.
import { expect } from 'chai';

import type { AccessRequest } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { policyStages } from '../../server/runtime/compile.js';
import { silentLogger } from '../../core/logger.js';
import { composePipeline, type Pipeline } from '../../core/pipeline.js';
import { LocalRateLimiter } from '../../core/rate-limit.js';
import { settingsSchema } from '../../core/settings/schema.js';
import { generateToken, hashToken } from '../../core/tokens/format.js';
import { TokenIndex, type TokenRecord } from '../../core/tokens/token-index.js';
import { bearer, kit, request, tableProvider } from './kit.js';

const NOW = Date.UTC(2024, 0, 1);

describe('policies/method override by read-only callers', () => {
  const people = tableProvider('idp', {
    'tok-viewer': { username: 'vera', groups: ['viewers'] },
    'tok-dev': { username: 'dan', groups: ['devs'] },
  });
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit(
      {
        groups: { readOnly: ['viewers'] },
        routes: [
          { name: 'frozen', path: '/frozen/**', readOnly: true },
          { name: 'search', path: '/search', readOnly: false },
        ],
      },
      [people],
    ).pipeline;
  });
  const call = (token: string, over: Partial<AccessRequest>) => pipeline.decide(request({ ...bearer(token), ...over }));

  it('refuses a read-only group’s GET whose override names a write: 403 method_override_read_only, stage read_only', async () => {
    for (const methodOverride of ['DELETE', 'POST', 'PUT', 'PATCH', 'PURGE', '', 'GET,DELETE']) {
      const d = await call('tok-viewer', { methodOverride });
      expect(d, methodOverride).to.include({ allow: false, status: 403, reason: 'method_override_read_only', stage: 'read_only' });
      // The refusal names the headers, so a caller who never set one knows where to look.
      expect(d.description, methodOverride).to.equal('your group may only read: a method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) may name only GET, HEAD or OPTIONS');
    }
    for (const method of ['HEAD', 'OPTIONS']) {
      expect(await call('tok-viewer', { method, methodOverride: 'DELETE' }), method).to.include({ reason: 'method_override_read_only' });
    }
  });

  it('lets an override that names a read pass, and keeps read_only for a write without override', async () => {
    for (const methodOverride of ['GET', 'HEAD', 'OPTIONS', 'GET, HEAD']) expect(await call('tok-viewer', { methodOverride }), methodOverride).to.include({ allow: true });
    expect(await call('tok-viewer', { method: 'DELETE', methodOverride: 'GET' })).to.include({ status: 403, reason: 'read_only' });
  });

  it('leaves callers who may write alone, and a route with readOnly: false lifts the group’s refusal as it does for methods', async () => {
    expect(await call('tok-dev', { methodOverride: 'DELETE' })).to.include({ allow: true });
    expect(await call('tok-viewer', { path: '/search', rawPath: '/search', methodOverride: 'DELETE' })).to.include({ allow: true });
  });

  it('a read-only route refuses the override for everyone: stage routes', async () => {
    const d = await call('tok-dev', { path: '/frozen/x', rawPath: '/frozen/x', methodOverride: 'DELETE' });
    expect(d).to.include({ allow: false, status: 403, reason: 'method_override_read_only', stage: 'routes', description: 'this route may only read: a method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) may name only GET, HEAD or OPTIONS' });
    expect(await call('tok-dev', { path: '/frozen/x', rawPath: '/frozen/x', methodOverride: 'GET' })).to.include({ allow: true });
  });

  it('a read-only gateway token refuses the override: stage token_scopes', async () => {
    const token = generateToken();
    const record: TokenRecord = {
      id: '00000000000000a1', hash: hashToken(token), owner: 'ci', name: 'ro', kind: 'service', groups: ['robots'], readOnly: true,
      pathPrefixes: [], ipAllow: [], expiresAt: null, createdAt: NOW - 1, createdBy: 'admin', revision: 0,
    };
    const clock = new ManualClock(NOW);
    const stages = policyStages(settingsSchema.parse({}), [], { logger: silentLogger, clock, rateLimiter: new LocalRateLimiter(clock), tokens: TokenIndex.restore([record]) });
    const tokens = composePipeline(stages);
    const d = await tokens.decide(request({ time: NOW, ...bearer(token), methodOverride: 'DELETE' }));
    expect(d).to.include({ allow: false, status: 403, reason: 'method_override_read_only', stage: 'token_scopes', description: 'this gateway token may only read: a method-override header (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) may name only GET, HEAD or OPTIONS' });
    expect(await tokens.decide(request({ time: NOW, ...bearer(token), methodOverride: 'HEAD' }))).to.include({ allow: true });
    expect(await tokens.decide(request({ time: NOW, ...bearer(token), method: 'PUT' }))).to.include({ reason: 'token_read_only', description: 'this gateway token may only read (GET, HEAD, OPTIONS)' });
  });
});

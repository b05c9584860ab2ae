// Micro-benchmark: µs per decision of the full policy pipeline with 1,000 CIDRs and 200 route rules (bounded: a fixed number of rounds).
import type { AccessRequest } from '../core/access.js';
import { ManualClock } from '../core/clock.js';
import { policyStages } from '../server/runtime/compile.js';
import { silentLogger } from '../core/logger.js';
import { compileClientIpResolver } from '../core/net.js';
import { normalisePath } from '../core/path.js';
import { composePipeline } from '../core/pipeline.js';
import type { Provider } from '../core/provider.js';
import { LocalRateLimiter } from '../core/rate-limit.js';
import { settingsSchema } from '../core/settings/schema.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200_000);

/** A provider answering from memory, like a JWT whose keys are cached: the pipeline's cost, not the crypto's. */
const provider: Provider = {
  id: 'corp',
  kind: 'bench',
  status: () => ({ ready: true }),
  authenticate: async (c) =>
    c.secret === 'tok-viewer'
      ? { outcome: 'identity', identity: { subject: 'v', username: 'viewer', groups: ['viewers'], scopes: [], provider: 'corp' } }
      : { outcome: 'identity', identity: { subject: 's', username: 'dev', groups: ['devs', 'team-7'], scopes: ['write'], provider: 'corp', tokenId: 't1' } },
};

const allow: string[] = [];
for (let i = 0; i < 900; i++) allow.push(`${10 + (i % 100)}.${(i * 37) % 256}.${(i * 11) % 256}.0/24`);
for (let i = 0; i < 100; i++) allow.push(`2001:db8:${i.toString(16)}::/48`);
const routes = [];
for (let i = 0; i < 200; i++) {
  routes.push({
    name: `r${i}`,
    path: i % 3 === 0 ? `/rest/api/2/module${i}/**` : i % 3 === 1 ? `GET /rest/plugin${i}/*/item` : `/rest/exact/${i}`,
    ...(i % 5 === 0 ? { groups: ['devs'] } : {}),
    ...(i % 7 === 0 ? { rateLimit: { limit: 10_000_000, windowSeconds: 60 } } : {}),
  });
}
const settings = settingsSchema.parse({
  ip: { allow, deny: ['10.0.0.66', '2001:db8:1::66'] },
  paths: { bypass: ['GET /status'], public: ['GET /rest/api/*/serverInfo', '/public/**'], restrictPublic: ['/public/private/**'] },
  groups: { allowed: ['devs'], readOnly: ['viewers'] },
  routes,
  rateLimit: { enabled: true, limit: 10_000_000, windowSeconds: 60, key: 'user' },
});

const clock = new ManualClock(Date.UTC(2024, 0, 1));
const pipeline = composePipeline(policyStages(settings, [provider], { logger: silentLogger, clock, rateLimiter: new LocalRateLimiter(clock) }));

const base: AccessRequest = {
  id: 'bench', method: 'GET', rawPath: '/', path: '/', query: '', host: 'jira.example', clientIp: '11.37.11.9', peerIp: '11.37.11.9',
  time: clock.now(), credential: { scheme: 'bearer', secret: 'tok-dev' },
};
const at = (over: Partial<AccessRequest>): AccessRequest => ({ ...base, ...over, rawPath: over.path ?? base.path });

const scenarios: [string, AccessRequest][] = [
  ['authenticated GET, route #198 of 200', at({ path: '/rest/api/2/module198/issue/ABC-1' })],
  ['authenticated GET, no route matches', at({ path: '/rest/api/2/issue/ABC-1' })],
  ['authenticated GET, IPv6 client', at({ path: '/rest/exact/199', clientIp: '2001:db8:63::1' })],
  ['anonymous public GET', at({ path: '/rest/api/2/serverInfo', credential: undefined })],
  ['read-only user POST → 403', at({ method: 'POST', path: '/rest/api/2/issue', credential: { scheme: 'bearer', secret: 'tok-viewer' } })],
  ['client outside 1,000 CIDRs → 403', at({ path: '/rest/api/2/issue', clientIp: '203.0.113.9' })],
  ['bypass GET /status', at({ path: '/status', credential: undefined })],
];

async function measure(request: AccessRequest): Promise<number> {
  for (let i = 0; i < 10_000; i++) await pipeline.decide(request);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) await pipeline.decide(request);
  return Number(process.hrtime.bigint() - start) / ROUNDS / 1000;
}

function measureSync(fn: () => unknown): number {
  for (let i = 0; i < 10_000; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) fn();
  return Number(process.hrtime.bigint() - start) / ROUNDS / 1000;
}

console.log(`pipeline: ${settings.ip.allow.length} CIDRs, ${settings.routes.length} route rules, ${ROUNDS} rounds per line (Node ${process.version})`);
for (const [name, request] of scenarios) {
  const d = await pipeline.decide(request);
  console.log(`${(await measure(request)).toFixed(2).padStart(7)} µs/decision  ${name}  [${d.status} ${d.reason}]`);
}
const resolve = compileClientIpResolver(settings.ip);
const headers = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2' };
console.log(`${measureSync(() => normalisePath('/rest/api/2/%69ssue/./ABC-1//comment')).toFixed(2).padStart(7)} µs  edge: normalise a path with escapes and dot segments`);
console.log(`${measureSync(() => resolve('127.0.0.1', headers)).toFixed(2).padStart(7)} µs  edge: client address through X-Forwarded-For`);

// Provider calls throttled with bottleneck: a burst of new opaque tokens queues, fails 503 once its deadline passes, never exceeds the budget; shared through Redis.
import { expect } from 'chai';
import nock from 'nock';

import { ManualClock } from '../../../core/clock.js';
import { IdentityCache } from '../../../core/identity-cache.js';
import { silentLogger } from '../../../core/logger.js';
import type { AuthResult, CallBudget } from '../../../core/provider.js';
import githubPlugin from '../../../providers/github/index.js';
import oauth2Plugin from '../../../providers/oauth2/index.js';
import { DEFAULT_CALL_BUDGET, ProviderThrottle } from '../../../server/runtime/provider-throttle.js';
import { bearer, configOf, JSON_HEADERS } from '../../providers/opaque-kit.js';
import { eventually } from '../../support/eventually.js';
import { CLOSED_PORT } from '../../support/ports.js';
import { dropKeys, requireRedis, testKeyPrefix, TEST_REDIS_URL } from '../../support/redis.js';

const AS = 'https://auth.example.com';
const BUDGET: CallBudget = { maxConcurrent: 1, reservoir: { amount: 3, everyMs: 3_600_000 } };

/** Userinfo for any token, counting the calls that reached the provider. */
function userinfo(seen: { calls: number; inFlight: number; maxInFlight: number }) {
  return nock(AS)
    .get('/userinfo')
    .times(100)
    .delay(20)
    .reply(function () {
      seen.calls += 1;
      const token = String(this.req.headers.authorization).slice('Bearer '.length);
      return [200, { sub: token, preferred_username: token }, JSON_HEADERS];
    });
}

async function oauth2Provider(throttle: ProviderThrottle, id: string, budget: CallBudget) {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const config = await configOf(oauth2Plugin, { userinfoEndpoint: `${AS}/userinfo`, timeoutMs: 400 });
  const limited = throttle.limit(id, budget, globalThis.fetch);
  const provider = oauth2Plugin.create(config, { id, fetch: limited.fetch, clock, logger: silentLogger, cache: new IdentityCache({ clock }) });
  return { provider, release: limited.release };
}

const outcomes = (results: readonly AuthResult[]) => ({
  identities: results.filter((r) => r.outcome === 'identity').length,
  unavailable: results.filter((r) => r.outcome === 'failure' && r.code === 'provider_unavailable').length,
});

describe('server/runtime/provider-throttle', function () {
  this.timeout(30_000);
  afterEach(() => nock.cleanAll());

  it('the built-in budgets: GitHub 5,000 an hour, kinds without one 16 at once', () => {
    expect(githubPlugin.callBudget).to.deep.equal({ maxConcurrent: 10, reservoir: { amount: 5000, everyMs: 3_600_000 } });
    expect(oauth2Plugin.callBudget).to.equal(undefined);
    expect(DEFAULT_CALL_BUDGET).to.deep.equal({ maxConcurrent: 16 });
  });

  it('a burst of new tokens queues; past the deadline the rest get 503 provider_unavailable; the budget is never exceeded', async () => {
    const seen = { calls: 0, inFlight: 0, maxInFlight: 0 };
    userinfo(seen);
    const events = { queued: 0, expired: 0, called: 0 };
    const throttle = new ProviderThrottle({
      logger: silentLogger,
      observer: { queued: () => void events.queued++, expired: () => void events.expired++, called: () => void events.called++ },
    });
    const { provider, release } = await oauth2Provider(throttle, 'idp', BUDGET);
    try {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => provider.authenticate(bearer(`new-token-${i}`))));
      expect(outcomes(results)).to.deep.equal({ identities: 3, unavailable: 5 });
      expect(seen.calls).to.equal(3);
      expect(events).to.deep.equal({ queued: 7, expired: 5, called: 3 });
      const refused = results.find((r) => r.outcome === 'failure')!;
      expect(refused).to.have.property('description').that.does.not.include('new-token');
    } finally {
      release();
      await throttle.close();
    }
  });

  it('with Redis configured but away, calls are throttled on this node (with a warning), not held until their deadline', async () => {
    const seen = { calls: 0, inFlight: 0, maxInFlight: 0 };
    userinfo(seen);
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (_: unknown, msg?: string) => void warnings.push(msg ?? ''), child: () => logger } as typeof silentLogger;
    const throttle = new ProviderThrottle({ redisUrl: `redis://127.0.0.1:${CLOSED_PORT}`, logger });
    const { provider, release } = await oauth2Provider(throttle, 'idp', BUDGET);
    try {
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => provider.authenticate(bearer(`away-${i}`))));
      expect(outcomes(results)).to.deep.equal({ identities: 3, unavailable: 1 });
      expect(seen.calls).to.equal(3);
      expect(throttle.localCalls).to.equal(4);
      expect(warnings.filter((w) => /counted per node/.test(w))).to.have.length(1);
    } finally {
      release();
      await throttle.close();
    }
  });

  describe('shared through Redis', () => {
    requireRedis();
    let prefix: string;
    beforeEach(() => {
      prefix = testKeyPrefix();
    });
    afterEach(async () => {
      await dropKeys(prefix);
      await dropKeys(`b_${prefix}`);
    });

    it('two nodes draw on one budget: 3 calls in all, not 3 each', async () => {
      const seen = { calls: 0, inFlight: 0, maxInFlight: 0 };
      userinfo(seen);
      const nodes = [
        new ProviderThrottle({ redisUrl: TEST_REDIS_URL, keyPrefix: prefix, logger: silentLogger }),
        new ProviderThrottle({ redisUrl: TEST_REDIS_URL, keyPrefix: prefix, logger: silentLogger }),
      ];
      const providers = [await oauth2Provider(nodes[0]!, 'idp', BUDGET), await oauth2Provider(nodes[1]!, 'idp', BUDGET)];
      try {
        await eventually(() => nodes.every((n) => n.sharing === true), { within: 10_000, what: 'both nodes connected to Redis' });
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => providers[i % 2]!.provider.authenticate(bearer(`burst-${i}`))));
        expect(outcomes(results)).to.deep.equal({ identities: 3, unavailable: 5 });
        expect(seen.calls).to.equal(3);
        expect(nodes.map((n) => n.localCalls)).to.deep.equal([0, 0]);
      } finally {
        for (const p of providers) p.release();
        await Promise.all(nodes.map((n) => n.close()));
      }
    });
  });
});

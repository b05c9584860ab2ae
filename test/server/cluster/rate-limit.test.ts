// The cluster's shared rate limit: workers' counts batched over a (faked) IPC channel into the primary's one set of counts.
import { EventEmitter } from 'node:events';

import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { LocalRateLimiter } from '../../../core/rate-limit.js';
import { ClusterRateLimiter, RateLimitUnavailableError, answerRateLimits } from '../../../server/cluster/rate-limit.js';

/** Two ends of an IPC channel: what one sends, the other receives (asynchronously, as over a pipe). */
function channelPair() {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const sent = { a: [] as unknown[], b: [] as unknown[] };
  const end = (self: EventEmitter, other: EventEmitter, log: unknown[]) => ({
    send: (message: unknown) => {
      log.push(message);
      const copy: unknown = JSON.parse(JSON.stringify(message));
      setImmediate(() => other.emit('message', copy));
      return true;
    },
    on: (event: 'message', listener: (message: unknown) => void) => self.on(event, listener),
    off: (event: 'message', listener: (message: unknown) => void) => self.off(event, listener),
  });
  return { worker: end(a, b, sent.a), primary: end(b, a, sent.b), sent };
}

describe('ClusterRateLimiter (counts in the primary, asked over IPC)', () => {
  const policy = { limit: 10, windowMs: 60_000 };
  const clock = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 30));

  it('two workers share one count: exactly the limit is allowed across both', async () => {
    const counts = new LocalRateLimiter(clock);
    const one = channelPair();
    const two = channelPair();
    answerRateLimits(one.primary, counts);
    answerRateLimits(two.primary, counts);
    const workers = [new ClusterRateLimiter(one.worker), new ClusterRateLimiter(two.worker)];
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => workers[i % 2]!.consume('ip:10.0.0.1', policy)));
    expect(results.filter((r) => r.allowed)).to.have.length(10);
    expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0 && r.limit === 10)).to.equal(true);
    expect(results[0]!.resetAt).to.equal(Date.UTC(2024, 0, 1, 0, 1, 0));
  });

  it('sends the counts of one event-loop turn as one message', async () => {
    const pair = channelPair();
    answerRateLimits(pair.primary, new LocalRateLimiter(clock));
    const limiter = new ClusterRateLimiter(pair.worker);
    await Promise.all(Array.from({ length: 25 }, (_, i) => limiter.consume(`k${i}`, policy)));
    expect(pair.sent.a).to.have.length(1);
    expect(pair.sent.b).to.have.length(1);
    expect(limiter.waiting).to.equal(0);
  });

  it('refuses with 503 rate_limit_unavailable once the channel to the primary is gone', async () => {
    const pair = channelPair();
    const limiter = new ClusterRateLimiter(pair.worker); // nobody answers
    const waiting = limiter.consume('k', policy);
    limiter.close();
    const err = await waiting.then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(RateLimitUnavailableError);
    expect(err).to.include({ code: 'rate_limit_unavailable', status: 503 });
    const later = await limiter.consume('k', policy).then(() => undefined, (e: unknown) => e);
    expect(later).to.be.instanceOf(RateLimitUnavailableError);
  });
});

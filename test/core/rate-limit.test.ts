// LocalRateLimiter's leases: several counts taken at once, never more than the window has left, and given back only into their own window.
import { expect } from 'chai';

import { ManualClock } from '../../core/clock.js';
import { LocalRateLimiter } from '../../core/rate-limit.js';

describe('LocalRateLimiter.take / giveBack (the counts behind cluster leases)', () => {
  const limits = { limit: 10, windowMs: 60_000 };
  const end = Date.UTC(2024, 0, 1, 0, 1, 0);

  it('takes max(want, ceil(left / spread)) counts, or what is left, and counts them as spent', () => {
    const counts = new LocalRateLimiter(new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 5)));
    expect(counts.take('k', limits, 1, 4)).to.deep.equal({ granted: 3, remaining: 7, resetAt: end });
    expect(counts.take('k', limits, 5, 4)).to.deep.equal({ granted: 5, remaining: 2, resetAt: end });
    expect(counts.take('k', limits, 1, 4)).to.deep.equal({ granted: 1, remaining: 1, resetAt: end });
    expect(counts.take('k', limits, 4, 4)).to.deep.equal({ granted: 1, remaining: 0, resetAt: end });
    expect(counts.take('k', limits, 1, 4)).to.deep.equal({ granted: 0, remaining: 0, resetAt: end });
    expect(counts.consume('k', limits)).to.deep.equal({ allowed: false, limit: 10, remaining: 0, resetAt: end });
  });

  it('gives counts back to their own window only', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 5));
    const counts = new LocalRateLimiter(clock);
    expect(counts.take('k', limits, 10, 1).granted).to.equal(10);
    counts.giveBack('k', end, 4);
    expect(counts.take('k', limits, 10, 1)).to.deep.equal({ granted: 4, remaining: 0, resetAt: end });
    counts.giveBack('k', end - 60_000, 4); // an earlier window's counts: nothing
    expect(counts.take('k', limits, 1, 1).granted).to.equal(0);
    clock.set(end);
    counts.giveBack('k', end, 10); // arrives after its window ended: the new window is not touched
    expect(counts.take('k', limits, 1, 1)).to.deep.equal({ granted: 10, remaining: 0, resetAt: end + 60_000 });
  });
});

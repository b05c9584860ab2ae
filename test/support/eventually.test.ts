// The one way a test waits: tries until the check holds, returns its value, and fails with the check's own error.
import { expect } from 'chai';

import { eventually } from './eventually.js';

describe('test/support/eventually', () => {
  it('returns the first value that is not false, from a predicate or an assertion', async () => {
    let tries = 0;
    expect(await eventually(() => ++tries >= 3 && `after ${tries}`, { within: 5_000, every: 1 })).to.equal('after 3');
    let n = 0;
    const asserted = await eventually(
      async () => {
        n += 1;
        expect(n).to.equal(2);
      },
      { within: 5_000, every: 1 },
    );
    expect(asserted).to.equal(undefined);
    expect(n).to.equal(2);
  });

  it('fails with the check\'s last error, or names what never held', async () => {
    const assertion = await eventually(() => expect(1).to.equal(2), { within: 20, every: 5 }).catch((e: unknown) => e);
    expect(assertion).to.be.instanceOf(Error).and.have.property('name', 'AssertionError');
    const never = await eventually(() => false, { within: 20, every: 5, what: 'the light turning green' }).catch((e: unknown) => e);
    expect((never as Error).message).to.equal('the light turning green did not hold within 20 ms');
  });

  it('tries at least once, even with nothing left of its bound', async () => {
    expect(await eventually(() => 'now', { within: 0 })).to.equal('now');
  });
});

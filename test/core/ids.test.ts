import { expect } from 'chai';
import { timeOrderedId } from '../../core/ids.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a UUIDv7 whose first 48 bits are the time in milliseconds', () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0, 5);
    const id = timeOrderedId(now);
    expect(id).to.match(UUID_V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).to.equal(now);
  });

  it('sorts ids of later milliseconds after earlier ones, as text', () => {
    const ids = [0, 1, 255, 256, 4096, 1_700_000_000_000, 1_800_000_000_000].map((ms) => timeOrderedId(ms));
    expect([...ids].sort()).to.deep.equal(ids);
  });

  it('draws its random part anew for every id', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => timeOrderedId(1_800_000_000_000)));
    expect(ids.size).to.equal(10_000);
    for (const id of ids) expect(id).to.match(UUID_V7);
  });
});

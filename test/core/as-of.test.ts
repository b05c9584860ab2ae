// "As of": ISO 8601 times with a zone, dates, and store positions; anything else refused with invalid_as_of.
import { expect } from 'chai';

import { AsOfError, parseAsOf } from '../../core/as-of.js';

const code = (text: string): string | undefined => {
  try {
    parseAsOf(text);
  } catch (err) {
    expect(err).to.be.instanceOf(AsOfError);
    expect((err as AsOfError).status).to.equal(400);
    return (err as AsOfError).code;
  }
  return undefined;
};

describe('core/as-of', () => {
  const times: [string, string][] = [
    ['2024-05-01T10:00:00Z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00.123456Z', '2024-05-01T10:00:00.123Z'],
    ['2024-05-01T12:00+02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T08:30:00-0130', '2024-05-01T10:00:00.000Z'],
    // An unescaped + in a query string arrives as a space.
    ['2024-05-01T12:00:00 02:00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01 10:00:00z', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01', '2024-05-01T00:00:00.000Z'],
    ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59.000Z'],
  ];
  for (const [text, iso] of times) {
    it(`reads ${text} as ${iso}`, () => {
      const asOf = parseAsOf(text);
      expect(asOf.kind).to.equal('time');
      expect(asOf.kind === 'time' && new Date(asOf.time).toISOString()).to.equal(iso);
    });
  }

  it('reads digits as a store position', () => {
    expect(parseAsOf('1234')).to.deep.equal({ kind: 'position', position: '1234' });
    expect(parseAsOf('0')).to.deep.equal({ kind: 'position', position: '0' });
  });

  const refused = [
    '', 'yesterday', 'now', '2024-05-01T10:00:00', '2024-05-01T10:00', '2023-02-29', '2024-13-01', '2024-04-31T00:00:00Z',
    '2024-05-01T24:00:00Z', '2024-05-01T10:60:00Z', '2024-05-01T10:00:00+25:00', '2024-05-01T10:00:00+02:61', '1714557600000x',
    '007', '99999999999999999999', '-1', '1e3', 'Wed, 01 May 2024 10:00:00 GMT', '2024/05/01',
  ];
  for (const text of refused) {
    it(`refuses ${JSON.stringify(text)} with invalid_as_of`, () => {
      expect(code(text)).to.equal('invalid_as_of');
    });
  }
});

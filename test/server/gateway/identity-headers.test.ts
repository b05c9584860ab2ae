// Identity header values: percent-encoding that leaves ordinary names alone and lets an upstream decode any name exactly.
import { expect } from 'chai';

import { encodeGroup, encodeIdentityValue } from '../../../server/gateway/identity-headers.js';

/** What an HTTP parser keeps of a header value: printable ASCII, surrounding spaces trimmed. */
const survivesTheWire = (value: string): boolean => /^[\x20-\x7e]*$/.test(value) && value.trim() === value;

describe('server/identity-headers', () => {
  it('leaves printable ASCII names without `%` as they are', () => {
    for (const name of ['alice', 'alice@example.com', 'Jane Doe', 'DOMAIN\\jdoe', 'o\'brien', 'a+b=c', '~!#$&*()[]{}<>?/"']) {
      expect(encodeIdentityValue(name), name).to.equal(name);
    }
  });

  it('encodes `%`, non-ASCII, controls and spaces at either end, as UTF-8 escapes', () => {
    expect(encodeIdentityValue('Łukasz')).to.equal('%C5%81ukasz');
    expect(encodeIdentityValue('王小明')).to.equal('%E7%8E%8B%E5%B0%8F%E6%98%8E');
    expect(encodeIdentityValue('José')).to.equal('Jos%C3%A9');
    expect(encodeIdentityValue('100%')).to.equal('100%25');
    expect(encodeIdentityValue(' admin ')).to.equal('%20admin%20');
    expect(encodeIdentityValue(' ')).to.equal('%20');
    expect(encodeIdentityValue('a  b ')).to.equal('a  b%20');
    expect(encodeIdentityValue('eve\r\nX: y')).to.equal('eve%0D%0AX: y');
    expect(encodeIdentityValue('\u0000\u007f')).to.equal('%00%7F');
  });

  it('gives every name back through percent-decoding, and only values that survive an HTTP parser', () => {
    const names = ['Łukasz', '王小明', 'José', '😀', ' lead', 'trail ', '50% off', '%41', 'tab\there', 'a\r\nb', 'plain', '', 'x y z'];
    for (const name of names) {
      const encoded = encodeIdentityValue(name);
      expect(survivesTheWire(encoded), JSON.stringify(encoded)).to.equal(true);
      expect(decodeURIComponent(encoded), JSON.stringify(name)).to.equal(name);
    }
  });

  it('replaces a lone surrogate (not Unicode) by U+FFFD instead of failing', () => {
    expect(encodeIdentityValue('\ud800x')).to.equal('%EF%BF%BDx');
    expect(encodeGroup('g\udc00')).to.equal('g%EF%BF%BD');
  });

  it('encodes a group’s comma, so X-Portcullis-Groups splits on commas unambiguously', () => {
    expect(['a,b', 'Łódź', 'ops team'].map(encodeGroup).join(',')).to.equal('a%2Cb,%C5%81%C3%B3d%C5%BA,ops%20team');
  });
});

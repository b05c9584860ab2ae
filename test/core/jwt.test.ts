// Routing helpers for unverified JWTs: shape check and the issuer, remembered per token.
import { expect } from 'chai';
import { UnsecuredJWT } from 'jose';
import { looksLikeJwt, unverifiedIssuer } from '../../core/jwt.js';

const jwt = (iss?: string) => new UnsecuredJWT(iss === undefined ? { sub: 'x' } : { iss, sub: 'x' }).encode();

describe('core/jwt', () => {
  it('tells compact JWS shapes from opaque tokens and JWEs', () => {
    expect(looksLikeJwt(jwt('a'))).to.equal(true);
    expect(looksLikeJwt('ya29.opaque')).to.equal(false);
    expect(looksLikeJwt('a.b.c.d.e')).to.equal(false);
    expect(looksLikeJwt(`a.${'b'.repeat(20_000)}.c`)).to.equal(false);
  });

  it('answers each token with its own issuer when tokens alternate (the memo never leaks across tokens)', () => {
    const a = jwt('https://a.example');
    const b = jwt('https://b.example');
    const none = jwt();
    for (let i = 0; i < 3; i++) {
      expect(unverifiedIssuer(a)).to.equal('https://a.example');
      expect(unverifiedIssuer(a)).to.equal('https://a.example');
      expect(unverifiedIssuer(b)).to.equal('https://b.example');
      expect(unverifiedIssuer(none)).to.equal(undefined);
      expect(unverifiedIssuer('not.a.jwt!')).to.equal(undefined);
      expect(unverifiedIssuer('eyJhbGciOiJub25lIn0.bm90IGpzb24.')).to.equal(undefined);
    }
  });

  it('still answers correctly after more tokens than it remembers', () => {
    const many = Array.from({ length: 2500 }, (_, i) => jwt(`https://idp-${i}.example`));
    for (const round of [0, 1]) {
      many.forEach((token, i) => expect(unverifiedIssuer(token), `round ${round}, token ${i}`).to.equal(`https://idp-${i}.example`));
    }
  });
});

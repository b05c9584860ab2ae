// Host normalisation: one form of a host for routes, the audit and X-Forwarded-Host.
import { expect } from 'chai';

import { hostName, normaliseHost } from '../../core/host.js';

const norm = (raw: string) => {
  const r = normaliseHost(raw);
  return r.ok ? r.host : 'reject';
};

describe('core/host', () => {
  it('lower-cases, drops one trailing dot and the default ports 80 and 443', () => {
    const cases: [string, string][] = [
      ['secure.example', 'secure.example'],
      ['SECURE.EXAMPLE', 'secure.example'],
      ['secure.example.', 'secure.example'],
      ['secure.example:80', 'secure.example'],
      ['secure.example:443', 'secure.example'],
      ['Secure.Example.:443', 'secure.example'],
      ['secure.example:0080', 'secure.example'],
      ['secure.example:', 'secure.example'],
      ['secure.example:8443', 'secure.example:8443'],
      ['secure.example:08443', 'secure.example:8443'],
      ['127.0.0.1:8080', '127.0.0.1:8080'],
      ['[::1]', '[::1]'],
      ['[2001:DB8::1]:80', '[2001:db8::1]'],
      ['[::1]:8080', '[::1]:8080'],
      ['my_service:3000', 'my_service:3000'],
      ['localhost', 'localhost'],
      ['', ''],
    ];
    for (const [raw, want] of cases) expect(norm(raw), raw).to.equal(want);
  });

  it('refuses what is not one host: lists, user info, paths, escapes, empty labels, bad ports, non-ASCII', () => {
    for (const raw of [
      'a.example, b.example', 'a.example b.example', 'user@a.example', 'a.example/x', 'a%2eexample', 'a..example', 'a.example..',
      '.a.example', '.', 'a.example:65536', 'a.example:123456', 'a.example:x', 'a.example:80:80', '[::1', '[::1]x', '[zz::1]',
      'ä.example', 'a.example\\x', `${'a'.repeat(300)}.example`,
    ]) {
      expect(norm(raw), raw).to.equal('reject');
    }
  });

  it('gives the same answer twice in a row (the last answer is kept)', () => {
    expect(normaliseHost('A.example.')).to.deep.equal({ ok: true, host: 'a.example' });
    expect(normaliseHost('A.example.')).to.deep.equal({ ok: true, host: 'a.example' });
    expect(normaliseHost('a..example').ok).to.equal(false);
    expect(normaliseHost('a..example').ok).to.equal(false);
  });

  it('hostName drops the port of a normalised host', () => {
    expect(hostName('api.example:8443')).to.equal('api.example');
    expect(hostName('api.example')).to.equal('api.example');
    expect(hostName('[::1]:8080')).to.equal('[::1]');
    expect(hostName('[::1]')).to.equal('[::1]');
  });
});

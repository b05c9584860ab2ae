// Address lists (IPv4, IPv6, mapped, large lists) and the client-address resolver against forwarded-header spoofing.
import { expect } from 'chai';
import { canonicalAddress, compileAddressList, compileAddresses, compileClientIpResolver, parseIp, type ClientIpSettings, type HeaderBag } from '../../core/net.js';

describe('core/net', () => {
  describe('parseIp', () => {
    it('reads dotted-quad IPv4 and IPv6, IPv4-mapped IPv6 as IPv4, and drops an IPv6 zone', () => {
      expect(parseIp('192.0.2.1')?.text).to.equal('192.0.2.1');
      expect(parseIp('2001:DB8:0:0:0:0:0:1')?.text).to.equal('2001:db8::1');
      expect(parseIp('::ffff:192.0.2.1')?.text).to.equal('192.0.2.1');
      expect(parseIp('::ffff:c000:201')?.text).to.equal('192.0.2.1');
      expect(parseIp('fe80::1%eth0')?.text).to.equal('fe80::1');
    });

    it('refuses forms proxies never write (octal, hex, short, ports, names)', () => {
      for (const bad of ['010.0.0.1', '0x7f.0.0.1', '127.1', '2130706433', '1.2.3.4.5', '256.1.1.1', '1.2.3', '', ' 1.2.3.4', '1.2.3.4:80',
        '[::1]', 'localhost', 'unknown', '::1%', '%eth0', 'fe80::1%', '1.2.3.-1', '1..2.3', '1a.2.3.4', '1.2.3.4a', '1.2.3.']) {
        expect(parseIp(bad), bad).to.equal(undefined);
      }
    });
  });

  describe('canonicalAddress', () => {
    it('gives an address its canonical text, and anything else back as it came', () => {
      expect(canonicalAddress('::ffff:10.0.0.1')).to.equal('10.0.0.1');
      expect(canonicalAddress('2001:DB8::1')).to.equal('2001:db8::1');
      expect(canonicalAddress('unix-socket')).to.equal('unix-socket');
    });
  });

  describe('compileAddresses', () => {
    it('matches IPv4 and IPv6 addresses and CIDRs', () => {
      const list = compileAddresses(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1']);
      for (const ip of ['10.1.2.3', '10.255.255.255', '192.0.2.7', '2001:db8:ffff::1', '::1', '::ffff:10.0.0.1']) expect(list.matches(ip), ip).to.equal(true);
      for (const ip of ['11.0.0.0', '9.255.255.255', '192.0.2.8', '2001:db9::1', '::2', 'nonsense', '']) expect(list.matches(ip), ip).to.equal(false);
    });

    it('treats IPv4-mapped IPv6 CIDRs as IPv4, and keeps IPv4 and IPv6 apart otherwise', () => {
      const list = compileAddresses(['::ffff:10.0.0.0/104']);
      expect(list.matches('10.9.9.9')).to.equal(true);
      expect(list.matches('11.0.0.1')).to.equal(false);
      expect(compileAddresses(['0.0.0.0/0']).matches('2001:db8::1')).to.equal(false);
      expect(compileAddresses(['::/0']).matches('2001:db8::1')).to.equal(true);
      expect(compileAddresses(['::/0']).matches('192.0.2.1')).to.equal(false);
    });

    it('merges overlapping and adjacent ranges and finds every member of a large list', () => {
      const entries: string[] = [];
      for (let i = 0; i < 1000; i++) entries.push(`${10 + (i % 200)}.${i % 256}.${(i * 7) % 256}.0/24`);
      entries.push('172.16.0.0/12', '172.16.5.0/24', '172.31.255.255');
      const list = compileAddresses(entries);
      for (let i = 0; i < 1000; i++) expect(list.matches(`${10 + (i % 200)}.${i % 256}.${(i * 7) % 256}.77`)).to.equal(true);
      expect(list.matches('172.20.1.1')).to.equal(true);
      expect(list.matches('172.32.0.0')).to.equal(false);
      expect(list.matches('9.0.0.1')).to.equal(false);
      expect(list.matches('250.0.0.1')).to.equal(false);
    });

    it('refuses an entry that is not an address or CIDR, naming it', () => {
      expect(() => compileAddresses(['10.0.0.0/33'])).to.throw(TypeError, 'not a CIDR: 10.0.0.0/33');
      expect(() => compileAddresses(['nope'])).to.throw(TypeError, 'not an address: nope');
    });

    it('matches every bit of an IPv6 address, not only its upper half or its zero groups', () => {
      const exact = compileAddresses(['2001:db8:1:2:3:4:5:6']);
      expect(exact.matches('2001:db8:1:2:3:4:5:6')).to.equal(true);
      for (const ip of ['2001:db8:1:2:3:4:5:7', '2001:db8:1:2:3:4:6:6', '2001:db8:1:2:3:5:5:6', '2001:db8:1:2:4:4:5:6']) expect(exact.matches(ip), ip).to.equal(false);
      const net = compileAddresses(['2001:db8:1:2:3:4:5:0/112']);
      expect(net.matches('2001:db8:1:2:3:4:5:ffff')).to.equal(true);
      expect(net.matches('2001:db8:1:2:3:4:6:0')).to.equal(false);
      expect(net.matches('2001:db8:1:2:3:4:4:ffff')).to.equal(false);
    });

    it('a range inside another, in either order, does not hide the rest of the larger one', () => {
      for (const entries of [['10.0.0.0/24', '10.0.0.0/16'], ['10.0.0.0/16', '10.0.5.0/24'], ['10.0.5.0/24', '10.0.0.0/16']]) {
        const list = compileAddresses(entries);
        for (const ip of ['10.0.0.1', '10.0.5.1', '10.0.6.1', '10.0.255.255']) expect(list.matches(ip), `${entries.join(' ')}: ${ip}`).to.equal(true);
        expect(list.matches('10.1.0.0'), entries.join(' ')).to.equal(false);
      }
      for (const entries of [['2001:db8::/32', '2001:db8:5::/48'], ['2001:db8:5::/48', '2001:db8::/32'], ['2001:db8::/48', '2001:db8::/32']]) {
        const list = compileAddresses(entries);
        for (const ip of ['2001:db8::1', '2001:db8:5::1', '2001:db8:6::1', '2001:db8:ffff::1']) expect(list.matches(ip), `${entries.join(' ')}: ${ip}`).to.equal(true);
        expect(list.matches('2001:db9::'), entries.join(' ')).to.equal(false);
      }
    });

    it('finds every entry of a list given in no particular order', () => {
      const list = compileAddresses(['192.0.2.9', '192.0.2.1', '10.0.0.0/8', '192.0.2.5', '172.16.0.0/12', '192.0.2.3']);
      for (const ip of ['192.0.2.9', '192.0.2.1', '10.200.0.1', '192.0.2.5', '172.20.0.1', '192.0.2.3']) expect(list.matches(ip), ip).to.equal(true);
      for (const ip of ['192.0.2.2', '192.0.2.4', '192.0.2.6', '192.0.2.8', '192.0.2.10', '11.0.0.0', '172.32.0.0']) expect(list.matches(ip), ip).to.equal(false);
    });

    it('reads ::ffff:0:0/96 as every IPv4 address, and a shorter mapped prefix as IPv6 only', () => {
      expect(compileAddresses(['::ffff:0:0/96']).matches('203.0.113.1')).to.equal(true);
      expect(compileAddresses(['::ffff:0:0/88']).matches('192.0.2.1')).to.equal(false);
    });

    it('accepts an IPv6 entry with a zone id, matching the address without it', () => {
      expect(compileAddresses(['fe80::1%eth0']).matches('fe80::1')).to.equal(true);
    });

    it('an empty predicate list matches nothing', () => {
      expect(compileAddressList([])('10.0.0.1')).to.equal(false);
      expect(compileAddressList(['10.0.0.0/8'])('10.0.0.1')).to.equal(true);
      expect(compileAddressList(['10.0.0.0/8'])('11.0.0.1')).to.equal(false);
    });
  });

  describe('compileClientIpResolver: forwarded-header spoofing', () => {
    // Compiled in each test, not while the file loads: mutation testing can only switch code a test runs.
    const resolver = (settings: ClientIpSettings) => (peer: string, headers: HeaderBag) => compileClientIpResolver(settings)(peer, headers);
    const xff = resolver({ trustedProxies: ['10.0.0.0/8', '::1/128', 'fd00::/8'], realIpHeader: 'x-forwarded-for' });
    const fwd = resolver({ trustedProxies: ['10.0.0.0/8', '::1/128'], realIpHeader: 'forwarded' });
    const real = resolver({ trustedProxies: ['10.0.0.0/8'], realIpHeader: 'X-Real-IP' });
    const none = resolver({ trustedProxies: [], realIpHeader: 'x-forwarded-for' });
    const spoof: HeaderBag = {
      'x-forwarded-for': '1.1.1.1',
      'x-real-ip': '2.2.2.2',
      forwarded: 'for=3.3.3.3',
      'true-client-ip': '4.4.4.4',
      'cf-connecting-ip': '5.5.5.5',
    };

    const cases: [string, (peer: string, h: HeaderBag) => string, string, HeaderBag, string][] = [
      // an untrusted peer: every forwarding header is ignored, whatever the configured one
      ['untrusted peer, X-Forwarded-For', xff, '203.0.113.9', spoof, '203.0.113.9'],
      ['untrusted peer, Forwarded', fwd, '203.0.113.9', spoof, '203.0.113.9'],
      ['untrusted peer, X-Real-IP', real, '203.0.113.9', spoof, '203.0.113.9'],
      ['untrusted IPv6 peer', xff, '2001:db8::9', spoof, '2001:db8::9'],
      ['untrusted mapped peer', xff, '::ffff:203.0.113.9', spoof, '203.0.113.9'],
      ['no trusted proxies configured, loopback peer', none, '127.0.0.1', spoof, '127.0.0.1'],
      ['no trusted proxies configured, a peer that is not an address', none, 'unix-socket', spoof, 'unix-socket'],
      ['a peer that is not an address', xff, 'unix-socket', spoof, 'unix-socket'],
      // a trusted peer: only the configured header, right to left
      ['trusted peer reads only X-Forwarded-For', xff, '10.0.0.1', spoof, '1.1.1.1'],
      ['trusted peer reads only Forwarded', fwd, '10.0.0.1', spoof, '3.3.3.3'],
      ['trusted peer reads only X-Real-IP', real, '10.0.0.1', spoof, '2.2.2.2'],
      ['X-Forwarded-For ignored when Forwarded is configured', fwd, '10.0.0.1', { 'x-forwarded-for': '1.1.1.1' }, '10.0.0.1'],
      ['client-prepended hops are skipped', xff, '10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 7.7.7.7, 198.51.100.7' }, '198.51.100.7'],
      ['many hops of trusted proxies', xff, '10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.4, 10.0.0.3, 10.0.0.2' }, '198.51.100.7'],
      ['100 hops', xff, '10.0.0.1', { 'x-forwarded-for': [...Array(99).fill('6.6.6.6'), '198.51.100.7'].join(', ') }, '198.51.100.7'],
      ['trusted-only chain ends at the leftmost', xff, '10.0.0.1', { 'x-forwarded-for': '10.0.0.3, 10.0.0.2' }, '10.0.0.3'],
      ['spoofed trusted address on the left', xff, '10.0.0.1', { 'x-forwarded-for': '10.9.9.9, 198.51.100.7' }, '198.51.100.7'],
      ['repeated header lines (joined by Node)', xff, '10.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '198.51.100.7'] }, '198.51.100.7'],
      ['empty header', xff, '10.0.0.1', { 'x-forwarded-for': '' }, '10.0.0.1'],
      // malformed hops stop the walk at the last trusted address
      ['malformed rightmost hop', xff, '10.0.0.1', { 'x-forwarded-for': '6.6.6.6, not-an-ip' }, '10.0.0.1'],
      ['malformed hop behind a trusted one', xff, '10.0.0.1', { 'x-forwarded-for': '6.6.6.6, bogus, 10.0.0.2' }, '10.0.0.2'],
      ['empty hop', xff, '10.0.0.1', { 'x-forwarded-for': '6.6.6.6,,' }, '10.0.0.1'],
      ['octal-looking hop', xff, '10.0.0.1', { 'x-forwarded-for': '010.0.0.1' }, '10.0.0.1'],
      ['hex hop', xff, '10.0.0.1', { 'x-forwarded-for': '0x0a000001' }, '10.0.0.1'],
      ['out-of-range hop', xff, '10.0.0.1', { 'x-forwarded-for': '300.1.1.1' }, '10.0.0.1'],
      ['hop with CR/LF junk', xff, '10.0.0.1', { 'x-forwarded-for': '1.1.1.1\r\nX: y' }, '10.0.0.1'],
      ['unknown', xff, '10.0.0.1', { 'x-forwarded-for': 'unknown' }, '10.0.0.1'],
      // ports, brackets, IPv6 and zones
      ['IPv4 with port', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7:4711' }, '198.51.100.7'],
      ['bracketed IPv6 with port', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:4711' }, '2001:db8::7'],
      ['bare IPv6', xff, '10.0.0.1', { 'x-forwarded-for': '2001:DB8::7' }, '2001:db8::7'],
      ['IPv6 with zone', xff, '10.0.0.1', { 'x-forwarded-for': 'fe80::7%eth0' }, 'fe80::7'],
      ['IPv6 with a bogus zone-only value', xff, '10.0.0.1', { 'x-forwarded-for': '%eth0' }, '10.0.0.1'],
      ['IPv6 zone hiding a trusted address', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7, fd00::1%lo' }, '198.51.100.7'],
      ['broken bracket', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7' }, '10.0.0.1'],
      ['bracketed IPv6 without port', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]' }, '2001:db8::7'],
      ['bracket, junk, then a port', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]x:80' }, '10.0.0.1'],
      ['bracket, a port, then junk', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]:80x' }, '10.0.0.1'],
      ['IPv4 with a port that is not a number', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7:http' }, '10.0.0.1'],
      ['IPv4, junk before the port digits', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7:x80' }, '10.0.0.1'],
      ['IPv4, junk after the port digits', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7:80x' }, '10.0.0.1'],
      ['IPv4 with a six-digit port', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.7:123456' }, '10.0.0.1'],
      ['quoted IPv4', xff, '10.0.0.1', { 'x-forwarded-for': '"198.51.100.7"' }, '198.51.100.7'],
      ['a stray opening quote', xff, '10.0.0.1', { 'x-forwarded-for': '"198.51.100.12' }, '10.0.0.1'],
      ['a stray closing quote', xff, '10.0.0.1', { 'x-forwarded-for': '198.51.100.12"' }, '10.0.0.1'],
      ['bracket with junk after', xff, '10.0.0.1', { 'x-forwarded-for': '[2001:db8::7]x' }, '10.0.0.1'],
      ['mapped IPv6 hop', xff, '10.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.7' }, '198.51.100.7'],
      ['IPv6 trusted peer', xff, '::1', { 'x-forwarded-for': '198.51.100.7' }, '198.51.100.7'],
      // RFC 7239
      ['Forwarded, quoted IPv6 with port', fwd, '10.0.0.1', { forwarded: 'for="[2001:db8:cafe::17]:4711"' }, '2001:db8:cafe::17'],
      ['Forwarded, several elements and params', fwd, '10.0.0.1', { forwarded: 'for=6.6.6.6;proto=https, For=198.51.100.7;by=10.0.0.1' }, '198.51.100.7'],
      ['Forwarded, element without for=', fwd, '10.0.0.1', { forwarded: 'for=6.6.6.6, proto=https' }, '10.0.0.1'],
      ['Forwarded, for= after another parameter', fwd, '10.0.0.1', { forwarded: 'proto=https;for=198.51.100.7' }, '198.51.100.7'],
      ['Forwarded, a parameter without a value before for=', fwd, '10.0.0.1', { forwarded: 'secret;forx;for=198.51.100.7' }, '198.51.100.7'],
      ['Forwarded, quoted IPv6 without port', fwd, '10.0.0.1', { forwarded: 'for="[2001:db8::7]"' }, '2001:db8::7'],
      ['Forwarded, obfuscated identifier', fwd, '10.0.0.1', { forwarded: 'for=_hidden' }, '10.0.0.1'],
      ['Forwarded, unknown', fwd, '10.0.0.1', { forwarded: 'for=unknown' }, '10.0.0.1'],
      ['Forwarded, trusted hops skipped', fwd, '10.0.0.1', { forwarded: 'for=198.51.100.7, for=10.0.0.2' }, '198.51.100.7'],
      // a single-address header: repeated values are read like a list too
      ['X-Real-IP appended to by the proxy', real, '10.0.0.1', { 'x-real-ip': '6.6.6.6, 198.51.100.7' }, '198.51.100.7'],
      ['X-Real-IP malformed', real, '10.0.0.1', { 'x-real-ip': 'evil' }, '10.0.0.1'],
    ];
    for (const [name, resolve, peer, headers, expected] of cases) {
      it(`${name} → ${expected}`, () => {
        expect(resolve(peer, headers)).to.equal(expected);
      });
    }
  });
});

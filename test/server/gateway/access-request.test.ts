// Credential parsing and client-address resolution at the edge.
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import { compileAddressList, compileClientIpResolver, type HeaderBag } from '../../../core/net.js';
import { parseAuthorization, toAccessRequest } from '../../../server/gateway/access-request.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('server/access-request', () => {
  describe('parseAuthorization', () => {
    it('reads Bearer and Basic credentials', () => {
      expect(parseAuthorization('Bearer abc.def-ghi_~+/=')).to.deep.equal({ credential: { scheme: 'bearer', secret: 'abc.def-ghi_~+/=' } });
      expect(parseAuthorization('bearer  tok')).to.deep.equal({ credential: { scheme: 'bearer', secret: 'tok' } });
      expect(parseAuthorization(`Basic ${b64('ann:p:a:ss')}`)).to.deep.equal({
        credential: { scheme: 'basic', username: 'ann', secret: 'p:a:ss' },
      });
    });

    it('has no credential when the header is absent or empty', () => {
      expect(parseAuthorization(undefined)).to.deep.equal({});
      expect(parseAuthorization('')).to.deep.equal({});
    });

    const bad: [string, string][] = [
      ['Bearer', 'malformed bearer credentials'],
      ['Bearer a b', 'malformed bearer credentials'],
      ['Bearer tok"en', 'malformed bearer credentials'],
      ['Basic !!!', 'malformed basic credentials'],
      ['Basic, Bearer x', 'malformed basic credentials'],
      [`Basic ${b64('no-colon')}`, 'malformed basic credentials'],
      [`Basic ${b64(':nouser')}`, 'malformed basic credentials'],
      [`Basic ${b64('a\u0000b:c')}`, 'malformed basic credentials'],
      [`Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, 'malformed basic credentials'],
      ['Negotiate abc', 'unsupported authorization scheme'],
      ['Digest username="x"', 'unsupported authorization scheme'],
      [`Bearer ${'a'.repeat(17 * 1024)}`, 'authorization header too large'],
    ];
    for (const [header, error] of bad) {
      it(`refuses ${JSON.stringify(header.slice(0, 30))} without echoing it`, () => {
        const parsed = parseAuthorization(header);
        expect(parsed).to.deep.equal({ error });
      });
    }
  });

  describe('client address (compiled resolver, X-Forwarded-For)', () => {
    const trusted = compileAddressList(['10.0.0.0/8', '::1/128']);
    const resolver = compileClientIpResolver({ trustedProxies: ['10.0.0.0/8', '::1/128'], realIpHeader: 'x-forwarded-for' });
    const resolveClientIp = (peer: string, xff: string | string[] | undefined) => resolver(peer, { 'x-forwarded-for': xff } as HeaderBag);
    it('ignores X-Forwarded-For from an untrusted peer', () => {
      expect(resolveClientIp('203.0.113.9', '1.2.3.4')).to.equal('203.0.113.9');
    });
    it('takes the rightmost untrusted hop from a trusted peer', () => {
      expect(resolveClientIp('10.0.0.1', '6.6.6.6, 198.51.100.7, 10.0.0.2')).to.equal('198.51.100.7');
      expect(resolveClientIp('::1', ['6.6.6.6', '198.51.100.7'])).to.equal('198.51.100.7');
    });
    it('stops at a malformed hop and keeps the last trusted address', () => {
      expect(resolveClientIp('10.0.0.1', '198.51.100.7, not-an-ip, 10.0.0.2')).to.equal('10.0.0.2');
    });
    it('treats IPv4-mapped IPv6 as IPv4', () => {
      expect(resolveClientIp('10.0.0.1', '::ffff:198.51.100.7')).to.equal('198.51.100.7');
      expect(trusted('::ffff:10.1.2.3')).to.equal(true);
      expect(resolveClientIp('::ffff:10.0.0.1', '198.51.100.7')).to.equal('198.51.100.7');
    });
    it('falls back to the peer when every hop is trusted', () => {
      expect(resolveClientIp('10.0.0.1', '10.0.0.3, 10.0.0.2')).to.equal('10.0.0.3');
    });
  });

  describe('toAccessRequest: the normalised path', () => {
    const req = (authorization?: string) => ({ headers: authorization ? { authorization } : {} }) as unknown as IncomingMessage;
    const build = (url: string) => toAccessRequest(req(), 'r1', { method: 'get', url, host: 'h' }, '192.0.2.1', '192.0.2.1', 0);
    it('judges the normalised path, keeps the raw one and the query apart', () => {
      const r = build('/a/./b/../%7Ec//d?x=/../y');
      expect(r).to.include({ method: 'GET', rawPath: '/a/./b/../%7Ec//d', path: '/a/~c/d', query: 'x=/../y' });
      expect(r.pathError).to.equal(undefined);
    });
    it('keeps a refused path raw and says why', () => {
      const r = build('/a/%2e%2e%2fadmin');
      expect(r).to.include({ path: '/a/%2e%2e%2fadmin' });
      expect(r.pathError).to.be.a('string');
    });
  });
});

// The IP stage: allow and deny lists, IPv4 and IPv6, mapped addresses, deny winning over allow.
import { expect } from 'chai';
import { bearer, kit, request, tableProvider } from './kit.js';

const alice = tableProvider('p', { 'tok-alice': { username: 'alice' } });
const from = (clientIp: string) => request({ clientIp, ...bearer('tok-alice') });

describe('policies/ip-restriction', () => {
  it('passes everyone when no list is configured', async () => {
    const { pipeline } = kit({}, [alice]);
    expect(await pipeline.decide(from('203.0.113.1'))).to.include({ allow: true });
  });

  it('admits only the allow list (IPv4 and IPv6), answering 403 ip_not_allowed otherwise', async () => {
    const { pipeline } = kit({ ip: { allow: ['192.0.2.0/24', '2001:db8:1::/48', '198.51.100.7'] } }, [alice]);
    for (const ip of ['192.0.2.1', '192.0.2.255', '2001:db8:1::1', '2001:db8:1:ffff::1', '198.51.100.7', '::ffff:192.0.2.9']) {
      expect(await pipeline.decide(from(ip)), ip).to.include({ allow: true });
    }
    for (const ip of ['192.0.3.1', '2001:db8:2::1', '198.51.100.8', '::1', 'unix-socket']) {
      const d = await pipeline.decide(from(ip));
      expect(d, ip).to.include({ allow: false, status: 403, reason: 'ip_not_allowed', stage: 'ip' });
    }
  });

  it('refuses the deny list, which wins over the allow list', async () => {
    const { pipeline } = kit({ ip: { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.6.6.0/24', '2001:db8:bad::/48'] } }, [alice]);
    expect(await pipeline.decide(from('10.1.1.1'))).to.include({ allow: true });
    expect(await pipeline.decide(from('10.6.6.6'))).to.include({ reason: 'ip_not_allowed' });
    expect(await pipeline.decide(from('2001:db8:bad::1'))).to.include({ reason: 'ip_not_allowed' });
    expect(await pipeline.decide(from('2001:db8:900d::1'))).to.include({ allow: true });
  });

  it('with only a deny list, admits everyone else, including addresses it cannot parse', async () => {
    const { pipeline } = kit({ ip: { deny: ['::/0'] } }, [alice]);
    expect(await pipeline.decide(from('2001:db8::1'))).to.include({ reason: 'ip_not_allowed' });
    expect(await pipeline.decide(from('192.0.2.1'))).to.include({ allow: true });
    expect(await pipeline.decide(from('not-an-ip'))).to.include({ allow: true });
  });

  it('runs before authentication: a refused address learns nothing about its token', async () => {
    const { pipeline } = kit({ ip: { allow: ['10.0.0.0/8'] } }, [alice]);
    const d = await pipeline.decide(request({ clientIp: '192.0.2.1', ...bearer('bad-1') }));
    expect(d).to.include({ reason: 'ip_not_allowed' });
    expect(d.trace.map((t) => t.stage)).to.deep.equal(['master_switch', 'paths', 'ip']);
  });

  it('does not apply to bypass paths (the bypass stage runs first)', async () => {
    const { pipeline } = kit({ ip: { allow: ['10.0.0.0/8'] }, paths: { bypass: ['/health'] } }, [alice]);
    expect(await pipeline.decide(request({ path: '/health', clientIp: '192.0.2.1' }))).to.include({ reason: 'bypass' });
  });
});

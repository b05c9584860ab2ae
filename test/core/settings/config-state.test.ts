// The configuration fold: settings patches, providers, admin token; replays give the same state.
import { expect } from 'chai';
import { evolve, initialConfigState, type ConfigState } from '../../../core/settings/config-state.js';
import type { RecordedEvent, Position } from '../../../core/store/port.js';

let position = 0;
const event = (stream: string, revision: number, type: string, data: unknown): RecordedEvent => ({
  id: `e${++position}`,
  type,
  stream,
  revision,
  position: String(position) as Position,
  time: '2026-11-23T00:00:00.000Z',
  data,
  metadata: {},
  prevHash: '',
  hash: '',
});

const fold = (events: RecordedEvent[]): ConfigState => events.reduce(evolve, initialConfigState);

describe('core/settings/config-state', () => {
  it('starts at revision 0 with defaults', () => {
    expect(initialConfigState.settingsRevision).to.equal(0);
    expect(initialConfigState.settings.enabled).to.equal(true);
    expect(initialConfigState.settings.audit.enabled).to.equal(true);
    expect(Object.isFrozen(initialConfigState.settings.ip.trustedProxies)).to.equal(true);
  });

  it('replays settings stored before route names had to be unique as they applied', () => {
    const routes = [{ name: 'api', path: '/a/**', groups: ['devs'] }, { name: 'api', path: '/b/**' }];
    const s = fold([event('settings', 0, 'SettingsChanged', { patch: { routes } })]);
    expect(s.settings.routes.map((r) => [r.name, r.path, r.groups])).to.deep.equal([['api', '/a/**', ['devs']], ['api', '/b/**', undefined]]);
  });

  it('applies merge patches in order and counts revisions', () => {
    const s = fold([
      event('settings', 0, 'SettingsChanged', { patch: { enabled: false, audit: { enabled: false } } }),
      event('settings', 1, 'SettingsChanged', { patch: { enabled: null } }),
    ]);
    expect(s.settingsRevision).to.equal(2);
    expect(s.document).to.deep.equal({ audit: { enabled: false } });
    expect(s.settings.enabled).to.equal(true);
    expect(s.settings.audit.enabled).to.equal(false);
    expect(Object.isFrozen(s.settings)).to.equal(true);
  });

  it('keeps the last valid settings when a stored document no longer validates', () => {
    const s = fold([
      event('settings', 0, 'SettingsChanged', { patch: { enabled: false } }),
      event('settings', 1, 'SettingsChanged', { patch: { retiredKey: 1 } }),
    ]);
    expect(s.settings.enabled).to.equal(false);
    expect(s.settingsRevision).to.equal(2);
  });

  it('adds, replaces and removes providers', () => {
    const cfg = { id: 'p1', kind: 'oidc', config: { issuer: 'https://a' }, enabled: true, order: 0 };
    const s1 = fold([event('provider-p1', 0, 'ProviderConfigured', cfg)]);
    expect(s1.providers.p1).to.include({ kind: 'oidc', revision: 1 });
    const s2 = evolve(s1, event('provider-p1', 1, 'ProviderConfigured', { ...cfg, enabled: false }));
    expect(s2.providers.p1).to.include({ enabled: false, revision: 2 });
    const s3 = evolve(s2, event('provider-p1', 2, 'ProviderRemoved', { id: 'p1' }));
    expect(s3.providers).to.deep.equal({});
    expect(s2.providers.p1?.enabled, 'earlier states are not changed').to.equal(false);
  });

  it('records the admin token hash and ignores unknown events', () => {
    const s = fold([event('admin', 0, 'AdminTokenCreated', { sha256: 'ab'.repeat(32) }), event('x', 0, 'SomethingElse', {})]);
    expect(s.adminTokenSha256).to.equal('ab'.repeat(32));
  });
});

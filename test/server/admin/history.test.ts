// GET /api/v1/history: configuration and token events newest first, never decisions; readable diffs with secrets masked; cursor paging and filters.
import { expect } from 'chai';
import type request from 'supertest';

import { MASK } from '../../../core/secrets.js';
import { buildHistory, HOUR, startKit, type Built, type Kit } from './history-kit.js';
import { FIXED_TIME } from '../fixtures.js';

interface Entry {
  position: string;
  time: string;
  type: string;
  actor: string | null;
  sourceIp: string | null;
  correlationId: string | null;
  summary: string;
  changes: { path: string; old?: unknown; new?: unknown }[];
  token?: { id: string; owner?: string; name?: string };
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('server/admin history', () => {
  let kit: Kit;
  let built: Built;

  beforeEach(async () => {
    kit = await startKit();
    built = await buildHistory(kit);
  });

  afterEach(async () => {
    await kit.close();
  });

  const entries = (res: request.Response): Entry[] => {
    expect(res.status, res.text).to.equal(200);
    return res.body.entries as Entry[];
  };

  it('lists every configuration change and token event, newest first, and no access decision', async () => {
    const res = await kit.call('/api/v1/history');
    const list = entries(res);
    expect(list.map((e) => e.type)).to.deep.equal([
      'SettingsChanged',
      'ProviderRemoved',
      'TokenRevoked',
      'TokenIssued',
      'ProviderConfigured',
      'SettingsChanged',
      'TokenIssued',
      'ProviderConfigured',
      'ProviderConfigured',
      'SettingsChanged',
    ]);
    expect(res.body.next).to.equal(null);
    expect(list.map((e) => e.time)).to.deep.equal(
      ['settings3', 'removeCorp', 'revoke', 'bob', 'keysAgain', 'settings2', 'alice', 'corp', 'keys', 'settings1'].map((k) => iso(built.at[k]!)),
    );
    const byAdmin = list.filter((e) => e.type !== 'TokenIssued' || e.token?.owner === 'alice');
    for (const e of byAdmin) {
      expect(e).to.include({ actor: 'admin', sourceIp: '127.0.0.1' });
      expect(e.correlationId).to.be.a('string');
    }
    expect(list.find((e) => e.token?.owner === 'bob')).to.include({ actor: 'cli', sourceIp: null });
  });

  it('shows a settings change as the paths its merge patch changed, against the document before it', async () => {
    const settings = entries(await kit.call('/api/v1/history?type=SettingsChanged'));
    expect(settings.map((e) => e.changes)).to.deep.equal([
      [{ path: 'rateLimit.enabled', old: true }, { path: 'rateLimit.limit', old: 50 }],
      [{ path: 'rateLimit.limit', old: 100, new: 50 }, { path: 'ip.allow', new: ['10.0.0.0/8'] }],
      [{ path: 'rateLimit.enabled', new: true }, { path: 'rateLimit.limit', new: 100 }],
    ]);
    expect(settings.map((e) => e.summary)).to.deep.equal(['settings revision 3: 2 changes', 'settings revision 2: 2 changes', 'settings revision 1: 2 changes']);
  });

  it('shows a provider change field by field, a secret as the mask whether added, changed or removed', async () => {
    const providers = entries(await kit.call('/api/v1/history?type=ProviderConfigured,ProviderRemoved'));
    const [removed, changed, corp, added] = providers;
    expect(added!.changes).to.deep.equal([
      { path: 'kind', new: 'jwt-key' },
      { path: 'enabled', new: true },
      { path: 'order', new: 0 },
      { path: 'config.secret', new: MASK },
      { path: 'config.issuer', new: 'https://keys.example' },
    ]);
    expect(added!.summary).to.equal('provider keys (jwt-key) added');
    expect(changed!.changes).to.deep.equal([
      { path: 'order', old: 0, new: 2 },
      { path: 'config.secret', old: MASK, new: MASK },
    ]);
    expect(changed!.summary).to.equal('provider keys (jwt-key) changed: 2 fields');
    expect(corp!.summary).to.equal('provider corp (static) added');
    expect(removed!.summary).to.equal('provider corp (static) removed');
    expect(removed!.changes.map((c) => [c.path, 'new' in c])).to.deep.include.members([['kind', false], ['order', false]]);
  });

  it('re-sending the mask keeps the secret: the entry shows no secret line', async () => {
    await kit.call('/api/v1/providers/keys', 'put', { kind: 'jwt-key', config: { secret: MASK, issuer: 'https://other.example' }, order: 2 });
    const [latest] = entries(await kit.call('/api/v1/history?limit=1'));
    expect(latest!.changes).to.deep.equal([{ path: 'config.issuer', old: 'https://keys.example', new: 'https://other.example' }]);
  });

  it('names the owner and name of an issued and of a revoked token, with who revoked it and why', async () => {
    const tokens = entries(await kit.call('/api/v1/history?type=TokenIssued&type=TokenRevoked'));
    const revoked = tokens.find((e) => e.type === 'TokenRevoked')!;
    expect(revoked.token).to.deep.equal({ id: built.alice, owner: 'alice', name: 'laptop' });
    expect(revoked.changes).to.deep.equal([{ path: 'revokedBy', new: 'admin' }, { path: 'revokeReason', new: 'lost' }]);
    expect(revoked.summary).to.equal(`token ${built.alice} revoked (alice, "laptop")`);
    const issued = tokens.find((e) => e.type === 'TokenIssued' && e.token?.owner === 'alice')!;
    expect(issued.token).to.deep.equal({ id: built.alice, owner: 'alice', name: 'laptop' });
    expect(issued.changes).to.deep.include({ path: 'groups', new: ['dev'] });
    expect(issued.changes).to.deep.include({ path: 'expiresAt', new: iso(built.at.alice! + 90 * 24 * HOUR) });
  });

  it('pages newest first with a cursor: the pages together are the whole list, the last one ends with next null', async () => {
    const whole = entries(await kit.call('/api/v1/history')).map((e) => e.position);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await kit.call(`/api/v1/history?limit=3${cursor ? `&before=${cursor}` : ''}`);
      const page = entries(res);
      expect(page.length).to.be.at.most(3);
      seen.push(...page.map((e) => e.position));
      cursor = res.body.next as string | null;
      pages += 1;
    } while (cursor !== null && pages < 10);
    expect(seen).to.deep.equal(whole);
    expect(pages).to.equal(4);
  });

  it('filters by time range (inclusive), actor and type, and combines them', async () => {
    const range = entries(await kit.call(`/api/v1/history?from=${iso(built.at.alice!)}&to=${iso(built.at.keysAgain!)}`));
    expect(range.map((e) => e.type)).to.deep.equal(['ProviderConfigured', 'SettingsChanged', 'TokenIssued']);
    const cli = entries(await kit.call('/api/v1/history?actor=cli'));
    expect(cli.map((e) => e.token?.owner)).to.deep.equal(['bob']);
    const adminTokens = entries(await kit.call(`/api/v1/history?actor=admin&type=TokenIssued,TokenRevoked&to=${iso(built.at.revoke!)}`));
    expect(adminTokens.map((e) => e.type)).to.deep.equal(['TokenRevoked', 'TokenIssued']);
    const none = await kit.call(`/api/v1/history?to=${iso(FIXED_TIME - 1)}`);
    expect(none.body).to.deep.equal({ entries: [], next: null });
  });

  for (const query of [
    'type=AccessDecided',
    'type=TokenIssue',
    'from=yesterday',
    'to=2024-03-05T10:00:00',
    'from=2024-03-06T00:00:00Z&to=2024-03-05T00:00:00Z',
    'before=abc',
    'before=007',
    'limit=0',
    'limit=501',
    'limit=2.5',
    'cursor=5',
    'after=1',
    'actor=a&actor=b',
  ]) {
    it(`GET /history?${query} → 400 invalid_request`, async () => {
      const res = await kit.call(`/api/v1/history?${query}`);
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error).to.equal('invalid_request');
    });
  }
});

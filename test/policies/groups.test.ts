// Groups and read-only groups: allow-list, read-only methods, mapping, and the precedence between lists.
import { expect } from 'chai';
import type { Pipeline } from '../../core/pipeline.js';
import type { Provider } from '../../core/provider.js';
import { bearer, kit, request, tableProvider } from './kit.js';

const people = tableProvider('idp', {
  'tok-dev': { username: 'dev', groups: ['devs'] },
  'tok-viewer': { username: 'viewer', groups: ['viewers'] },
  'tok-both': { username: 'both', groups: ['devs', 'viewers'] },
  'tok-nobody': { username: 'nobody', groups: ['guests'] },
  'tok-admin-role': { username: 'ann', groups: [], claims: { roles: ['Jira.Admin', 'x'], dept: 'ops' } },
  'tok-scoped': { username: 'svc', groups: [], scopes: ['jira:write'] },
});
const call = (token: string, method = 'GET') => request({ method, ...bearer(token) });

describe('policies/groups and policies/read-only', () => {
  let pipeline: Pipeline;
  before(() => {
    pipeline = kit({ groups: { allowed: ['devs'], readOnly: ['viewers'] } }, [people]).pipeline;
  });

  it('refuses callers outside the allowed groups with 403 group_not_allowed', async () => {
    const d = await pipeline.decide(call('tok-nobody'));
    expect(d).to.include({ allow: false, status: 403, reason: 'group_not_allowed', stage: 'groups' });
    expect(d.identity?.username).to.equal('nobody');
  });

  it('admits allowed groups for every method', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) expect(await pipeline.decide(call('tok-dev', method)), method).to.include({ allow: true });
  });

  it('admits read-only groups (even when not in allowed), for GET, HEAD and OPTIONS only', async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(await pipeline.decide(call('tok-viewer', method)), method).to.include({ allow: true });
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND']) {
      expect(await pipeline.decide(call('tok-viewer', method)), method).to.include({ status: 403, reason: 'read_only', stage: 'read_only' });
    }
  });

  it('precedence: a caller in an allowed group and a read-only group is read-only', async () => {
    expect(await pipeline.decide(call('tok-both', 'GET'))).to.include({ allow: true });
    expect(await pipeline.decide(call('tok-both', 'POST'))).to.include({ reason: 'read_only' });
  });

  it('precedence: a route with readOnly: false lifts read-only groups there, and only there', async () => {
    const { pipeline: p } = kit(
      { groups: { allowed: ['devs'], readOnly: ['viewers'] }, routes: [{ name: 'search', path: 'POST /rest/api/2/search', readOnly: false }] },
      [people],
    );
    const d = await p.decide(request({ method: 'POST', path: '/rest/api/2/search', ...bearer('tok-both') }));
    expect(d).to.include({ allow: true });
    expect(d.trace.find((t) => t.stage === 'read_only')).to.deep.equal({ stage: 'read_only', outcome: 'pass', detail: 'lifted by route' });
    expect(await p.decide(request({ method: 'POST', path: '/rest/api/2/issue', ...bearer('tok-both') }))).to.include({ reason: 'read_only' });
  });

  it('read-only groups alone (allowed empty) restrict their members and no one else', async () => {
    // Only `allowed` closes the door; a readOnly list by itself must not turn outsiders away.
    const { pipeline: p } = kit({ groups: { readOnly: ['viewers'] } }, [people]);
    for (const method of ['GET', 'POST', 'DELETE']) {
      expect(await p.decide(call('tok-nobody', method)), method).to.include({ allow: true, status: 200, reason: 'authenticated' });
      expect(await p.decide(call('tok-dev', method)), method).to.include({ allow: true, status: 200, reason: 'authenticated' });
    }
    expect(await p.decide(call('tok-viewer', 'GET'))).to.include({ allow: true, status: 200 });
    expect(await p.decide(call('tok-viewer', 'POST'))).to.include({ allow: false, status: 403, reason: 'read_only', stage: 'read_only' });
  });

  it('with no lists, every authenticated caller passes', async () => {
    const { pipeline: p } = kit({}, [people]);
    expect(await p.decide(call('tok-nobody', 'DELETE'))).to.include({ allow: true });
  });

  it('lets anonymous callers on public paths through (they have no groups to judge)', async () => {
    const { pipeline: p } = kit({ groups: { allowed: ['devs'], readOnly: ['viewers'] }, paths: { public: ['/pub/**'] } }, [people]);
    expect(await p.decide(request({ method: 'POST', path: '/pub/x' }))).to.include({ allow: true, reason: 'anonymous' });
  });

  describe('mapping', () => {
    let p: Pipeline;
    before(() => {
      p = kit(
        {
          groups: {
            allowed: ['jira-admins', 'writers', 'ops'],
            readOnly: ['viewers'],
            mapping: [
              { to: 'jira-admins', claim: 'roles', value: 'Jira.Admin' },
              { to: 'ops', claim: 'dept', value: 'ops' },
              { to: 'writers', scope: 'jira:write', provider: 'idp' },
              { to: 'writers', group: 'devs' },
              { to: 'never', provider: 'other' },
            ],
          },
        },
        [people],
      ).pipeline;
    });

    it('adds gateway groups from claims, scopes, groups and provider, keeping the provider groups', async () => {
      const admin = await p.decide(call('tok-admin-role', 'POST'));
      expect(admin).to.include({ allow: true });
      expect(admin.identity?.groups).to.deep.equal(['jira-admins', 'ops']);
      expect((await p.decide(call('tok-scoped', 'POST'))).identity?.groups).to.deep.equal(['writers']);
      expect((await p.decide(call('tok-dev', 'POST'))).identity?.groups).to.deep.equal(['devs', 'writers']);
      expect((await p.decide(call('tok-both', 'POST')))).to.include({ reason: 'read_only' });
    });

    it('maps a cached identity once: the same mapped object every time, the cached one untouched', async () => {
      const cached = Object.freeze({ subject: 'sub-dev', username: 'dev', groups: Object.freeze(['devs']), scopes: Object.freeze([]), provider: 'idp' });
      const caching: Provider = { id: 'idp', kind: 'cache', status: () => ({ ready: true }), authenticate: () => ({ outcome: 'identity', identity: cached }) };
      const q = kit({ groups: { allowed: ['writers'], mapping: [{ to: 'writers', group: 'devs' }] } }, [caching]).pipeline;
      const first = await q.decide(call('tok-any', 'POST'));
      const second = await q.decide(call('tok-any', 'POST'));
      expect(first.identity?.groups).to.deep.equal(['devs', 'writers']);
      expect(second.identity).to.equal(first.identity);
      expect(cached.groups).to.deep.equal(['devs']);
    });

    it('refuses callers that no rule maps into an allowed group', async () => {
      expect(await p.decide(call('tok-nobody'))).to.include({ reason: 'group_not_allowed' });
    });

    it('a claim rule without value maps when the claim is set and truthy, and never on false, empty, null or absent', async () => {
      const flags = tableProvider('idp', {
        'tok-on': { username: 'on', claims: { flag: true } },
        'tok-text': { username: 'text', claims: { flag: 'yes' } },
        'tok-zero': { username: 'zero', claims: { flag: 0 } },
        'tok-off': { username: 'off', claims: { flag: false } },
        'tok-empty': { username: 'empty', claims: { flag: '' } },
        'tok-null': { username: 'null', claims: { flag: null } },
        'tok-absent': { username: 'absent', claims: { other: true } },
        'tok-none': { username: 'none' },
      });
      const { pipeline: q } = kit({ groups: { allowed: ['flagged'], mapping: [{ to: 'flagged', claim: 'flag' }] } }, [flags]);
      for (const token of ['tok-on', 'tok-text', 'tok-zero']) expect(await q.decide(call(token)), token).to.include({ allow: true, status: 200 });
      for (const token of ['tok-off', 'tok-empty', 'tok-null', 'tok-absent', 'tok-none']) {
        expect(await q.decide(call(token)), token).to.include({ allow: false, status: 403, reason: 'group_not_allowed' });
      }
    });

    it('a claim rule with a value maps only on that value, in a list or alone, compared as text', async () => {
      const depts = tableProvider('idp', {
        'tok-ops': { username: 'ops', claims: { dept: 'ops' } },
        'tok-ops-list': { username: 'opsl', claims: { dept: ['sales', 'ops'] } },
        'tok-number': { username: 'num', claims: { level: 7 } },
        'tok-sales': { username: 'sales', claims: { dept: 'sales', level: 8 } },
        'tok-sales-list': { username: 'salesl', claims: { dept: ['sales', 'opsx'] } },
        'tok-no-dept': { username: 'nodept', claims: {} },
      });
      const { pipeline: q } = kit(
        { groups: { allowed: ['ops', 'seven', 'undef'], mapping: [{ to: 'ops', claim: 'dept', value: 'ops' }, { to: 'seven', claim: 'level', value: '7' }, { to: 'undef', claim: 'dept', value: 'undefined' }] } },
        [depts],
      );
      for (const token of ['tok-ops', 'tok-ops-list', 'tok-number']) expect(await q.decide(call(token)), token).to.include({ allow: true, status: 200 });
      // An absent claim is not the text "undefined".
      for (const token of ['tok-sales', 'tok-sales-list', 'tok-no-dept']) {
        expect(await q.decide(call(token)), token).to.include({ allow: false, status: 403, reason: 'group_not_allowed' });
      }
    });

    it('refuses an invalid mapping rule at validation time', () => {
      expect(() => kit({ groups: { mapping: [{ to: 'x' }] } })).to.throw(/at least one/);
      expect(() => kit({ groups: { mapping: [{ to: 'x', group: 'y', value: 'z' }] } })).to.throw(/value needs claim/);
      expect(() => kit({ groups: { mapping: [{ to: 'x', claim: 'a..b' }] } })).to.throw(/dot path/);
    });
  });

  it('validates tokenCreators as group names', () => {
    expect(() => kit({ groups: { tokenCreators: ['devs'] } })).not.to.throw();
    expect(() => kit({ groups: { tokenCreators: [''] } })).to.throw();
  });
});

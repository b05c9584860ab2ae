// `portcullis test` and `apply --test` (issue 20): declared cases through candidate or live settings, field errors, output, exit statuses, refusing to apply.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { casesFileSchema, runDecisionTests } from '../../../core/simulation/decision-tests.js';
import { settingsSchema } from '../../../core/settings/schema.js';
import { openEventStore } from '../../../core/store/open.js';
import { validateWith } from '../../../core/validate.js';
import { runApply } from '../../../server/cli/config-as-code.js';
import { runDecisionTestCommand } from '../../../server/cli/decision-tests.js';
import type { Output } from '../../../server/cli/output.js';
import { loadProcessConfig } from '../../../server/config.js';
import { compileCandidate } from '../../../server/runtime/simulate.js';

const SETTINGS = `
settings:
  ip:
    deny: [203.0.113.0/24]
  paths:
    public: [/status]
  groups:
    allowed: [devs, ops]
    readOnly: [ops]
  routes:
    - name: admin
      path: /admin/**
      groups: [admins]
    - name: reports
      path: /reports/**
      scopes: [reports:read]
`;

const CASES = `
cases:
  - name: a developer reads issues
    request: { method: GET, path: /rest/api/2/issue/1, host: jira.example.com, clientIp: 10.0.0.5 }
    identity: { user: alice, groups: [devs], provider: corp }
    expect: allow
  - name: ops may read but not write
    request: { method: POST, path: /rest/api/2/issue }
    identity: { user: olga, groups: [ops] }
    expect: { deny: read_only }
  - name: anonymous callers need a credential
    request: { path: /rest/api/2/issue/1 }
    identity: anonymous
    expect: { deny: missing_credential, status: 401 }
  - name: the status page is public
    request: { path: /status }
    identity: anonymous
    expect: allow
  - name: the denied network is refused even for developers
    request: { path: /rest, clientIp: 203.0.113.7 }
    identity: { user: alice, groups: [devs] }
    expect: { deny: ip_not_allowed }
  - name: reports need the scope
    request: { path: /reports/q3 }
    identity: { user: alice, groups: [devs], scopes: [reports:read] }
    expect: allow
  - name: a refused token stays refused
    request: { path: /rest }
    identity: { refused: invalid_token }
    expect: { deny: invalid_token }
  - name: a path that climbs out is normalised before routes match
    request: { path: /public/../admin/users }
    identity: { user: alice, groups: [devs] }
    expect: { deny: group_not_allowed }
`;

describe('portcullis test: decision tests for configuration as code', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const output: Output = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const storeUrl = () => `sqlite:${join(dir, 'portcullis.db')}`;
  const config = () => loadProcessConfig(undefined, { PORTCULLIS_STORE: storeUrl(), PORTCULLIS_LOG_LEVEL: 'error' }, dir);
  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-dtest-'));
    out = [];
    err = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('passes every case through candidate settings, with no store and no network (exit 0)', async () => {
    const status = await runDecisionTestCommand(
      () => {
        throw new Error('the process configuration (and so the store) must not be read with --settings');
      },
      { cases: await write('cases.yaml', CASES), settings: await write('gateway.yaml', SETTINGS), json: false },
      output,
    );
    expect(err.join(''), 'stderr').to.equal('');
    expect(status, out.join('')).to.equal(0);
    expect(out.join('')).to.contain('ok    a developer reads issues').and.contain('8 passed, 0 failed');
  });

  it('lists a failing case with what it expected, what it got and its trace, and exits 1', async () => {
    const loosened = SETTINGS.replace('readOnly: [ops]', 'readOnly: []');
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', CASES), settings: await write('candidate.yaml', loosened), json: false }, output);
    expect(status).to.equal(1);
    const text = out.join('');
    expect(text).to.contain('FAIL  ops may read but not write\n      expected deny read_only, got allow (200, stage pipeline)\n      trace: master_switch pass → paths pass');
    expect(text).to.contain('read_only pass').and.contain('7 passed, 1 failed');
  });

  it('prints JSON for scripts', async () => {
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', CASES), settings: await write('gateway.yaml', SETTINGS), json: true }, output);
    expect(status).to.equal(0);
    const report = JSON.parse(out.join('')) as { passed: number; failed: number; results: { name: string; passed: boolean; actual: { reason: string }; trace: unknown[] }[] };
    expect(report).to.include({ passed: 8, failed: 0 });
    expect(report.results[1]).to.include({ name: 'ops may read but not write', passed: true });
    expect(report.results[1]!.actual.reason).to.equal('read_only');
    expect(report.results[1]!.trace).to.be.an('array').that.is.not.empty;
  });

  it('uses the live settings from the store when no --settings is given', async () => {
    // The store is made by apply, so its settings are the file's.
    expect(await runApply(config(), await write('gateway.yaml', SETTINGS), { dryRun: false }, output)).to.equal(0);
    out = [];
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', CASES), json: false }, output);
    expect(status, out.join('')).to.equal(0);
    expect(out.join('')).to.contain('8 passed, 0 failed');
  });

  it('reports each bad field of the cases file by its path, never running anything (exit 1)', async () => {
    const bad = `
cases:
  - name: one
    request: { path: no-slash, clientIp: 999.1.1.1, method: get }
    identity: { user: alice, anonymous: true }
    expect: { deny: Not A Code }
  - name: one
    request: { path: /x, extra: 1 }
    identity: { refused: invalid_token, groups: [devs] }
    expect: maybe
`;
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', bad), settings: await write('gateway.yaml', SETTINGS), json: false }, output);
    expect(status).to.equal(1);
    expect(out).to.deep.equal([]);
    const text = err.join('');
    expect(text).to.contain('cases.yaml: the decision cases are not valid');
    for (const path of ['cases[0].request.path', 'cases[0].request.clientIp', 'cases[0].request.method', 'cases[0].identity', 'cases[0].expect.deny', 'cases[1].request.extra', 'cases[1].identity.groups', 'cases[1].expect']) {
      expect(text, path).to.contain(`  ${path}: `);
    }
  });

  it('refuses two cases of the same name, naming the second', async () => {
    const twice = 'cases:\n' + '  - { name: same, request: { path: /x }, identity: anonymous, expect: allow }\n'.repeat(2);
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', twice), settings: await write('gateway.yaml', SETTINGS), json: false }, output);
    expect(status).to.equal(1);
    expect(err.join('')).to.contain('  cases[1].name: another case is named "same"');
  });

  it('reports a candidate that is not valid settings by its path', async () => {
    const status = await runDecisionTestCommand(config, { cases: await write('cases.yaml', CASES), settings: await write('bad.yaml', 'settings:\n  ip: { allow: [not-a-cidr] }\n'), json: false }, output);
    expect(status).to.equal(1);
    expect(err.join('')).to.contain('bad.yaml: the settings are not valid').and.contain('ip.allow[0]');
  });

  it('counts rate limits across the cases in file order, at each case time', async () => {
    const file = await validateWith(
      casesFileSchema,
      {
        cases: [1, 2, 3].map((n) => ({ name: `call ${n}`, request: { path: '/x', time: '2026-01-05T09:00:00Z' }, identity: { user: 'alice' }, expect: n < 3 ? 'allow' : { deny: 'rate_limited', status: 429 } })),
      },
    );
    if (!file.ok) throw new Error(JSON.stringify(file.issues));
    const settings = settingsSchema.parse({ rateLimit: { enabled: true, limit: 2, windowSeconds: 60 } });
    const report = await runDecisionTests(file.value, compileCandidate(settings));
    expect(report.results.map((r) => r.passed)).to.deep.equal([true, true, true]);
  });

  describe('apply --test', () => {
    const settingsEvents = async (): Promise<number> => {
      const store = await openEventStore(storeUrl(), { readonly: true });
      try {
        return (await store.readAll({ streamPrefixes: ['settings'] })).length;
      } finally {
        await store.close();
      }
    };

    it('applies a change whose cases pass', async () => {
      const status = await runApply(config(), await write('gateway.yaml', SETTINGS), { dryRun: false, test: await write('cases.yaml', CASES) }, output);
      expect(status, err.join('')).to.equal(0);
      expect(out.join('')).to.contain('8 passed, 0 failed').and.contain('applied');
      expect(await settingsEvents()).to.equal(1);
    });

    it('refuses to apply a change that fails its cases, and says so', async () => {
      expect(await runApply(config(), await write('gateway.yaml', SETTINGS), { dryRun: false }, output)).to.equal(0);
      const loosened = SETTINGS.replace('groups: [admins]', 'groups: [devs]');
      err = [];
      const status = await runApply(config(), await write('candidate.yaml', loosened), { dryRun: false, test: await write('cases.yaml', CASES) }, output);
      expect(status).to.equal(1);
      expect(out.join('')).to.contain('FAIL  a path that climbs out is normalised before routes match');
      expect(err.join('')).to.contain('not applied: decision tests in').and.contain('cases.yaml fail');
      expect(await settingsEvents(), 'only the first apply').to.equal(1);
    });

    it('refuses a bad cases file before opening the store', async () => {
      const status = await runApply(config(), await write('gateway.yaml', SETTINGS), { dryRun: false, test: await write('cases.yaml', 'cases: []\n') }, output);
      expect(status).to.equal(1);
      expect(err.join('')).to.contain('cases.yaml: the decision cases are not valid').and.contain('  cases: ');
      const store = await openEventStore(storeUrl(), { readonly: true }).then(
        (s) => s.close().then(() => true),
        () => false,
      );
      expect(store, 'no store was created').to.equal(false);
    });
  });
});

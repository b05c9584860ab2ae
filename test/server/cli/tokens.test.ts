// `portcullis tokens create|list|revoke`: argument checks, the commands against a SQLite store, a running runtime following them, and the built CLI's exit codes.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { systemClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { openEventStore } from '../../../core/store/open.js';
import type { RecordedEvent } from '../../../core/store/port.js';
import { hashToken } from '../../../core/tokens/format.js';
import { runApply } from '../../../server/cli/config-as-code.js';
import type { Output } from '../../../server/cli/output.js';
import { loadProcessConfig, type ProcessConfig } from '../../../server/config.js';
import { runCommandLine, type CommandLine } from '../../../server/cli/command-line.js';
import { runTokens, TOKENS_ACTOR, TOKENS_COMMANDS, tokensCommandOf, type TokensCommand } from '../../../server/cli/tokens.js';
import { request } from '../../fixtures/requests.js';
import { eventually } from '../../support/eventually.js';
import { runNode } from '../../support/processes.js';
import { plugins } from '../fixtures.js';

const CLI = fileURLToPath(new URL('../../../server/cli.js', import.meta.url));
const TOKEN = /pcl_[0-9A-Za-z]{49}/;

/** The token commands with their checks, running nothing: what each would do, or the usage error. */
let parsed: TokensCommand | undefined;
const parsing: CommandLine = {
  version: () => 'test',
  table: TOKENS_COMMANDS.map((spec) => ({
    ...spec,
    run: async (input) => {
      parsed = await tokensCommandOf(spec.words[1] as 'create' | 'list' | 'revoke', input);
      return 0;
    },
  })),
};

async function parseLine(argv: string[]): Promise<{ status: number | 'running'; err: string }> {
  const err: string[] = [];
  parsed = undefined;
  const status = await runCommandLine(parsing, ['tokens', ...argv], { out: () => {}, err: (t) => void err.push(t) });
  return { status, err: err.join('') };
}

async function usageError(argv: string[]): Promise<string> {
  const { status, err } = await parseLine(argv);
  expect(status, `exit status of tokens ${argv.join(' ')}`).to.equal(2);
  expect(err).to.match(/^portcullis: [^\n]+\n$/);
  return err.slice('portcullis: '.length, -1);
}

async function commandOf(argv: string[]): Promise<TokensCommand> {
  const { status, err } = await parseLine(argv);
  expect(status, err).to.equal(0);
  if (!parsed) throw new Error('no command');
  return parsed;
}

describe('portcullis tokens: the command line', () => {
  it('turns create flags into the admin API request', async () => {
    const command = await commandOf([
      'create', '--owner', 'ci-robot', '--name', 'ci', '--service', '--group', 'a', '--group', 'b',
      '--expires-in-days', '30', '--read-only', '--path-prefix', '/rest/api/2', '--ip', '10.0.0.0/8', '--json',
    ]);
    expect(command).to.deep.equal({
      action: 'create',
      json: true,
      request: {
        owner: 'ci-robot', name: 'ci', kind: 'service', groups: ['a', 'b'], readOnly: true,
        pathPrefixes: ['/rest/api/2'], ipAllow: ['10.0.0.0/8'], expiresInDays: 30,
      },
    });
    expect((await commandOf(['create', '--owner', 'a', '--name', 'n', '--never'])).action).to.equal('create');
    expect(await commandOf(['create', '--owner', 'a', '--name', 'n', '--never'])).to.have.nested.property('request.expiresInDays', null);
    expect(await commandOf(['list', '--owner', 'alice', '--state', 'expired'])).to.deep.equal({ action: 'list', owner: 'alice', state: 'expired', json: false });
    expect(await commandOf(['revoke', 'abc', '--reason', 'left'])).to.deep.equal({ action: 'revoke', id: 'abc', reason: 'left', json: false });
    expect(await commandOf(['revoke', '--owner', 'alice'])).to.deep.equal({ action: 'revoke-owner', owner: 'alice', json: false });
    expect(await parseLine(['create', '--help', '--config', 'x.yaml'])).to.deep.equal({ status: 0, err: '' });
    expect(parsed, '--help runs nothing').to.equal(undefined);
  });

  it('refuses what it cannot act on as a usage error that names the flag', async () => {
    expect(await usageError([])).to.match(/name an action/);
    expect(await usageError(['frob'])).to.match(/unknown action "frob"/);
    expect(await usageError(['toString'])).to.match(/unknown action "toString"/);
    expect(await usageError(['create', '--owner', 'alice'])).to.equal('tokens create: --name is required');
    expect(await usageError(['create', '--name', 'x'])).to.equal('tokens create: --owner is required');
    expect(await usageError(['create', '--owner', 'a', '--name', 'n', '--bogus'])).to.equal('tokens create: --bogus is not an option of `tokens create`');
    expect(await usageError(['create', '--owner'])).to.match(/--owner/);
    expect(await usageError(['create', '--owner', 'a', '--name', 'n', '--never', '--expires-in-days', '3'])).to.match(/exclude each other/);
    expect(await usageError(['create', '--owner', 'a', '--name', 'n', '--expires-in-days', 'soon'])).to.match(/whole number/);
    expect(await usageError(['create', '--owner', 'a', '--name', 'n', '--expires-in-days', '0'])).to.match(/^tokens create: --expires-in-days: /);
    expect(await usageError(['create', '--owner', 'a', '--name', 'n', '--ip', '10.0.0.300', '--path-prefix', 'rel'])).to.equal(
      'tokens create: --path-prefix "rel": not a valid path: the path must start with /; --ip "10.0.0.300": must be an IPv4 or IPv6 address or CIDR',
    );
    expect(await usageError(['create', '--owner', 'a', '--name', 'n\u0007'])).to.match(/^tokens create: --name: must not contain control characters/);
    expect(await usageError(['list', '--name', 'x'])).to.equal('tokens list: --name is not an option of `tokens list`');
    expect(await usageError(['list', '--state', 'gone'])).to.match(/--state must be one of: active, expiring_soon, expired, revoked/);
    expect(await usageError(['list', 'extra'])).to.match(/unexpected argument "extra"/);
    expect(await usageError(['revoke'])).to.match(/give one token id/);
    expect(await usageError(['revoke', 'a', 'b'])).to.match(/unexpected argument "b"/);
    expect(await usageError(['revoke', 'abc', '--owner', 'alice'])).to.match(/not both/);
    expect(await usageError(['revoke', '--owner', 'alice', '--expires-in-days', '3'])).to.match(/--expires-in-days is not an option of `tokens revoke`/);
  });
});

describe('portcullis tokens: against a SQLite store', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const output: Output = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const config = (): ProcessConfig => loadProcessConfig(undefined, { PORTCULLIS_STORE: `sqlite:${join(dir, 'portcullis.db')}` }, dir);
  const run = async (...argv: string[]): Promise<number> => {
    out = [];
    err = [];
    return runTokens(config(), await commandOf(argv), output);
  };
  const tokenEvents = async (): Promise<RecordedEvent[]> => {
    const store = await openEventStore(config().store, { readonly: true });
    try {
      return await store.readAll({ streamPrefixes: ['token-'] });
    } finally {
      await store.close();
    }
  };
  const create = async (...argv: string[]): Promise<{ token: string; id: string }> => {
    expect(await run('create', ...argv, '--json')).to.equal(0);
    const body = JSON.parse(out.join('')) as { token: string; id: string };
    return { token: body.token, id: body.id };
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-tokens-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('create prints the secret once on stdout and appends TokenIssued (hash only) as the cli', async () => {
    expect(await run('create', '--owner', 'alice', '--name', 'jira sync', '--group', 'developers', '--read-only', '--path-prefix', '/rest/api/2/', '--ip', '10.20.0.0/16', '--expires-in-days', '30')).to.equal(0);
    const [line, ...more] = out;
    expect(more).to.deep.equal([]);
    expect(line).to.match(new RegExp(`^${TOKEN.source}\\n$`));
    const token = line!.trim();
    expect(err.join('')).to.match(/^issued [0-9a-f]{16} \(alice, "jira sync"\), user, expires \S+; the token above is shown only this once\n$/);
    expect(err.join('')).not.to.contain(token);

    const events = await tokenEvents();
    expect(events.map((e) => e.type)).to.deep.equal(['TokenIssued']);
    const data = events[0]!.data as Record<string, unknown>;
    expect(events[0]!.metadata.actor).to.equal(TOKENS_ACTOR);
    expect(data).to.include({ owner: 'alice', name: 'jira sync', kind: 'user', readOnly: true, hash: hashToken(token) });
    expect(data.groups).to.deep.equal(['developers']);
    expect(data.pathPrefixes).to.deep.equal(['/rest/api/2']); // normalised as the admin API does
    expect(data.ipAllow).to.deep.equal(['10.20.0.0/16']);
    const days = (Date.parse(data.expiresAt as string) - Date.now()) / 86_400_000;
    expect(days).to.be.within(29.9, 30.1);
    expect(JSON.stringify(events)).not.to.contain(token);
    // The gateways' checkpoints are theirs: a one-shot command writes none.
    const store = await openEventStore(config().store, { readonly: true });
    try {
      expect(await store.loadCheckpoint('tokens')).to.equal(undefined);
    } finally {
      await store.close();
    }
  });

  it('list shows id, owner, name, state, expiry and last use, never the secret or its hash', async () => {
    const file = join(dir, 'settings.yaml');
    await writeFile(file, 'settings:\n  tokens:\n    maxExpiryDays: false\n');
    expect(await runApply(config(), file, { dryRun: false }, output)).to.equal(0);
    const alice = await create('--owner', 'alice', '--name', 'laptop');
    const robot = await create('--owner', 'ci-robot', '--name', 'ci', '--service', '--never');
    expect(await run('revoke', robot.id)).to.equal(0);

    expect(await run('list')).to.equal(0);
    const table = out.join('');
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).to.match(/^ID\s+OWNER\s+NAME\s+KIND\s+STATE\s+EXPIRES\s+LAST USED$/);
    expect(lines).to.have.length(3);
    expect(table).to.match(new RegExp(`${alice.id}\\s+alice\\s+laptop\\s+user\\s+active\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\s+-`));
    expect(table).to.match(new RegExp(`${robot.id}\\s+ci-robot\\s+ci\\s+service\\s+revoked\\s+never\\s+-`));

    expect(await run('list', '--owner', 'alice', '--json')).to.equal(0);
    const listed = JSON.parse(out.join('')) as { tokens: Record<string, unknown>[] };
    expect(listed.tokens.map((t) => t.id)).to.deep.equal([alice.id]);
    expect(listed.tokens[0]).to.include({ owner: 'alice', state: 'active', lastUsedAt: null, useCount: 0, createdBy: 'cli' });
    expect(listed.tokens[0]).not.to.have.any.keys('token', 'hash');

    expect(await run('list', '--state', 'revoked', '--json')).to.equal(0);
    expect((JSON.parse(out.join('')) as { tokens: { id: string }[] }).tokens.map((t) => t.id)).to.deep.equal([robot.id]);

    for (const args of [['list'], ['list', '--json']]) {
      await run(...args);
      const shown = out.join('') + err.join('');
      for (const secret of [alice.token, robot.token, hashToken(alice.token), hashToken(robot.token)]) expect(shown).not.to.contain(secret);
    }
    expect(await run('list', '--owner', 'nobody')).to.equal(0);
    expect(out.join('')).to.equal('no tokens\n');
  });

  it('revoke one token (with a reason), again (no change), and an unknown id (exit 1)', async () => {
    const { id } = await create('--owner', 'alice', '--name', 'laptop');
    expect(await run('revoke', id, '--reason', 'laptop lost')).to.equal(0);
    expect(out.join('')).to.equal(`revoked ${id} (alice, "laptop")\n`);
    expect(await run('revoke', id)).to.equal(0);
    expect(out.join('')).to.match(new RegExp(`^${id} \\(alice, "laptop"\\) was already revoked \\(\\S+, by cli\\)\\n$`));
    const revoked = (await tokenEvents()).filter((e) => e.type === 'TokenRevoked');
    expect(revoked.map((e) => e.data)).to.deep.equal([{ id, by: 'cli', reason: 'laptop lost' }]);
    expect(revoked[0]!.metadata.actor).to.equal('cli');

    expect(await run('revoke', 'f00f00f00f00f00f')).to.equal(1);
    expect(err.join('')).to.equal('portcullis: no token f00f00f00f00f00f\n');
    expect(out).to.deep.equal([]);
  });

  it('revoke --owner revokes every usable token of that owner and says which', async () => {
    const a1 = await create('--owner', 'alice', '--name', 'one');
    const a2 = await create('--owner', 'alice', '--name', 'two');
    const gone = await create('--owner', 'alice', '--name', 'gone');
    await run('revoke', gone.id);
    const bob = await create('--owner', 'bob', '--name', 'bob');
    expect(await run('revoke', '--owner', 'alice', '--reason', 'left')).to.equal(0);
    const printed = out.join('');
    expect(printed).to.contain(`revoked ${a1.id} (alice, "one")`).and.contain(`revoked ${a2.id} (alice, "two")`).and.contain('2 tokens of alice revoked');
    expect(printed).not.to.contain(gone.id).and.not.to.contain(bob.id);
    const revoked = (await tokenEvents()).filter((e) => e.type === 'TokenRevoked').map((e) => (e.data as { id: string }).id);
    expect(revoked).to.have.members([gone.id, a1.id, a2.id]);

    expect(await run('revoke', '--owner', 'alice', '--json')).to.equal(0);
    expect(JSON.parse(out.join(''))).to.deep.equal({ owner: 'alice', revoked: 0, tokens: [] });
    expect(await run('revoke', '--owner', 'alice')).to.equal(0);
    expect(out.join('')).to.equal('alice has no active tokens: nothing revoked\n');
  });

  it('applies the token policy of the settings in the store: refusals exit 1 with the reason, appending nothing', async () => {
    const file = join(dir, 'settings.yaml');
    await writeFile(file, 'settings:\n  tokens:\n    maxPerUser: 1\n    maxExpiryDays: 30\n    defaultExpiryDays: 7\n');
    expect(await runApply(config(), file, { dryRun: false }, output)).to.equal(0);

    await create('--owner', 'alice', '--name', 'first');
    const before = (await tokenEvents()).length;
    expect(await run('create', '--owner', 'alice', '--name', 'second')).to.equal(1);
    expect(err.join('')).to.equal('portcullis: alice already has 1 active tokens (tokens.maxPerUser is 1); revoke one first\n');
    expect(await run('create', '--owner', 'bob', '--name', 'long', '--expires-in-days', '31')).to.equal(1);
    expect(err.join('')).to.equal('portcullis: the token request is not valid: --expires-in-days: at most 30 days (tokens.maxExpiryDays)\n');
    expect(await run('create', '--owner', 'bob', '--name', 'forever', '--never')).to.equal(1);
    expect(err.join('')).to.match(/^portcullis: the token request is not valid: --never: tokens must expire/);
    expect(out).to.deep.equal([]);
    expect((await tokenEvents()).length).to.equal(before);

    // Service tokens are not counted; the default expiry comes from the settings too.
    const robot = await create('--owner', 'alice', '--name', 'robot', '--service');
    const expires = (await tokenEvents()).find((e) => (e.data as { id: string }).id === robot.id)!.data as { expiresAt: string };
    expect((Date.parse(expires.expiresAt) - Date.now()) / 86_400_000).to.be.within(6.9, 7.1);
  });

  it('a runtime following the same store accepts a token the CLI issued, and refuses it once the CLI revoked it', async function () {
    this.timeout(30_000);
    const testStarted = Date.now();
    // Open the store first, as a running gateway would have.
    const store = await openEventStore(config().store);
    const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock: systemClock, logger: silentLogger, adminToken: 'x'.repeat(32) });
    // A new request id each time: the audit writer refuses two events with one id.
    const decide = (token: string) =>
      runtime.decide(request({ id: randomUUID(), credential: { scheme: 'bearer', secret: token }, time: Date.now() }));
    try {
      const { token, id } = await create('--owner', 'alice', '--name', 'laptop');
      // The runtime follows the store by polling it, as a gateway beside the CLI does.
      await eventually(async () => (await decide(token)).allow, { within: 10_000, what: 'the runtime accepting the new token' });
      expect((await decide(token)).identity).to.include({ username: 'alice', provider: 'gateway', tokenId: id });
      // Its uses are audited, and `list` shows the last one.
      await runtime.audit.flush();
      expect(await run('list', '--json')).to.equal(0);
      const [listed] = (JSON.parse(out.join('')) as { tokens: { lastUsedAt: string | null; useCount: number }[] }).tokens;
      expect(listed!.useCount).to.be.at.least(2);
      expect(Date.parse(listed!.lastUsedAt!)).to.be.within(testStarted, Date.now());
      expect(await run('list')).to.equal(0);
      expect(out.join('')).to.match(/active\s+\S+ \S+\s+\d{4}-\d\d-\d\d \d\d:\d\dZ\n$/);
      expect(await run('revoke', id)).to.equal(0);
      await eventually(async () => (await decide(token)).reason === 'token_revoked', { within: 10_000, what: 'the runtime refusing the revoked token' });
    } finally {
      await runtime.close();
      await store.close();
    }
  });

  it('list opens the store read-only: a store that does not exist is an error, and is not created', async () => {
    let error: unknown;
    try {
      await run('list');
    } catch (e) {
      error = e;
    }
    expect(error).to.have.property('code', 'store_unavailable');
    expect(existsSync(join(dir, 'portcullis.db'))).to.equal(false);
  });
});

describe('portcullis tokens: the built CLI', function () {
  // Seven runs of the CLI, each a fresh node process (about a second each on a busy 2-core machine).
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-tokens-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    runNode(CLI, ['tokens', ...args], { cwd: dir, env: { PORTCULLIS_STORE: `sqlite:${join(dir, 'portcullis.db')}`, PORTCULLIS_LOG_LEVEL: 'warn' } });

  it('prints the secret once, never lists it, and exits 0, 1 or 2', async () => {
    const created = await cli('create', '--owner', 'alice', '--name', 'ci');
    expect(created.code).to.equal(0);
    expect(created.stdout).to.match(new RegExp(`^${TOKEN.source}\\n$`));
    const token = created.stdout.trim();
    expect(created.stderr).to.match(/^issued ([0-9a-f]{16}) \(alice, "ci"\)/).and.not.to.contain(token);
    const id = /^issued ([0-9a-f]{16})/.exec(created.stderr)![1]!;

    for (const args of [['list'], ['list', '--json']]) {
      const listed = await cli(...args);
      expect(listed.code).to.equal(0);
      expect(listed.stdout).to.contain(id).and.to.contain('alice');
      expect(listed.stdout + listed.stderr).not.to.contain(token).and.not.to.contain(hashToken(token));
    }

    const missing = await cli('create', '--owner', 'alice');
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.equal('portcullis: tokens create: --name is required\n');
    const unknownOption = await cli('list', '--bogus');
    expect(unknownOption.code).to.equal(2);
    expect(unknownOption.stderr.trimEnd().split('\n')).to.have.length(1);

    const unknown = await cli('revoke', 'f00f00f00f00f00f');
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal('portcullis: no token f00f00f00f00f00f\n');

    const revoked = await cli('revoke', id);
    expect(revoked.code).to.equal(0);
    expect(revoked.stdout).to.equal(`revoked ${id} (alice, "ci")\n`);
  });
});

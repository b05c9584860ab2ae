// `portcullis` as a whole: --version, every command's --help, exit 2 for a command line it cannot act on, exit 1 with one line naming the path or value for a failure, never a stack.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { openEventStore } from '../../../core/store/open.js';
import { renderFailure } from '../../../server/cli/errors.js';
import { COMMANDS, PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { ConfigFileError } from '../../../server/config.js';
import { FileAccessError } from '../../../server/system-error.js';
import { UsageError } from '../../../server/cli/usage-error.js';
import { runNode } from '../../support/processes.js';

const CLI = fileURLToPath(new URL('../../../server/cli.js', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../../../package.json', import.meta.url));
const VERSION = (JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string }).version;

interface Result {
  status: number | 'running';
  stdout: string;
  stderr: string;
}

/** The command line in this process, its output captured. */
async function cli(...argv: string[]): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCommandLine(PORTCULLIS, argv, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
  return { status, stdout: out.join(''), stderr: err.join('') };
}

/** One `portcullis: …` line on stderr, nothing on stdout, no stack. */
function expectOneLine(result: Result, status: 1 | 2): string {
  expect(result.status, `${result.stderr}${result.stdout}`).to.equal(status);
  expect(result.stdout).to.equal('');
  expect(result.stderr).to.match(/^portcullis: [^\n]+\n$/);
  expect(result.stderr).not.to.match(/^\s+at /m);
  return result.stderr;
}

/** Every command the contract names, written out here rather than read from the table under test. */
const EVERY_COMMAND = [['serve'], ['verify'], ['checkpoints', 'export'], ['store', 'migrate'], ['apply'], ['test'], ['export'], ['tokens', 'create'], ['tokens', 'list'], ['tokens', 'revoke'], ['replay'], ['simulate'], ['audit', 'query'], ['audit', 'export'], ['audit', 'stats'], ['audit', 'prune'], ['assertion-keys', 'rotate']];

describe('portcullis: the command line', () => {
  let dir: string;
  let config: string;
  const storeFile = () => join(dir, 'data', 'portcullis.db');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${storeFile()}\nlogLevel: error\n`);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--version and -v print the version of package.json', async () => {
    for (const flag of ['--version', '-v']) {
      expect(await cli(flag)).to.deep.equal({ status: 0, stdout: `portcullis ${VERSION}\n`, stderr: '' });
    }
  });

  it('every command has its own --help (and -h, and `help <command>`) on stdout, exit 0, running nothing', async () => {
    for (const words of EVERY_COMMAND) {
      const help = await cli(...words, '--help');
      expect(help.status, words.join(' ')).to.equal(0);
      expect(help.stderr).to.equal('');
      expect(help.stdout).to.match(new RegExp(`^usage: portcullis ${words.join(' ')}\\b`));
      expect(help.stdout).to.contain('--config').and.contain('exit status');
      expect(await cli(...words, '-h'), `${words.join(' ')} -h`).to.deep.equal(help);
      expect(await cli('help', ...words), `help ${words.join(' ')}`).to.deep.equal(help);
      expect(await cli('--config', config, ...words, '--help')).to.deep.equal(help);
      expect(await cli(words[0]!, '--config', config, ...words.slice(1), '--help')).to.deep.equal(help);
    }
    // Each option a command has is in its help.
    expect((await cli('serve', '--help')).stdout).to.contain('--workers <n>');
    expect((await cli('apply', '--help')).stdout).to.contain('usage: portcullis apply <file.yaml>').and.contain('--dry-run');
    expect((await cli('export', '--help')).stdout).to.contain('--output <file>').and.contain('--secrets mask|env');
    expect((await cli('tokens', 'create', '--help')).stdout).to.contain('--owner <name>').and.contain('--expires-in-days <n>');
    // A --help without the arguments the command needs is still help.
    expect((await cli('tokens', 'revoke', '--help')).status).to.equal(0);
    expect(existsSync(storeFile()), 'no store was opened').to.equal(false);
  });

  it('--help and `help` list every command; `tokens --help` every action with its options', async () => {
    const top = await cli('--help');
    expect(top.status).to.equal(0);
    expect(await cli('help')).to.deep.equal(top);
    expect(await cli('-h')).to.deep.equal(top);
    for (const words of EVERY_COMMAND) expect(top.stdout).to.match(new RegExp(`^  ${words.join(' ')}\\b`, 'm'));
    expect(top.stdout).to.contain('--version');
    const tokens = await cli('tokens', '--help');
    expect(tokens.status).to.equal(0);
    expect(await cli('help', 'tokens')).to.deep.equal(tokens);
    for (const action of ['create', 'list', 'revoke']) expect(tokens.stdout).to.contain(`usage: portcullis tokens ${action}`);
    expect(tokens.stdout).to.contain('--owner <name>').and.contain('--reason <text>');
  });

  it('no command at all: the usage on stderr, exit 2', async () => {
    const none = await cli();
    expect(none.status).to.equal(2);
    expect(none.stdout).to.equal('');
    expect(none.stderr).to.match(/^usage: portcullis <command>/);
  });

  it('a command line it cannot act on is exit 2 with one line that names the word, option or value', async () => {
    const cases: [string[], string][] = [
      [['frobnicate'], '"frobnicate"'],
      [['--bogus'], '--bogus'],
      [['serve', '--bogus'], '--bogus'],
      [['verify', '--workers', '2'], '--workers'],
      [['export', '--dry-run'], '--dry-run'],
      [['serve', '--workers', '0'], '"0"'],
      [['serve', '--workers', 'many'], '"many"'],
      [['serve', '--workers'], '--workers'],
      [['export', '--secrets', 'plain'], '--secrets'],
      [['tokens', 'list', '--state', 'gone'], '--state'],
      [['apply'], '<file.yaml>'],
      [['tokens'], 'create, list, revoke'],
      [['tokens', 'frob'], '"frob"'],
      [['help', 'nope'], '"nope"'],
      [['serve', '--version'], '--version'],
      [['--dry-run', 'apply', 'x.yaml'], '--dry-run'],
    ];
    for (const [argv, named] of cases) {
      expect(expectOneLine(await cli(...argv), 2), argv.join(' ')).to.contain(named);
    }
    expect(existsSync(storeFile()), 'nothing was run').to.equal(false);
  });

  it('test: exit 0 when every case passes, 1 when one fails, 2 without the cases file; with --settings no store is opened', async () => {
    const cases = join(dir, 'cases.yaml');
    const settings = join(dir, 'candidate.yaml');
    await writeFile(cases, 'cases:\n  - { name: devs in, request: { path: /x }, identity: { user: a, groups: [devs] }, expect: allow }\n');
    await writeFile(settings, 'settings:\n  groups: { allowed: [devs] }\n');
    const passed = await cli('--config', config, 'test', cases, '--settings', settings);
    expect(passed.status, passed.stderr).to.equal(0);
    expect(passed.stdout).to.equal('ok    devs in\n\n1 passed, 0 failed\n');
    await writeFile(settings, 'settings:\n  groups: { allowed: [ops] }\n');
    const failed = await cli('--config', config, 'test', cases, '--settings', settings, '--json');
    expect(failed.status).to.equal(1);
    expect(JSON.parse(failed.stdout)).to.include({ passed: 0, failed: 1 });
    expect(existsSync(storeFile()), 'no store was opened').to.equal(false);
    expect(expectOneLine(await cli('--config', config, 'test'), 2)).to.contain('<cases.yaml>');
  });

  it('refuses extra arguments instead of ignoring them', async () => {
    const cases: string[][] = [
      ['serve', 'now'],
      ['verify', 'data/portcullis.db'],
      ['export', 'out.yaml'],
      ['apply', 'a.yaml', 'b.yaml'],
      ['test', 'a.yaml', 'b.yaml'],
      ['tokens', 'list', 'alice'],
      ['tokens', 'create', 'extra', '--owner', 'a', '--name', 'n'],
      ['tokens', 'revoke', 'id1', 'id2'],
    ];
    for (const argv of cases) {
      expect(expectOneLine(await cli('--config', config, ...argv), 2), argv.join(' ')).to.match(/unexpected argument "[^"]+"/);
    }
    expect(existsSync(storeFile()), 'nothing was run').to.equal(false);
  });

  it('export --output into a directory that does not exist: exit 1, one line naming the path', async () => {
    await (await openEventStore(`sqlite:${storeFile()}`)).close();
    const target = join(dir, 'missing', 'dir', 'x.yaml');
    const line = expectOneLine(await cli('export', '--config', config, '--output', target), 1);
    expect(line).to.equal(`portcullis: cannot write ${target}: no such file or directory (ENOENT)\n`);
  });

  it('verify, export and tokens list on a store that does not exist: exit 1 naming the file, which is not created', async () => {
    for (const argv of [['verify'], ['export'], ['tokens', 'list']]) {
      const line = expectOneLine(await cli(...argv, '--config', config), 1);
      expect(line, argv.join(' ')).to.contain(storeFile());
      expect(existsSync(join(dir, 'data')), argv.join(' ')).to.equal(false);
    }
  });

  it('verify reads the store without leaving a -wal or -shm file behind', async () => {
    const store = await openEventStore(`sqlite:${storeFile()}`);
    await store.append('s-1', [{ id: 'e1', type: 'Tested', data: {} }]);
    await store.close();
    const verified = await cli('verify', '--config', config);
    expect(verified).to.deep.equal({
      status: 0,
      stdout: 'hash chain intact: 1 events checked\nsigned checkpoints: none in the store yet (a rewrite of the whole chain would go unnoticed here; see docs/audit.md#tamper-evidence)\n',
      stderr: '',
    });
    expect(readdirSync(join(dir, 'data'))).to.deep.equal(['portcullis.db']);
  });

  it('other failures name what is at fault: a --config file, an apply file', async () => {
    const missingConfig = join(dir, 'nope.yaml');
    expect(expectOneLine(await cli('verify', '--config', missingConfig), 1)).to.contain(missingConfig);
    expect(expectOneLine(await cli('apply', join(dir, 'missing.yaml'), '--config', config), 1)).to.contain(join(dir, 'missing.yaml'));
  });
});

describe('portcullis: the failure renderer', () => {
  it('usage errors exit 2, everything else 1, each on one line', () => {
    expect(renderFailure(new UsageError('serve: --x is not an option of `serve`'))).to.deep.equal({ text: 'portcullis: serve: --x is not an option of `serve`\n', status: 2 });
    expect(renderFailure(new FileAccessError('write', '/x/y.yaml', Object.assign(new Error('ENOENT'), { code: 'ENOENT' })))).to.deep.equal({
      text: 'portcullis: cannot write /x/y.yaml: no such file or directory (ENOENT)\n',
      status: 1,
    });
    // Process configuration problems keep their one line per key.
    expect(renderFailure(new ConfigFileError('invalid process configuration:\n  listen: must be host:port')).status).to.equal(1);
  });

  it('a system error nobody wrapped still names its path', () => {
    const err = Object.assign(new Error("EACCES: permission denied, open '/etc/shadow'"), { code: 'EACCES', syscall: 'open', path: '/etc/shadow' });
    expect(renderFailure(err).text).to.equal('portcullis: cannot open /etc/shadow: permission denied (EACCES)\n');
  });

  it('an unexpected error is one line without its stack, unless debugging', () => {
    const bug = new RangeError('index out of range');
    const { text, status } = renderFailure(bug);
    expect(status).to.equal(1);
    expect(text).to.match(/^portcullis: unexpected RangeError: index out of range \(PORTCULLIS_LOG_LEVEL=debug shows where\)\n$/);
    expect(renderFailure(bug, true).text).to.match(/^\s+at /m);
    expect(renderFailure('a string').text).to.equal('portcullis: unexpected failure: a string\n');
  });

  it('the table has one entry per command, each with a summary and its own words', () => {
    const names = COMMANDS.map((c) => c.words.join(' '));
    expect(names).to.deep.equal(EVERY_COMMAND.map((w) => w.join(' ')));
    for (const c of COMMANDS) expect(c.summary).to.match(/^[a-z]/);
  });
});

describe('portcullis: the built executable', function () {
  // Three runs of node, each about a second on a busy machine.
  this.timeout(30_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-bin-'));
    await (await openEventStore(`sqlite:${join(dir, 'portcullis.db')}`)).close();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (...args: string[]) =>
    runNode(CLI, args, { cwd: dir, env: { PORTCULLIS_STORE: `sqlite:${join(dir, 'portcullis.db')}`, PORTCULLIS_LOG_LEVEL: 'error' } });

  it('exits with the status the command line gives: 0, 2, 1, and never prints a stack', async () => {
    expect(await run('--version')).to.deep.equal({ code: 0, stdout: `portcullis ${VERSION}\n`, stderr: '' });
    const extra = await run('verify', 'extra');
    expect(extra).to.deep.equal({ code: 2, stdout: '', stderr: 'portcullis: verify: unexpected argument "extra"\n' });
    const target = join(dir, 'missing', 'dir', 'x.yaml');
    const failed = await run('export', '--output', target);
    expect(failed).to.deep.equal({ code: 1, stdout: '', stderr: `portcullis: cannot write ${target}: no such file or directory (ENOENT)\n` });
  });
});

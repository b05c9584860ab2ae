// `portcullis replay`: the state as of a time or position from a SQLite store, for people and as JSON; secrets masked; bad points in one line with exit 2 or 1.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { ManualClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { MASK, SecretBox } from '../../../core/secrets.js';
import { SqliteEventStore } from '../../../core/store/sqlite.js';
import { builtinPlugins, PluginRegistry } from '../../../providers/registry.js';
import { PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';
import { liveAnswer } from '../../../server/state-answer.js';
import { FIXED_TIME } from '../fixtures.js';

const HOUR = 3_600_000;
const SECRET = 'replay-cli-shared-secret-0123456';
const iso = (ms: number): string => new Date(ms).toISOString();

interface Result {
  status: number | 'running';
  stdout: string;
  stderr: string;
}

describe('portcullis replay', () => {
  let dir: string;
  let config: string;
  let tokenHashes: string[];
  let liveHash: string;

  /** 06:07:08 settings · +1h provider keys (secret) · +2h alice's token · +3h settings · +4h alice revoked. */
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-replay-'));
    const file = join(dir, 'portcullis.db');
    config = join(dir, 'portcullis.yaml');
    await writeFile(config, `store: sqlite:${file}\nlogLevel: error\n`);
    const clock = new ManualClock(FIXED_TIME);
    const store = SqliteEventStore.open(file, { clock });
    const plugins = new PluginRegistry(builtinPlugins);
    const secrets = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());
    const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, adminToken: 'a'.repeat(32), secrets });
    try {
      const admin = { actor: 'admin' };
      await runtime.commands.changeSettings({ rateLimit: { enabled: true } }, undefined, admin);
      clock.advance(HOUR);
      await runtime.commands.configureProvider('keys', { kind: 'jwt-key', config: { secret: SECRET, issuer: 'https://keys.example' } }, undefined, admin);
      clock.advance(HOUR);
      const { record } = await runtime.tokenCommands.issue({ owner: 'alice', name: 'laptop', expiresInDays: 365 }, admin);
      clock.advance(HOUR);
      await runtime.commands.changeSettings({ enabled: false }, undefined, admin);
      clock.advance(HOUR);
      await runtime.tokenCommands.revoke(record.id, 'lost', admin);
      tokenHashes = [record.hash];
      liveHash = liveAnswer(runtime.projection.state, runtime.tokens.state, (k) => plugins.get(k)?.secretFields ?? [], Date.now()).hash;
    } finally {
      await runtime.close();
      await store.close();
    }
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function replay(...argv: string[]): Promise<Result> {
    const out: string[] = [];
    const err: string[] = [];
    const status = await runCommandLine(PORTCULLIS, ['replay', '--config', config, ...argv], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    const result = { status, stdout: out.join(''), stderr: err.join('') };
    for (const secret of [SECRET, 'enc:v1:', ...tokenHashes]) expect(result.stdout + result.stderr, 'shows a secret').not.to.include(secret);
    return result;
  }

  function oneLine(result: Result, status: 1 | 2): string {
    expect(result.status, result.stderr).to.equal(status);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.match(/^portcullis: [^\n]+\n$/);
    return result.stderr;
  }

  it('--as-of <time> --json: the state then, in the shape of GET /api/v1/state, the secret masked', async () => {
    const asOf = iso(FIXED_TIME + 2 * HOUR + 30 * 60_000);
    const result = await replay('--as-of', asOf, '--json');
    expect(result.status, result.stderr).to.equal(0);
    const answer = JSON.parse(result.stdout) as Record<string, any>;
    expect(answer.asOf).to.deep.include({ requested: asOf, at: asOf });
    expect(answer.asOf.lastChange.time).to.equal(iso(FIXED_TIME + 2 * HOUR));
    expect(answer.settings).to.deep.include({ revision: 1, document: { rateLimit: { enabled: true } } });
    expect(answer.providers.map((p: any) => [p.id, p.config])).to.deep.equal([['keys', { secret: MASK, issuer: 'https://keys.example' }]]);
    expect(answer.tokens.map((t: any) => [t.owner, t.name, t.state])).to.deep.equal([['alice', 'laptop', 'active']]);
    expect(answer.hash).to.match(/^[0-9a-f]{64}$/);
  });

  it('without --as-of: the whole history, with the hash of the live state', async () => {
    const result = await replay('--json');
    expect(result.status, result.stderr).to.equal(0);
    const answer = JSON.parse(result.stdout) as Record<string, any>;
    expect(answer.asOf).to.equal(null);
    expect(answer.settings.revision).to.equal(2);
    expect(answer.tokens[0].state).to.equal('revoked');
    expect(answer.hash).to.equal(liveHash);
  });

  it('for people: where it stopped, each setting and provider field on a line, the tokens as a table', async () => {
    const result = await replay('--as-of', '4');
    expect(result.status, result.stderr).to.equal(0);
    const text = result.stdout;
    expect(text).to.match(/^state as of 2024-03-05T09:07:08\.000Z \(asked: 4\)\nlast change: position 4, 2024-03-05T09:07:08\.000Z\nstate hash: [0-9a-f]{64}\n/);
    expect(text).to.contain('settings: revision 2 (what admins set; the rest are defaults)\n  rateLimit.enabled: true\n  enabled: false\n');
    expect(text).to.contain('  keys (jwt-key), enabled, order 0, revision 1, updated 2024-03-05T07:07:08.000Z\n    issuer: "https://keys.example"\n    secret: "********"\n');
    expect(text).to.match(/tokens: 1\nID +OWNER +NAME +KIND +STATE +EXPIRES\n[0-9a-f]+ +alice +laptop +user +active +2025-03-05/);
    expect(text).not.to.contain('LAST USED');
  });

  const failures: [string[], 1 | 2, RegExp][] = [
    [['--as-of', 'yesterday'], 2, /^portcullis: replay: --as-of: give an ISO 8601 time/],
    [['--as-of', '2024-03-05T10:00:00'], 2, /time zone/],
    [['--as-of'], 2, /as-of/],
    [['--as-of', '2024-03-05T06:07:07Z'], 1, /^portcullis: replay: 2024-03-05T06:07:07\.000Z is before the first event \(2024-03-05T06:07:08\.000Z\)\n$/],
    [['--as-of', '99'], 1, /^portcullis: replay: position 99 is past the last event \(5\)\n$/],
    [['--as-of', '2999-01-01'], 1, /in the future/],
    [['--at', '1'], 2, /--at is not an option/],
  ];
  for (const [argv, status, message] of failures) {
    it(`replay ${argv.join(' ')} → one line, exit ${status}`, async () => {
      expect(oneLine(await replay(...argv), status)).to.match(message);
    });
  }

  it('a store that does not exist: exit 1, and no file is created', async () => {
    const missing = join(dir, 'missing.yaml');
    await writeFile(missing, `store: sqlite:${join(dir, 'nope', 'portcullis.db')}\n`);
    const out: string[] = [];
    const err: string[] = [];
    const status = await runCommandLine(PORTCULLIS, ['replay', '--config', missing], { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    expect(status).to.equal(1);
    expect(err.join('')).to.match(/^portcullis: [^\n]*no event store[^\n]*\n$/);
  });
});

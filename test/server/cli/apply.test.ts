// Configuration as code in-process: plan, apply, dry run, removals, secrets, export round trip and file errors.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { z } from 'zod';

import type { AccessRequest, Decision } from '../../../core/access.js';
import { ManualClock } from '../../../core/clock.js';
import type { PluginLookup } from '../../../core/commands.js';
import { silentLogger } from '../../../core/logger.js';
import type { ProviderPlugin } from '../../../core/provider.js';
import { Runtime } from '../../../server/runtime/runtime.js';
import { MASK, SecretBox } from '../../../core/secrets.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import { openEventStore } from '../../../core/store/open.js';
import type { RecordedEvent } from '../../../core/store/port.js';
import { executePlan, formatPlan, mergePatchBetween, planApply, planSize } from '../../../server/cli/apply.js';
import { APPLY_ACTOR, readConfigState, runApply, runExport, type Output } from '../../../server/cli/config-as-code.js';
import { ConfigAsCodeError, parseConfigFile, renderConfigFile, secretEnvName } from '../../../server/cli/config-file.js';
import { loadProcessConfig } from '../../../server/config.js';
import { formatIssuePath } from '../../../core/validate.js';
import { FIXED_TIME, staticPlugin, tokenHash } from '../fixtures.js';

/** A provider kind with a secret field, so masking and sealing are exercised. */
const vaultPlugin: ProviderPlugin<{ apiKey: string; label?: string | undefined }> = {
  kind: 'vault',
  description: 'a provider with a secret (tests only)',
  configSchema: z.strictObject({ apiKey: z.string().min(8), label: z.string().optional() }),
  secretFields: ['apiKey'],
  create: (_config, deps) => ({
    id: deps.id,
    kind: 'vault',
    status: () => ({ ready: true }),
    authenticate: () => Promise.resolve({ outcome: 'not_responsible' as const }),
  }),
};

const registry = [staticPlugin as ProviderPlugin, vaultPlugin as ProviderPlugin];
const plugins: PluginLookup = {
  get: (kind) => registry.find((p) => p.kind === kind),
  kinds: () => registry.map((p) => p.kind),
};

const secrets = SecretBox.fromEncodedKey(SecretBox.generateEncodedKey());

interface Harness {
  readonly runtime: Runtime;
  readonly store: MemoryEventStore;
}

async function start(): Promise<Harness> {
  const clock = new ManualClock(FIXED_TIME);
  const store = new MemoryEventStore({ clock });
  const runtime = await Runtime.start({ store, plugins, fetch: globalThis.fetch, clock, logger: silentLogger, secrets, adminToken: 'x'.repeat(32) });
  return { runtime, store };
}

const configEvents = async (store: MemoryEventStore): Promise<RecordedEvent[]> =>
  (await store.readAll({ streamPrefixes: ['settings', 'provider-'] })).filter((e) => e.type !== 'AccessDecided');

/** Parse, plan and (unless dryRun) execute, as the CLI does. */
async function apply(h: Harness, yaml: string, options: { dryRun?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const file = await parseConfigFile(yaml, options.env ?? {});
  const plan = await planApply(file, h.runtime, secrets);
  const diff = formatPlan(plan);
  if (options.dryRun || planSize(plan) === 0) return { plan, diff, applied: 0 };
  const { applied } = await executePlan(plan, h.runtime, { actor: APPLY_ACTOR });
  await h.runtime.whenCompiled();
  return { plan, diff, applied };
}

async function problemsOf(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigAsCodeError);
    return (err as ConfigAsCodeError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error('expected a ConfigAsCodeError');
}

const ALICE = 'alice-token-0123456789';
const BASE = `
settings:
  enabled: true
  ip:
    trustedProxies: [10.0.0.0/8, "::1/128"]
providers:
  people:
    kind: static
    order: 1
    config:
      tokens:
        ${tokenHash(ALICE)}: { username: alice, groups: [dev] }
  vault:
    kind: vault
    enabled: false
    config:
      apiKey: \${VAULT_KEY}
      label: primary
`;
const ENV = { VAULT_KEY: 'first-vault-key-123' };

const request = (credential?: AccessRequest['credential']): AccessRequest => ({
  id: 'r1',
  method: 'GET',
  rawPath: '/rest/api/2/issue/1',
  path: '/rest/api/2/issue/1',
  query: '',
  host: 'jira.example.test',
  clientIp: '192.0.2.1',
  peerIp: '192.0.2.1',
  time: FIXED_TIME,
  ...(credential ? { credential } : {}),
});

const REQUESTS: AccessRequest[] = [
  request(),
  request({ scheme: 'bearer', secret: ALICE }),
  request({ scheme: 'bearer', secret: 'bad-revoked' }),
  request({ scheme: 'bearer', secret: 'unknown' }),
  request({ scheme: 'basic', username: 'alice', secret: 'pw' }),
];

const decisions = (runtime: Runtime): Promise<Decision[]> => Promise.all(REQUESTS.map((r) => runtime.compiled.pipeline.decide(r)));

describe('server/apply (configuration as code)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await start();
  });
  afterEach(async () => {
    await h.runtime.close();
  });

  it('brings an empty store to the file, through the commands, as cli:apply', async () => {
    const { applied, diff } = await apply(h, BASE, { env: ENV });
    expect(applied).to.equal(3);
    const state = h.runtime.projection.state;
    expect(state.document).to.deep.equal({ enabled: true, ip: { trustedProxies: ['10.0.0.0/8', '::1/128'] } });
    expect(state.settingsRevision).to.equal(1);
    expect(Object.keys(state.providers).sort()).to.deep.equal(['people', 'vault']);
    expect(state.providers.vault?.enabled).to.equal(false);
    expect(state.providers.people?.order).to.equal(1);
    // The secret is sealed in the event, and opens to the value from the environment.
    expect(SecretBox.isSealed(state.providers.vault?.config.apiKey)).to.equal(true);
    expect(secrets.openFields(state.providers.vault!.config, ['apiKey']).apiKey).to.equal(ENV.VAULT_KEY);

    const events = await configEvents(h.store);
    expect(events.map((e) => e.type)).to.deep.equal(['ProviderConfigured', 'ProviderConfigured', 'SettingsChanged']);
    expect(events.every((e) => e.metadata.actor === APPLY_ACTOR)).to.equal(true);
    expect(JSON.stringify(events.map((e) => e.data))).not.to.contain(ENV.VAULT_KEY);
    expect(diff).not.to.contain(ENV.VAULT_KEY);
    expect(diff).to.contain(`+ config.apiKey: ${MASK}`);
    expect(diff).to.contain('+ ip.trustedProxies: ["10.0.0.0/8","::1/128"]');

    const alice = await h.runtime.compiled.pipeline.decide(request({ scheme: 'bearer', secret: ALICE }));
    expect(alice).to.include({ allow: true, reason: 'authenticated' });
  });

  it('appends nothing when the same file is applied twice', async () => {
    await apply(h, BASE, { env: ENV });
    const before = (await configEvents(h.store)).length;
    const again = await apply(h, BASE, { env: ENV });
    expect(again.diff).to.equal('no changes\n');
    expect(planSize(again.plan)).to.equal(0);
    expect((await configEvents(h.store)).length).to.equal(before);
  });

  it('dry run prints the diff and appends nothing', async () => {
    await apply(h, BASE, { env: ENV });
    const before = (await configEvents(h.store)).length;
    const changed = BASE.replace('enabled: true', 'enabled: false').replace('label: primary', 'label: secondary').replace('groups: [dev]', 'groups: [dev, ops]');
    const { diff, plan } = await apply(h, changed, { env: { VAULT_KEY: 'second-vault-key-456' }, dryRun: true });
    expect(planSize(plan)).to.equal(3);
    expect(diff).to.contain('settings (revision 1):\n  ~ enabled: true -> false');
    expect(diff).to.contain('~ vault (vault)');
    expect(diff).to.contain('~ config.label: "primary" -> "secondary"');
    expect(diff).to.contain(`~ config.apiKey: ${MASK} -> ${MASK} (changed)`);
    expect(diff).to.contain(`~ ${formatIssuePath(['config', 'tokens', tokenHash(ALICE), 'groups'])}: ["dev"] -> ["dev","ops"]`);
    expect(diff).not.to.contain('second-vault-key-456').and.not.to.contain(ENV.VAULT_KEY);
    expect((await configEvents(h.store)).length).to.equal(before);
    expect(h.runtime.projection.state.settings.enabled).to.equal(true);
  });

  it('resets settings keys the file leaves out (merge patch with null) and removes unlisted providers', async () => {
    await apply(h, BASE, { env: ENV });
    const smaller = `
settings:
  enabled: false
providers:
  people:
    kind: static
    order: 1
    config:
      tokens: {}
`;
    const { diff, applied } = await apply(h, smaller);
    expect(applied).to.equal(3);
    expect(diff).to.contain('- ip.trustedProxies (was ["10.0.0.0/8","::1/128"])');
    expect(diff).to.contain('- vault (vault)');
    const state = h.runtime.projection.state;
    expect(state.document).to.deep.equal({ enabled: false });
    expect(state.settings.ip.trustedProxies).to.deep.equal(['127.0.0.0/8', '::1/128']);
    expect(Object.keys(state.providers)).to.deep.equal(['people']);
    const events = await configEvents(h.store);
    const last = events.filter((e) => e.type === 'SettingsChanged').at(-1);
    expect(last?.data).to.deep.equal({ patch: { ip: null, enabled: false } });
    expect(events.at(-1)?.type).to.equal('ProviderRemoved');
  });

  it('leaves a section the file does not have alone', async () => {
    await apply(h, BASE, { env: ENV });
    const { applied } = await apply(h, 'settings:\n  enabled: true\n  ip: { trustedProxies: [10.0.0.0/8, "::1/128"] }\n  audit: { enabled: false }\n');
    expect(applied).to.equal(1);
    expect(Object.keys(h.runtime.projection.state.providers).sort()).to.deep.equal(['people', 'vault']);
    await apply(h, 'providers: {}\n');
    expect(h.runtime.projection.state.providers).to.deep.equal({});
    expect(h.runtime.projection.state.document).to.have.nested.property('audit.enabled', false);
  });

  it('keeps the stored secret when the file carries the mask', async () => {
    await apply(h, BASE, { env: ENV });
    const masked = BASE.replace('${VAULT_KEY}', `"${MASK}"`).replace('enabled: false', 'enabled: true');
    const { diff, applied } = await apply(h, masked);
    expect(applied).to.equal(1);
    expect(diff).not.to.contain('apiKey');
    const vault = h.runtime.projection.state.providers.vault!;
    expect(vault.enabled).to.equal(true);
    expect(secrets.openFields(vault.config, ['apiKey']).apiKey).to.equal(ENV.VAULT_KEY);
    // The mask alone changes nothing.
    expect((await apply(h, masked)).diff).to.equal('no changes\n');
  });

  it('reports a mask with no stored secret, and a missing environment variable, by path', async () => {
    expect(await problemsOf(apply(h, BASE.replace('${VAULT_KEY}', `"${MASK}"`)))).to.deep.equal([
      'providers.vault.config.apiKey: no stored secret to keep: give the secret itself or a ${ENV_VAR} reference instead of ********',
    ]);
    expect(await problemsOf(apply(h, BASE, { env: {} }))).to.deep.equal(['providers.vault.config.apiKey: environment variable VAULT_KEY is not set']);
    expect((await configEvents(h.store)).length).to.equal(0);
  });

  it('reports every problem of an invalid file with its path, and never echoes a secret', async () => {
    const bad = `
settings:
  enabled: "yes"
  bogus: 1
providers:
  Bad_Id: { kind: static, config: { tokens: {} } }
  people: { kind: nope, config: {} }
  vault: { kind: vault, config: { apiKey: short-1, label: 7 } }
`;
    const problems = await problemsOf(apply(h, bad));
    expect(problems).to.deep.equal([
      'settings.enabled: Invalid input: expected boolean, received string',
      'settings.bogus: unknown field',
      'providers.Bad_Id: invalid provider id: lowercase letters, digits and -, at most 63',
      'providers.people.kind: unknown provider kind: must be one of static, vault',
      'providers.vault.config.apiKey: Too small: expected string to have >=8 characters',
      'providers.vault.config.label: Invalid input: expected string, received number',
    ]);
    expect(problems.join('\n')).not.to.contain('short-1');
    expect(await problemsOf(apply(h, 'settings: [1]\nextra: true\n'))).to.deep.equal(['settings: Invalid input: expected record, received array', 'extra: unknown field']);
    expect(await problemsOf(apply(h, 'settings:\n  ip: ~\n'))).to.deep.equal(['settings.ip: null is not a setting value: leave the key out to use the default']);
    try {
      await parseConfigFile('settings: [\n', {});
      expect.fail('parsed');
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigAsCodeError);
      expect((err as Error).message).to.match(/^not valid YAML: .*line 2/);
    }
    expect((await configEvents(h.store)).length).to.equal(0);
  });

  it('export then apply on an empty store gives the same state and the same decisions', async () => {
    await apply(h, BASE.replace('enabled: false', 'enabled: true'), { env: ENV });
    const exported = renderConfigFile(h.runtime.projection.state, plugins, 'env');
    expect(exported).to.contain(`apiKey: \${${secretEnvName('vault', 'apiKey')}}`).and.not.to.contain(ENV.VAULT_KEY);

    const other = await start();
    try {
      await apply(other, exported, { env: { [secretEnvName('vault', 'apiKey')]: ENV.VAULT_KEY } });
      const [a, b] = [h.runtime.projection.state, other.runtime.projection.state];
      expect(b.document).to.deep.equal(a.document);
      const plain = (s: typeof a) =>
        Object.values(s.providers).map(({ id, kind, enabled, order, config }) => ({ id, kind, enabled, order, config: secrets.openFields(config, ['apiKey']) }));
      expect(plain(b)).to.deep.equal(plain(a));
      expect(await decisions(other.runtime)).to.deep.equal(await decisions(h.runtime));
      expect((await decisions(h.runtime)).map((d) => d.reason)).to.deep.equal(['missing_credential', 'authenticated', 'invalid_token', 'invalid_token', 'invalid_token']);
      // The masked export applies to the store it came from without a change.
      expect((await apply(h, renderConfigFile(h.runtime.projection.state, plugins))).diff).to.equal('no changes\n');
    } finally {
      await other.runtime.close();
    }
  });

  it('turns a masked export of a master-switch-off gateway into the same decisions elsewhere', async () => {
    await apply(h, 'settings:\n  enabled: false\nproviders:\n  people: { kind: static, config: { tokens: {} } }\n');
    const other = await start();
    try {
      await apply(other, renderConfigFile(h.runtime.projection.state, plugins));
      const got = await decisions(other.runtime);
      expect(got).to.deep.equal(await decisions(h.runtime));
      expect(got.map((d) => d.reason)).to.deep.equal(REQUESTS.map(() => 'auth_disabled'));
    } finally {
      await other.runtime.close();
    }
  });

  it('keeps a literal ${ through export and apply', async () => {
    await apply(h, 'providers:\n  vault: { kind: vault, config: { apiKey: "${K}", label: "$${NOT_A_VAR}" } }\n', { env: { K: 'k-0123456789' } });
    expect(h.runtime.projection.state.providers.vault?.config.label).to.equal('${NOT_A_VAR}');
    const exported = renderConfigFile(h.runtime.projection.state, plugins);
    expect(exported).to.match(/label: "?\$\$\{NOT_A_VAR\}"?\n/);
    expect((await apply(h, exported)).diff).to.equal('no changes\n');
  });

  it('computes merge patches that lead from one document to the other', () => {
    const before = { enabled: true, ip: { trustedProxies: ['10.0.0.0/8'] }, audit: { enabled: false } };
    const after = { ip: { trustedProxies: ['10.0.0.0/8'] }, audit: {}, rateLimit: { limit: 5 } };
    expect(mergePatchBetween(before, after)).to.deep.equal({ enabled: null, audit: { enabled: null }, rateLimit: { limit: 5 } });
  });
});

describe('portcullis apply / export (CLI commands, SQLite store)', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const output: Output = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const config = () => loadProcessConfig(undefined, { PORTCULLIS_STORE: `sqlite:${join(dir, 'portcullis.db')}`, PORTCULLIS_SECRET_KEY: SecretBox.generateEncodedKey(), PORTCULLIS_LOG_LEVEL: 'error' }, dir);
  const FILE = `
settings:
  enabled: false
providers:
  idp:
    kind: oidc
    config:
      issuer: http://127.0.0.1:9/realm
      audience: api://portcullis
      clientId: portcullis
      clientSecret: \${PORTCULLIS_TEST_CLIENT_SECRET}
`;
  const SECRET = 'client-secret-never-printed-42';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-apply-'));
    out = [];
    err = [];
    process.env.PORTCULLIS_TEST_CLIENT_SECRET = SECRET;
  });
  afterEach(async () => {
    delete process.env.PORTCULLIS_TEST_CLIENT_SECRET;
    await rm(dir, { recursive: true, force: true });
  });

  const eventCount = async (): Promise<number> => {
    const store = await openEventStore(`sqlite:${join(dir, 'portcullis.db')}`, { readonly: true });
    try {
      return (await store.readAll({ streamPrefixes: ['settings', 'provider-'] })).length;
    } finally {
      await store.close();
    }
  };

  it('dry run prints the diff, appends nothing; a real run applies; the second run appends nothing', async () => {
    const cfg = config();
    const file = join(dir, 'gateway.yaml');
    await writeFile(file, FILE);
    expect(await runApply(cfg, file, { dryRun: true }, output)).to.equal(0);
    expect(out.join('')).to.contain('+ enabled: false').and.contain('+ idp (oidc)').and.contain('dry run: 2 changes not applied');
    expect(await eventCount()).to.equal(0);

    out = [];
    expect(await runApply(cfg, file, { dryRun: false }, output)).to.equal(0);
    expect(out.join('')).to.contain('2 changes applied, settings at revision 1');
    expect(await eventCount()).to.equal(2);

    out = [];
    expect(await runApply(cfg, file, { dryRun: false }, output)).to.equal(0);
    expect(out.join('')).to.equal('no changes\n');
    expect(await eventCount()).to.equal(2);
    expect(out.join('') + err.join('')).not.to.contain(SECRET);

    out = [];
    const exported = join(dir, 'exported.yaml');
    expect(await runExport(cfg, { output: exported, secrets: 'mask' }, output)).to.equal(0);
    const yaml = await readFile(exported, 'utf8');
    expect(yaml).to.contain(`clientSecret: "${MASK}"`).and.not.to.contain(SECRET);
    const state = await readConfigState(await openEventStore(`sqlite:${join(dir, 'portcullis.db')}`, { readonly: true }));
    expect(state.document).to.deep.equal({ enabled: false });
    // The export applies back to the same store without a change (the mask keeps the secret).
    expect(await runApply(cfg, exported, { dryRun: false }, output)).to.equal(0);
    expect(out.join('')).to.equal('no changes\n');
  });

  it('exits 1 with one line per problem for an invalid file, appending nothing', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, FILE.replace('enabled: false', 'enabled: maybe').replace('audience: api://portcullis', 'audience: 42'));
    expect(await runApply(config(), file, { dryRun: false }, output)).to.equal(1);
    const lines = err.join('').trimEnd().split('\n');
    expect(lines[0]).to.equal(`portcullis: ${file}: the file is not valid`);
    expect(lines[1]).to.equal('  settings.enabled: Invalid input: expected boolean, received string');
    expect(lines.slice(2).every((l) => l.startsWith('  providers.idp.config.audience'))).to.equal(true);
    expect(err.join('')).to.contain('providers.idp.config.audience').and.not.to.contain(SECRET);
    expect(out).to.deep.equal([]);
    expect(await runApply(config(), join(dir, 'missing.yaml'), { dryRun: false }, output)).to.equal(1);
    expect(err.join('')).to.contain('missing.yaml: cannot read (ENOENT)');
  });
});

// `portcullis apply` / `export` as a user runs them, against the SQLite file of a running gateway, which follows the change.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import { admin, asEcho, call } from './fixtures/http.js';
import { CLI, runCli, startGateway, startOp, type Gateway, type Op } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

describe('configuration as code end to end (portcullis apply/export against a running gateway)', function () {
  this.timeout(60_000);

  let dir: string;
  let upstream: Upstream;
  let op: Op;
  let gateway: Gateway;
  let env: Record<string, string>;

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cac-'));
    upstream = await startUpstream();
    const key = await generateSigningKey('cac-k1');
    op = await startOp({ jwks: { keys: [key.privateJwk] }, clients: [E2E_CLIENT], tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS } });
    gateway = await startGateway({ dataDir: dir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
    // The CLI finds the same store (and the secret key beside it) as the running gateway.
    env = { PORTCULLIS_STORE: gateway.store, PORTCULLIS_ADMIN_TOKEN: '', IDP_CLIENT_SECRET: 'client-secret-from-the-environment' };
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const fileWith = (enabled: boolean) => `
settings:
  enabled: ${enabled}
providers:
  idp:
    kind: oidc
    config:
      issuer: ${op.issuer}
      audience: ${RESOURCE}
      groupsClaim: groups
      clientId: portcullis
      clientSecret: \${IDP_CLIENT_SECRET}
`;

  const configEvents = async (): Promise<number> => {
    const res = await admin(gateway, 'GET', '/events?limit=1000');
    const events = (res.json as { events: { stream: string }[] }).events;
    return events.filter((e) => e.stream === 'settings' || e.stream.startsWith('provider-')).length;
  };

  it('adds a provider to the running gateway: its tokens are accepted without a restart', async () => {
    const token = await clientCredentialsToken(op.issuer);
    const before = await call(`${gateway.url}/rest/api/2/myself`, { headers: { authorization: `Bearer ${token}` } });
    expect(before.status).to.equal(401);

    const file = join(dir, 'gateway.yaml');
    await writeFile(file, fileWith(true));
    const dry = await runCli(['apply', file, '--dry-run'], env, dir);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.contain('+ idp (oidc)').and.contain('+ config.clientSecret: ********').and.contain('dry run: 2 changes not applied');
    expect(dry.stdout + dry.stderr).not.to.contain(env.IDP_CLIENT_SECRET);
    expect(await configEvents()).to.equal(0);

    const applied = await runCli(['apply', file], env, dir);
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout).to.contain('2 changes applied, settings at revision 1');
    expect(applied.stdout + applied.stderr).not.to.contain(env.IDP_CLIENT_SECRET);

    // The gateway follows the store by polling it.
    const res = await eventually(
      async () => {
        const r = await call(`${gateway.url}/rest/api/2/myself`, { headers: { authorization: `Bearer ${token}` } });
        expect(r.status, r.text).to.equal(200);
        return r;
      },
      { within: 10_000 },
    );
    expect(asEcho(res).headers['x-portcullis-user']).to.equal('alice');

    // The events were appended by the CLI, through the same commands as the admin API.
    const events = (await admin(gateway, 'GET', '/events?limit=1000')).json as { events: { type: string; metadata: { actor: string } }[] };
    const config = events.events.filter((e) => e.type === 'ProviderConfigured' || e.type === 'SettingsChanged');
    expect(config.map((e) => e.metadata.actor)).to.deep.equal(['cli:apply', 'cli:apply']);
    const provider = (await admin(gateway, 'GET', '/providers/idp')).json as { config: { clientSecret?: string } };
    expect(provider.config.clientSecret).to.equal('********');
  });

  it('turns the master switch off in the running gateway; the same file again appends nothing', async () => {
    const anonymous = await call(`${gateway.url}/open`);
    expect(anonymous.status).to.equal(401);

    const file = join(dir, 'gateway.yaml');
    await writeFile(file, fileWith(false));
    const applied = await runCli(['apply', file], env, dir);
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout).to.contain('~ enabled: true -> false').and.contain('1 change applied, settings at revision 2');

    await eventually(
      async () => {
        const r = await call(`${gateway.url}/open`);
        expect(r.status, r.text).to.equal(200);
      },
      { within: 10_000 },
    );

    const count = await configEvents();
    const again = await runCli(['apply', file], env, dir);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.equal('no changes\n');
    expect(await configEvents()).to.equal(count);
  });

  it('exports the state, secrets masked, in a form apply takes back without a change', async () => {
    const exported = await runCli(['export'], env, dir);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(exported.stdout).to.contain('enabled: false').and.contain(`issuer: ${op.issuer}`).and.contain('clientSecret: "********"');
    expect(exported.stdout).not.to.contain(env.IDP_CLIENT_SECRET);

    const file = join(dir, 'exported.yaml');
    const toFile = await runCli(['export', '--output', file], env, dir);
    expect(toFile.code, toFile.stderr).to.equal(0);
    expect(await readFile(file, 'utf8')).to.equal(exported.stdout);
    const count = await configEvents();
    const back = await runCli(['apply', file], env, dir);
    expect(back.code, back.stderr).to.equal(0);
    expect(back.stdout).to.equal('no changes\n');
    expect(await configEvents()).to.equal(count);
  });

  it('refuses an invalid file with one line per problem, exit 1, no stack, no secret', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, `${fileWith(true).replace(`audience: ${RESOURCE}`, 'audience: 42').replace('enabled: true', 'enabled: sometimes')}unknown: 1\n`);
    const res = await runCli(['apply', file], env, dir);
    expect(res.code).to.equal(1);
    expect(res.stderr).to.equal(`portcullis: ${file}: the file is not valid\n  unknown: unknown field\n`);
    const fixed = fileWith(true).replace(`audience: ${RESOURCE}`, 'audience: 42').replace('enabled: true', 'enabled: sometimes');
    await writeFile(file, fixed);
    const second = await runCli(['apply', file], env, dir);
    expect(second.code).to.equal(1);
    const lines = second.stderr.trimEnd().split('\n');
    expect(lines[0]).to.equal(`portcullis: ${file}: the file is not valid`);
    expect(lines).to.include('  settings.enabled: Invalid input: expected boolean, received string');
    expect(lines.some((l) => l.startsWith('  providers.idp.config.audience: '))).to.equal(true);
    expect(second.stderr).not.to.match(/\n\s+at /).and.not.to.contain(env.IDP_CLIENT_SECRET);
    expect(second.stdout).to.equal('');
  });
});

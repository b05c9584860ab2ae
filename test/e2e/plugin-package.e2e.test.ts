// End-to-end: a provider installed as an npm package (test/fixtures/portcullis-provider-example, a ZITADEL preset on the
// provider SDK) and named under `plugins`, against a real OpenID provider standing in for the ZITADEL instance.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import examplePlugin, { type ExampleConfig } from 'portcullis-provider-example';

import type { ProviderPlugin } from '../../core/provider.js';
import { isProviderPlugin, loadPluginPackages } from '../../providers/registry.js';
import { admin, asEcho, call, configureProvider } from './fixtures/http.js';
import type { OpClient } from './fixtures/op.js';
import { stopAll } from '../support/processes.js';
import { CLI, runCli, startGateway, startOp, storeFor, type Gateway, type Op } from './fixtures/processes.js';
import { E2E_CLIENT, RESOURCE, clientCredentialsToken, forgeJwt, generateSigningKey, type SigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

const PACKAGE = 'portcullis-provider-example';
const KIND = 'example-zitadel';
/** ZITADEL's claims: the project roles (an object keyed by role name) and the user's organisation. */
const ROLES = 'urn:zitadel:iam:org:project:roles';
const ORGANIZATION = 'urn:zitadel:iam:user:resourceowner:id';

/** A machine user of another organisation of the same instance. */
const OTHER_ORG_CLIENT: OpClient = { ...E2E_CLIENT, client_id: 'e2e-other-org', client_secret: 'e2e-other-org-secret-that-is-long-enough-01' };

// Compile-time proof that the package's own typings satisfy the plugin contract.
const typed: ProviderPlugin<ExampleConfig> = examplePlugin;

interface FieldError {
  path: string;
  message: string;
}

describe('a provider installed as an npm package', function () {
  this.timeout(20_000);

  const dataDirs: string[] = [];
  const newDataDir = async (yaml: string): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-e2e-plugin-'));
    dataDirs.push(dir);
    await writeFile(join(dir, 'portcullis.yaml'), yaml);
    return dir;
  };
  let upstream: Upstream;
  let op: Op;
  let key: SigningKey;

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the server (npx tsc -p tsconfig.json) first`);
    upstream = await startUpstream();
    key = await generateSigningKey('zitadel-k1');
    op = await startOp({
      jwks: { keys: [key.privateJwk] },
      clients: [E2E_CLIENT, OTHER_ORG_CLIENT],
      tokenClaims: {
        [E2E_CLIENT.client_id]: { preferred_username: 'carol', [ROLES]: { ops: { '1001': 'acme.example' }, qa: { '1001': 'acme.example' } }, [ORGANIZATION]: '1001' },
        [OTHER_ORG_CLIENT.client_id]: { preferred_username: 'mallory', [ROLES]: { ops: { '2002': 'other.example' } }, [ORGANIZATION]: '2002' },
      },
    });
  });

  after(async () => {
    await stopAll();
    await upstream?.close();
    await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('is a plain ESM package whose default export has the plugin shape', async () => {
    expect(isProviderPlugin(typed)).to.equal(true);
    const [loaded] = await loadPluginPackages([PACKAGE]);
    expect(loaded?.kind).to.equal(KIND);
    expect(loaded, 'the package default export').to.equal(examplePlugin);
    expect(loaded?.configSchema['~standard'].vendor, "built with the SDK's config fields").to.equal('zod');
  });

  describe('a gateway with `plugins: [portcullis-provider-example]`', () => {
    let token: string;
    let gateway: Gateway;
    /** Signed with a key of the same id that the instance never published. */
    const forged = async () => {
      const impostor = await generateSigningKey(key.kid);
      const now = Math.floor(Date.now() / 1000);
      return forgeJwt({ iss: op.issuer, aud: RESOURCE, sub: 'carol', iat: now, exp: now + 300 }, { key: impostor.privateKey, kid: key.kid });
    };

    before(async () => {
      const config = { baseUrl: op.issuer, projectId: RESOURCE, organizationId: '1001' };
      const dataDir = await newDataDir(`plugins:\n  - ${PACKAGE}\n`);
      gateway = await startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}` } });
      await configureProvider(gateway, 'ex', { kind: KIND, config, enabled: true, order: 0 });
      token = await clientCredentialsToken(op.issuer, E2E_CLIENT, RESOURCE);
    });

    it('lists the configured provider with the package kind', async () => {
      const res = await admin(gateway, 'GET', '/providers/ex');
      expect(res.status, res.text).to.equal(200);
      expect(res.json).to.deep.include({ id: 'ex', kind: KIND });
    });

    it('authenticates a listed token and sends its identity upstream', async () => {
      const res = await call(`${gateway.url}/plugin/ok`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, res.text).to.equal(200);
      const echo = asEcho(res);
      expect(echo.url).to.equal('/plugin/ok');
      expect(echo.headers['x-portcullis-user']).to.equal('carol');
      expect(echo.headers['x-portcullis-provider']).to.equal('ex');
      expect(String(echo.headers['x-portcullis-groups'])).to.include('ops').and.include('qa');
      expect(echo.headers.authorization, 'the gateway credential is not forwarded').to.equal(undefined);
    });

    it('refuses a token of the instance its keys did not sign: 401 invalid_token', async () => {
      const before = upstream.requests.length;
      const res = await call(`${gateway.url}/plugin/unknown`, { headers: { authorization: `Bearer ${await forged()}` } });
      expect(res.status, res.text).to.equal(401);
      expect(res.json).to.include({ error: 'invalid_token' });
      expect(res.headers['www-authenticate']).to.match(/^Bearer\b/).and.include('error="invalid_token"');
      expect(upstream.requests.length).to.equal(before);
    });

    it("refuses a user of another organisation through the preset's check: 401 invalid_token", async () => {
      const before = upstream.requests.length;
      const other = await clientCredentialsToken(op.issuer, OTHER_ORG_CLIENT, RESOURCE);
      const res = await call(`${gateway.url}/plugin/other-org`, { headers: { authorization: `Bearer ${other}` } });
      expect(res.status, res.text).to.equal(401);
      expect(res.json).to.include({ error: 'invalid_token' });
      expect(upstream.requests.length).to.equal(before);
    });

    it('leaves a token of another issuer to others (none here): 401, nothing proxied', async () => {
      const before = upstream.requests.length;
      const res = await call(`${gateway.url}/plugin/foreign`, { headers: { authorization: `Bearer zz_${randomUUID()}` } });
      expect(res.status, res.text).to.equal(401);
      expect(upstream.requests.length).to.equal(before);
    });

    it("shows the package provider's answer and the pipeline's decision in the admin test-token helper", async () => {
      const res = await admin(gateway, 'POST', '/providers/ex/test', { scheme: 'Bearer', token });
      expect(res.status, res.text).to.equal(200);
      const body = res.json as { provider: string; result: { outcome: string; identity?: { username?: string } }; decision: { allow: boolean; status: number } };
      expect(body.provider).to.equal('ex');
      expect(body.result.outcome).to.equal('identity');
      expect(body.result.identity?.username).to.equal('carol');
      expect(body.decision).to.include({ allow: true, status: 200 });
      const unknown = await admin(gateway, 'POST', '/providers/ex/test', { scheme: 'Bearer', token: await forged() });
      expect(unknown.json).to.deep.include({ result: { outcome: 'failure', code: 'invalid_token', description: 'signature invalid' } });
    });

    it("answers 400 with field errors when the config fails the package's own schema", async () => {
      const res = await admin(gateway, 'PUT', '/providers/ex-bad', {
        kind: KIND,
        config: { baseUrl: 'http://zitadel.example.com', projectId: '', groupsClaim: 'a..b', extra: true },
        enabled: true,
        order: 1,
      });
      expect(res.status, res.text).to.equal(400);
      const fields = (res.json as { fields?: FieldError[] }).fields ?? [];
      const paths = fields.map((f) => f.path);
      expect(paths).to.include.members(['config.baseUrl', 'config.projectId', 'config.groupsClaim', 'config.extra']);
      expect((await admin(gateway, 'GET', '/providers/ex-bad')).status, 'nothing was configured').to.equal(404);
    });
  });

  describe('a plugin that cannot be used', () => {
    /** Runs `portcullis serve` to its end (bounded) with `plugins: [name]`. */
    const serveWithPlugin = async (name: string) => {
      const dataDir = await newDataDir(`plugins:\n  - ${JSON.stringify(name)}\n`);
      const env = {
        PORTCULLIS_STORE: storeFor(dataDir),
        PORTCULLIS_LISTEN: '127.0.0.1:0',
        PORTCULLIS_ADMIN_LISTEN: '127.0.0.1:0',
        PORTCULLIS_UPSTREAM: upstream.url,
        PORTCULLIS_ADMIN_TOKEN: `pca_e2e_${randomUUID()}`,
      };
      return runCli(['serve'], env, dataDir, 15_000);
    };
    const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

    it('stops the gateway with code 1 and a one-line error naming a package that is not installed', async () => {
      const result = await serveWithPlugin('portcullis-provider-does-not-exist');
      expect(result.code, result.stderr).to.equal(1);
      const errors = lines(result.stderr).filter((l) => l.startsWith('portcullis:'));
      expect(errors, result.stderr).to.have.length(1);
      expect(errors[0]).to.include("'portcullis-provider-does-not-exist'");
      expect(result.stderr, 'no stack trace').not.to.match(/^\s+at /m);
    });

    it('stops the gateway with code 1 when the package exports no provider plugin', async () => {
      const result = await serveWithPlugin('ipaddr.js');
      expect(result.code, result.stderr).to.equal(1);
      const errors = lines(result.stderr).filter((l) => l.startsWith('portcullis:'));
      expect(errors, result.stderr).to.have.length(1);
      expect(errors[0]).to.include("'ipaddr.js'").and.include('does not default-export a provider plugin');
      expect(result.stderr).not.to.match(/^\s+at /m);
    });
  });
});

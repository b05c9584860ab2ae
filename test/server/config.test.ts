// Process configuration: defaults, portcullis.yaml, environment overrides, and errors that name the key but never a secret.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigFileError, loadProcessConfig, splitHostPort } from '../../server/config.js';

describe('server/config loadProcessConfig', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  function loadError(file: string | undefined, env: NodeJS.ProcessEnv = {}): ConfigFileError {
    try {
      loadProcessConfig(file, env, dir);
    } catch (err) {
      expect(err).to.be.instanceOf(ConfigFileError);
      return err as ConfigFileError;
    }
    return expect.fail('expected a ConfigFileError');
  }

  it('uses the documented defaults without a file or environment', () => {
    expect(loadProcessConfig(undefined, {}, dir)).to.deep.equal({
      store: 'sqlite:./data/portcullis.db',
      listen: '0.0.0.0:8080',
      adminListen: '127.0.0.1:8081',
      plugins: [],
      logLevel: 'info',
      upstreamTimeoutMs: 30_000,
      identityCacheSeconds: 60,
      identityFailureCacheSeconds: 5,
      identityCacheMaxEntries: 100_000,
      auditMaxBuffered: 100_000,
      checkpointEveryEvents: 100_000,
      checkpointEverySeconds: 60,
      redisKeyPrefix: 'portcullis:',
    });
  });

  it('reads portcullis.yaml from the working directory', () => {
    write(
      'portcullis.yaml',
      [
        'store: sqlite:/var/lib/portcullis/db',
        'listen: "[::1]:9080"',
        'adminListen: 127.0.0.1:9081',
        'upstream: https://jira.internal.example/',
        'adminToken: a-fixed-admin-token-of-32-chars!!',
        'redis: redis://127.0.0.1:6379',
        'plugins: [portcullis-provider-acme]',
        'logLevel: debug',
        'upstreamTimeoutMs: 1500',
      ].join('\n'),
    );
    expect(loadProcessConfig(undefined, {}, dir)).to.deep.equal({
      store: 'sqlite:/var/lib/portcullis/db',
      listen: '[::1]:9080',
      adminListen: '127.0.0.1:9081',
      upstream: 'https://jira.internal.example/',
      adminToken: 'a-fixed-admin-token-of-32-chars!!',
      redis: 'redis://127.0.0.1:6379',
      plugins: ['portcullis-provider-acme'],
      logLevel: 'debug',
      upstreamTimeoutMs: 1500,
      identityCacheSeconds: 60,
      identityFailureCacheSeconds: 5,
      identityCacheMaxEntries: 100_000,
      auditMaxBuffered: 100_000,
      checkpointEveryEvents: 100_000,
      checkpointEverySeconds: 60,
      redisKeyPrefix: 'portcullis:',
    });
  });

  it('reads the file named by --config, relative to the working directory', () => {
    write('other.yml', 'listen: 127.0.0.1:7000\n');
    expect(loadProcessConfig('other.yml', {}, dir).listen).to.equal('127.0.0.1:7000');
    expect(loadProcessConfig(join(dir, 'other.yml'), {}, '/').listen).to.equal('127.0.0.1:7000');
  });

  it('lets each environment variable override the file; empty variables are ignored', () => {
    write('portcullis.yaml', 'listen: 127.0.0.1:7000\nadminListen: 127.0.0.1:7001\nstore: sqlite:./a.db\nlogLevel: warn\n');
    const config = loadProcessConfig(undefined, {
      PORTCULLIS_LISTEN: '0.0.0.0:9000',
      PORTCULLIS_STORE: 'postgres://db.internal/portcullis',
      PORTCULLIS_UPSTREAM: 'http://127.0.0.1:3000',
      PORTCULLIS_ADMIN_TOKEN: 'env-admin-token-0123456789abcdef',
      PORTCULLIS_REDIS: 'redis://cache:6379',
      PORTCULLIS_LOG_LEVEL: 'error',
      PORTCULLIS_ADMIN_LISTEN: '',
    }, dir);
    expect(config).to.include({
      listen: '0.0.0.0:9000',
      adminListen: '127.0.0.1:7001',
      store: 'postgres://db.internal/portcullis',
      upstream: 'http://127.0.0.1:3000',
      adminToken: 'env-admin-token-0123456789abcdef',
      redis: 'redis://cache:6379',
      logLevel: 'error',
    });
  });

  it('refuses a redis value that is not a redis:// or rediss:// URL, without echoing it', () => {
    const message = loadError(undefined, { PORTCULLIS_REDIS: 'http://user:s3cret@cache:6379' }).message;
    expect(message).to.include('redis');
    expect(message).not.to.include('s3cret');
  });

  it('treats an empty file as no settings', () => {
    write('portcullis.yaml', '# nothing yet\n');
    expect(loadProcessConfig(undefined, {}, dir).listen).to.equal('0.0.0.0:8080');
  });

  it('refuses invalid YAML with an error naming the file', () => {
    const path = write('portcullis.yaml', 'listen: [unclosed\n  store: : :\n');
    const err = loadError(undefined);
    expect(err.name).to.equal('ConfigFileError');
    expect(err.message).to.include(path).and.include('not valid YAML');
  });

  it('refuses a YAML document that is not a mapping', () => {
    const path = write('portcullis.yaml', '- a\n- b\n');
    expect(loadError(undefined).message).to.include(path).and.include('mapping');
  });

  it('names the key of an invalid value', () => {
    write('portcullis.yaml', 'listen: nope\n');
    const err = loadError(undefined);
    expect(err.message).to.match(/\blisten: /);
    expect(err.message).to.include('host:port');
  });

  it('reads the identity cache and audit buffer caps and refuses them out of range', () => {
    write('portcullis.yaml', 'identityCacheMaxEntries: 5000\nauditMaxBuffered: 20000\n');
    expect(loadProcessConfig(undefined, {}, dir)).to.deep.include({ identityCacheMaxEntries: 5000, auditMaxBuffered: 20_000 });
    write('portcullis.yaml', 'identityCacheMaxEntries: 10\nauditMaxBuffered: 5\n');
    const err = loadError(undefined);
    expect(err.message).to.match(/\bidentityCacheMaxEntries: /);
    expect(err.message).to.match(/\bauditMaxBuffered: /);
  });

  it('reads storeSizeWarnBytes (absent by default) and refuses a size below 1 MB', () => {
    write('portcullis.yaml', 'logLevel: info\n');
    expect(loadProcessConfig(undefined, {}, dir)).to.not.have.property('storeSizeWarnBytes');
    write('portcullis.yaml', 'storeSizeWarnBytes: 10000000000\n');
    expect(loadProcessConfig(undefined, {}, dir)).to.deep.include({ storeSizeWarnBytes: 10_000_000_000 });
    write('portcullis.yaml', 'storeSizeWarnBytes: 10\n');
    expect(loadError(undefined).message).to.match(/\bstoreSizeWarnBytes: /);
  });

  it('reads where the checkpoint key is (file or PORTCULLIS_CHECKPOINT_KEY) and how often to sign, refusing intervals out of range', () => {
    write('portcullis.yaml', 'checkpointKey: /etc/portcullis/checkpoint.key\ncheckpointEveryEvents: 5000\ncheckpointEverySeconds: 300\n');
    expect(loadProcessConfig(undefined, {}, dir)).to.deep.include({ checkpointKey: '/etc/portcullis/checkpoint.key', checkpointEveryEvents: 5000, checkpointEverySeconds: 300 });
    expect(loadProcessConfig(undefined, { PORTCULLIS_CHECKPOINT_KEY: '/run/keys/cp.key' }, dir).checkpointKey).to.equal('/run/keys/cp.key');
    write('portcullis.yaml', 'checkpointEveryEvents: 0\ncheckpointEverySeconds: 86401\n');
    const err = loadError(undefined);
    expect(err.message).to.match(/\bcheckpointEveryEvents: /);
    expect(err.message).to.match(/\bcheckpointEverySeconds: /);
  });

  it('names an unknown key', () => {
    write('portcullis.yaml', 'lissten: 0.0.0.0:8080\n');
    expect(loadError(undefined).message).to.include('lissten');
  });

  it('names each invalid key at once, from the file and the environment', () => {
    write('portcullis.yaml', 'upstreamTimeoutMs: 5\nplugins: nope\n');
    const err = loadError(undefined, { PORTCULLIS_UPSTREAM: 'ftp://files.example', PORTCULLIS_LOG_LEVEL: 'loud' });
    for (const key of ['upstreamTimeoutMs', 'plugins', 'upstream', 'logLevel']) expect(err.message).to.include(`${key}: `);
  });

  it('never echoes a refused adminToken value', () => {
    const secret = 'short-Secret-99';
    write('portcullis.yaml', `adminToken: ${secret}\n`);
    const fromFile = loadError(undefined);
    expect(fromFile.message).to.include('adminToken');
    expect(fromFile.message).not.to.include(secret);

    const fromEnv = loadError(undefined, { PORTCULLIS_ADMIN_TOKEN: secret });
    expect(fromEnv.message).to.include('adminToken');
    expect(fromEnv.message).not.to.include(secret);
  });

  it('never echoes the adminToken from a file that is not valid YAML', () => {
    const secret = 'Zq7-very-secret-admin-token-value-1234';
    write('portcullis.yaml', `listen: 0.0.0.0:8080\nadminToken: "${secret}\n  store: [x\n`);
    expect(loadError(undefined).message).not.to.include(secret);
  });

  it('refuses a --config file that does not exist, naming it', () => {
    const err = loadError('missing.yaml');
    expect(err.message).to.include(join(dir, 'missing.yaml')).and.include('no such file');
  });

  it('splits host:port, IPv6 in brackets', () => {
    expect(splitHostPort('0.0.0.0:8080')).to.deep.equal({ host: '0.0.0.0', port: 8080 });
    expect(splitHostPort('[::1]:8081')).to.deep.equal({ host: '::1', port: 8081 });
  });
});

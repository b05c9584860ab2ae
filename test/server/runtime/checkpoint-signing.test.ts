// `serve` signs checkpoints with a key outside the store: created on first start (0600), reused after, its final checkpoint covering everything written.
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import { CHECKPOINT_STREAM, checkpointKey } from '../../../core/checkpoints/checkpoint.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { openEventStore } from '../../../core/store/open.js';
import { CheckpointKeyError, loadCheckpointKey } from '../../../server/checkpoint-key.js';
import { loadProcessConfig } from '../../../server/config.js';
import { serve } from '../../../server/serve.js';

describe('server: checkpoint signing in serve', () => {
  let dir: string;
  const store = () => `sqlite:${join(dir, 'data', 'portcullis.db')}`;
  const keyFile = () => join(dir, 'keys', 'checkpoint.key');
  const config = (extra: NodeJS.ProcessEnv = {}) =>
    loadProcessConfig(undefined, {
      PORTCULLIS_STORE: store(),
      PORTCULLIS_LISTEN: '127.0.0.1:0',
      PORTCULLIS_ADMIN_LISTEN: '127.0.0.1:0',
      PORTCULLIS_UPSTREAM: 'http://127.0.0.1:9',
      PORTCULLIS_ADMIN_TOKEN: 'a-fixed-admin-token-0123456789abcdef',
      ...extra,
    }, dir);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-signing-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function history() {
    const events = await openEventStore(store(), { readonly: true });
    try {
      return { checkpoints: await events.readStream(CHECKPOINT_STREAM), head: await events.headPosition(), verified: await verifyHistory(events) };
    } finally {
      await events.close();
    }
  }

  it('creates the key at checkpointKey (0600) on first start, signs at stop, and reuses the key on the next start', async () => {
    // History from before checkpoints existed (an upgraded store): the first checkpoint anchors it too.
    const earlier = await openEventStore(store());
    await earlier.append('s-1', [{ id: 'old', type: 'Tested', data: {} }]);
    await earlier.close();
    const first = await serve(config({ PORTCULLIS_CHECKPOINT_KEY: keyFile() }), silentLogger);
    expect(statSync(keyFile()).mode & 0o777).to.equal(0o600);
    const keyId = checkpointKey(createPrivateKey(readFileSync(keyFile(), 'utf8'))).keyId;
    await first.close();
    const once = await history();
    expect(once.checkpoints).to.have.length(1);
    // The last checkpoint covers everything before its own event.
    expect(once.checkpoints[0]?.position).to.equal(once.head);
    expect(once.verified).to.deep.include({ ok: true });
    expect(once.verified.checkpoints.keyIds).to.deep.equal([keyId]);

    const second = await serve(config({ PORTCULLIS_CHECKPOINT_KEY: keyFile() }), silentLogger);
    await second.close();
    const twice = await history();
    // Nothing but the first checkpoint was new at the second stop: no checkpoint of a checkpoint.
    expect(twice.checkpoints).to.have.length(1);
    expect(twice.verified.checkpoints.keyIds).to.deep.equal([keyId]);
  });

  it('keeps the key in the data directory when checkpointKey is not set, outside the store file', async () => {
    const running = await serve(config(), silentLogger);
    await running.close();
    expect(statSync(join(dir, 'data', 'checkpoint.key')).mode & 0o777).to.equal(0o600);
  });

  it('refuses to start with a key file that holds no Ed25519 key: the error names the file, never its content', async () => {
    await writeFile(join(dir, 'bad.key'), 'not-a-key-but-maybe-a-secret\n');
    let error: unknown;
    await serve(config({ PORTCULLIS_CHECKPOINT_KEY: join(dir, 'bad.key') }), silentLogger).then((r) => r.close(), (err: unknown) => (error = err));
    expect(error).to.be.instanceOf(CheckpointKeyError);
    expect((error as CheckpointKeyError).code).to.equal('checkpoint_key_invalid');
    expect((error as Error).message).to.contain(join(dir, 'bad.key')).and.not.contain('maybe-a-secret');
    // It released the store: another process can open it for writing.
    const again = await openEventStore(store());
    await again.close();
  });

  it('warns when an existing key file can be read by others', async () => {
    loadCheckpointKey(keyFile(), store(), silentLogger);
    await chmod(keyFile(), 0o644);
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))) };
    loadCheckpointKey(keyFile(), store(), logger);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.contain('chmod 600');
    expect(existsSync(join(dir, 'data')), 'loading a key opens no store').to.equal(false);
  });
});

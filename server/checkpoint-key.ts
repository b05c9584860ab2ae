// The key that signs checkpoints: a PEM file whose path the process configuration names, created on first start, never inside the store.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { checkpointKey, type CheckpointKey } from '../core/checkpoints/checkpoint.js';
import type { Logger } from '../core/logger.js';
import { dataDirectory } from './secret-key.js';
import { FileAccessError } from './system-error.js';

/** The key file does not hold an Ed25519 private key. */
export class CheckpointKeyError extends Error {
  override readonly name = 'CheckpointKeyError';
  readonly code = 'checkpoint_key_invalid';
}

/** `checkpointKey` (relative to the working directory), else `checkpoint.key` in the data directory. */
export function checkpointKeyFile(configured: string | undefined, storeUrl: string): string {
  return configured ? resolve(configured) : join(dataDirectory(storeUrl), 'checkpoint.key');
}

/**
 * Read the signing key, or create it (Ed25519, PKCS#8 PEM, mode 0600) when the file does not exist.
 * @throws CheckpointKeyError naming the file when it holds something else; FileAccessError when it cannot be read or written
 */
export function loadCheckpointKey(configured: string | undefined, storeUrl: string, logger: Logger): CheckpointKey {
  const file = checkpointKeyFile(configured, storeUrl);
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      throw new FileAccessError('write', file, err);
    }
    const key = checkpointKey(privateKey);
    logger.warn(
      { file, keyId: key.keyId },
      'generated the key that signs checkpoints: keep it where whoever can write the event store cannot, back it up, and export the checkpoints regularly (docs/audit.md#tamper-evidence)',
    );
    return key;
  }
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileAccessError('read', file, err);
  }
  let key: CheckpointKey;
  try {
    key = checkpointKey(createPrivateKey(pem));
  } catch {
    // Never the content: it is a private key, or was meant to be.
    throw new CheckpointKeyError(`${file} (checkpointKey) does not hold an Ed25519 private key in PEM`);
  }
  if ((statSync(file).mode & 0o077) !== 0) logger.warn({ file }, 'the checkpoint key file can be read by others than its owner: chmod 600 it');
  return key;
}

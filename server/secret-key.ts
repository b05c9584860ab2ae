// Where the key that seals provider secrets comes from: the process configuration, else a file beside the store.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from '../core/logger.js';
import { SecretBox } from '../core/secrets.js';
import { sqliteFile } from '../core/store/open.js';

/** Where keys made on first start go: the SQLite file's directory, or ./data for other stores. */
export function dataDirectory(storeUrl: string): string {
  const db = sqliteFile(storeUrl);
  return db ? dirname(db) : resolve('data');
}

/**
 * `secretKey` when configured; otherwise `secret.key` in the data directory (the SQLite file's
 * directory, or ./data), created on first start with a warning to back it up.
 */
export function loadSecretBox(configured: string | undefined, storeUrl: string, logger: Logger): SecretBox {
  if (configured) return SecretBox.fromEncodedKey(configured);
  const file = join(dataDirectory(storeUrl), 'secret.key');
  if (existsSync(file)) return SecretBox.fromEncodedKey(readFileSync(file, 'utf8'));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${SecretBox.generateEncodedKey()}\n`, { mode: 0o600, flag: 'wx' });
  logger.warn({ file }, 'generated the key that encrypts provider secrets: back this file up (without it stored client secrets cannot be read), or set PORTCULLIS_SECRET_KEY');
  return SecretBox.fromEncodedKey(readFileSync(file, 'utf8'));
}

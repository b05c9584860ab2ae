// The keys that sign identity assertions: a JSON file outside the store (like secret.key), read by every worker and node, rotated by `portcullis assertion-keys rotate`.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { dataDirectory } from './secret-key.js';
import { FileAccessError } from './system-error.js';

/** The signature algorithm: Ed25519 (RFC 8037 `EdDSA`). */
export const ASSERTION_ALG = 'EdDSA';
/** The longest an assertion lives (settings `assertion.ttlSeconds` is at most this). */
export const MAX_ASSERTION_TTL_SECONDS = 60;
/** Added to a retiring key's publication for clocks that disagree between the gateway and upstreams. */
export const CLOCK_SKEW_SECONDS = 30;
/** By default a rotated-in key is published this long before it signs: longer than the JWKS cache lifetime. */
export const DEFAULT_ACTIVATE_IN_SECONDS = 120;
/** `Cache-Control: max-age` of /_portcullis/jwks.json: shorter than the default publication lead. */
export const JWKS_MAX_AGE_SECONDS = 60;

/** The key file does not hold what it should (never its content in the message: it holds private keys). */
export class AssertionKeyError extends Error {
  override readonly name = 'AssertionKeyError';
  readonly code = 'assertion_keys_invalid';
}

const storedKeySchema = z
  .object({
    kid: z.string().min(1),
    /** Ed25519 private key, PKCS#8 PEM. */
    privateKey: z.string().min(1),
    /** ISO 8601: it signs from then on. */
    activeFrom: z.iso.datetime(),
    /** ISO 8601: no longer published from then on (set when a newer key replaces it). */
    retireAt: z.iso.datetime().optional(),
  })
  .strict();
const keyFileSchema = z.object({ keys: z.array(storedKeySchema).min(1) }).strict();
type StoredKey = z.output<typeof storedKeySchema>;

export interface AssertionKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** The public key as published: `kty`, `crv`, `x`, `kid`, `alg`, `use`. */
  readonly publicJwk: JWK;
  readonly activeFrom: number;
  readonly retireAt?: number;
}

/** The keys of the file, in the order they were added. */
export class AssertionKeySet {
  constructor(readonly keys: readonly AssertionKey[]) {}

  /** The key that signs at `now`: the newest one already active and not retired, if any. */
  signingKey(now: number): AssertionKey | undefined {
    let best: AssertionKey | undefined;
    for (const k of this.keys) {
      if (k.activeFrom > now || (k.retireAt !== undefined && k.retireAt <= now)) continue;
      if (!best || k.activeFrom >= best.activeFrom) best = k;
    }
    return best;
  }

  /** What /_portcullis/jwks.json publishes at `now`: every key not yet retired, a future one included. */
  published(now: number): JWK[] {
    return this.keys.filter((k) => k.retireAt === undefined || k.retireAt > now).map((k) => k.publicJwk);
  }
}

/** `assertionKeys` (relative to the working directory), else `assertion-keys.json` in the data directory. */
export function assertionKeysFile(configured: string | undefined, storeUrl: string): string {
  return configured ? resolve(configured) : join(dataDirectory(storeUrl), 'assertion-keys.json');
}

async function toKey(stored: StoredKey, file: string): Promise<AssertionKey> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(stored.privateKey);
  } catch {
    throw new AssertionKeyError(`${file}: key ${stored.kid} is not a private key in PEM`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AssertionKeyError(`${file}: key ${stored.kid} is not an Ed25519 key`);
  const jwk = await exportJWK(createPublicKey(privateKey));
  return {
    kid: stored.kid,
    privateKey,
    publicJwk: { ...jwk, kid: stored.kid, alg: ASSERTION_ALG, use: 'sig' },
    activeFrom: Date.parse(stored.activeFrom),
    ...(stored.retireAt !== undefined ? { retireAt: Date.parse(stored.retireAt) } : {}),
  };
}

function readStored(file: string): StoredKey[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileAccessError('read', file, err);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AssertionKeyError(`${file} (assertionKeys) is not JSON`);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new AssertionKeyError(`${file} (assertionKeys): ${first ? `${first.path.join('.') || '(file)'}: ${first.message}` : 'invalid'}`);
  }
  return parsed.data.keys;
}

/** A new Ed25519 key, named by its RFC 7638 thumbprint. */
async function newStoredKey(activeFrom: number): Promise<StoredKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  return { kid, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), activeFrom: new Date(activeFrom).toISOString() };
}

/** Replace the file in one rename, so a reader (another worker, another node) sees the old or the new one whole. */
function writeStored(file: string, keys: readonly StoredKey[]): void {
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(temp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  } catch (err) {
    throw new FileAccessError('write', file, err);
  }
}

/** Read the key file. @throws AssertionKeyError, FileAccessError */
export async function readAssertionKeys(file: string): Promise<AssertionKeySet> {
  return new AssertionKeySet(await Promise.all(readStored(file).map((k) => toKey(k, file))));
}

/**
 * Read the key file, or create it with one key active from `now` when it does not exist (the first
 * start). Workers starting together all end up reading the one file the first of them wrote.
 */
export async function loadAssertionKeys(file: string, now: number, logger: Logger): Promise<AssertionKeySet> {
  if (!existsSync(file)) {
    const first = await newStoredKey(now);
    try {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify({ keys: [first] }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      logger.warn({ file, keyId: first.kid }, 'generated the key that signs identity assertions: every worker and node must read this same file (docs/upstream-verification.md)');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new FileAccessError('write', file, err);
    }
  }
  const keys = await readAssertionKeys(file);
  if ((statSync(file).mode & 0o077) !== 0) logger.warn({ file }, 'the assertion key file can be read by others than its owner: chmod 600 it');
  return keys;
}

export interface Rotation {
  /** The new key: published at once, signing from `activeFrom`. */
  readonly kid: string;
  readonly activeFrom: string;
  /** Keys that stop signing when the new one starts, and stay published until their last assertion has expired. */
  readonly retiring: readonly { readonly kid: string; readonly retireAt: string }[];
  /** Keys past their retirement, taken out of the file. */
  readonly removed: readonly string[];
}

/**
 * Add a key that signs from `now + activateInSeconds`; every key not yet retiring retires once the
 * last assertion it can have signed has expired (the new key's start + the longest lifetime + skew);
 * keys already past retirement leave the file.
 */
export async function rotateAssertionKeys(file: string, now: number, activateInSeconds: number): Promise<Rotation> {
  const current = existsSync(file) ? readStored(file) : [];
  const activeFrom = now + activateInSeconds * 1000;
  const retireAt = new Date(activeFrom + (MAX_ASSERTION_TTL_SECONDS + CLOCK_SKEW_SECONDS) * 1000).toISOString();
  const removed = current.filter((k) => k.retireAt !== undefined && Date.parse(k.retireAt) <= now).map((k) => k.kid);
  const retiring: { kid: string; retireAt: string }[] = [];
  const kept = current
    .filter((k) => !removed.includes(k.kid))
    .map((k) => {
      if (k.retireAt !== undefined) return k;
      retiring.push({ kid: k.kid, retireAt });
      return { ...k, retireAt };
    });
  const added = await newStoredKey(activeFrom);
  writeStored(file, [...kept, added]);
  return { kid: added.kid, activeFrom: added.activeFrom, retiring, removed };
}

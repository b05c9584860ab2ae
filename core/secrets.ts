// Provider secrets at rest: sealed with AES-256-GCM under a key that never enters the event store.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { JsonObject, JsonValue } from './settings/merge-patch.js';
import { isJsonObject } from './settings/merge-patch.js';

const PREFIX = 'enc:v1:';
/** What every answer shows instead of a secret; sending it back means "keep the stored secret". */
export const MASK = '********';

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** A key as the process configuration carries it: 32 random bytes, base64 or base64url. */
  static fromEncodedKey(encoded: string): SecretBox {
    const key = Buffer.from(encoded.trim(), 'base64');
    if (key.length !== 32) throw new SecretKeyError('secretKey must be 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)');
    return new SecretBox(key);
  }

  static generateEncodedKey(): string {
    return randomBytes(32).toString('base64');
  }

  /**
   * A 32-byte key for another purpose (HKDF-SHA256 over this key, `purpose` as its info), so one
   * configured secret serves several uses without one use's key ever being another's.
   */
  deriveKey(purpose: string): Uint8Array {
    return new Uint8Array(hkdfSync('sha256', this.key, Buffer.alloc(0), `portcullis:${purpose}`, 32));
  }

  /** Seal the strings at `paths` (values already sealed are kept). */
  sealFields(config: JsonObject, paths: readonly string[]): JsonObject {
    return mapSecretFields(config, paths, (v) => (SecretBox.isSealed(v) ? v : this.seal(v)));
  }

  /** Open the sealed strings at `paths`. */
  openFields(config: JsonObject, paths: readonly string[]): JsonObject {
    return mapSecretFields(config, paths, (v) => (SecretBox.isSealed(v) ? this.open(v) : v));
  }

  static isSealed(value: unknown): value is string {
    return typeof value === 'string' && value.startsWith(PREFIX);
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** @throws SecretKeyError when the value was sealed under another key or altered. */
  open(sealed: string): string {
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError('a stored secret cannot be decrypted: was secretKey changed?');
    }
  }
}

/** What answers show: every secret field replaced by the mask. */
export function maskSecretFields(config: JsonObject, paths: readonly string[]): JsonObject {
  return mapSecretFields(config, paths, () => MASK);
}

/** A copy of `config` with `fn` applied to the string at each dot path that holds one. */
export function mapSecretFields(config: JsonObject, paths: readonly string[], fn: (value: string, path: string) => JsonValue): JsonObject {
  let out = config;
  for (const path of paths) {
    const parts = path.split('.');
    const update = (node: JsonValue | undefined, i: number): JsonValue | undefined => {
      if (!isJsonObject(node)) return node;
      const key = parts[i]!;
      if (!(key in node)) return node;
      const child = node[key];
      const next = i === parts.length - 1 ? (typeof child === 'string' ? fn(child, path) : child) : update(child, i + 1);
      return next === child ? node : { ...node, [key]: next as JsonValue };
    };
    out = update(out, 0) as JsonObject;
  }
  return out;
}

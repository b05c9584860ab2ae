// Gateway token format: `pcl_` + 43 base62 characters of randomness + a 6-character CRC32 checksum, stored only as a sha256.
import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const TOKEN_PREFIX = 'pcl_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 32 random bytes (256 bits) need 43 base62 digits. */
const RANDOM_BYTES = 32;
const BODY_LENGTH = 43;
/** CRC32 (at most 2^32 - 1) fits in 6 base62 digits. */
const CHECKSUM_LENGTH = 6;
export const TOKEN_LENGTH = TOKEN_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;

/** What secret scanners (and docs/tokens.md) match: the prefix and 49 base62 characters. */
export const TOKEN_PATTERN = /^pcl_[0-9A-Za-z]{49}$/;

function base62(value: bigint, length: number): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)]! + out;
    rest /= 62n;
  }
  return out.padStart(length, '0');
}

const checksumOf = (body: string): string => base62(BigInt(crc32(TOKEN_PREFIX + body)), CHECKSUM_LENGTH);

/** A new token secret. Shown once to whoever asked for it; only its hash is ever stored. */
export function generateToken(): string {
  const body = base62(BigInt(`0x${randomBytes(RANDOM_BYTES).toString('hex')}`), BODY_LENGTH);
  return TOKEN_PREFIX + body + checksumOf(body);
}

/** Looks like a gateway token (the prefix): the gateway, not a provider, judges it. */
export const hasTokenPrefix = (secret: string): boolean => secret.startsWith(TOKEN_PREFIX);

/** Shape and checksum hold: a typo or a truncated copy fails here, before any lookup. */
export function isWellFormedToken(secret: string): boolean {
  if (secret.length !== TOKEN_LENGTH || !TOKEN_PATTERN.test(secret)) return false;
  const body = secret.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY_LENGTH);
  return secret.slice(-CHECKSUM_LENGTH) === checksumOf(body);
}

/**
 * The stored form: sha256 of the whole token, hex. Tokens carry 256 random bits, so no salt or slow hash is needed.
 * One-shot `hash`, not `createHash`: every gateway-token request hashes, and a Hash object per request
 * costs 6× the time and leaves native memory behind until the next scavenge.
 */
export const hashToken = (token: string): string => hash('sha256', token, 'hex');

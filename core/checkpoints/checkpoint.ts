// A signed checkpoint: an Ed25519 signature over the chain's length and head hash at a position, so a rewritten chain no longer matches it.
import { createPublicKey, hash, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';

import { canonicalJson } from '../store/hash.js';
import type { Position } from '../store/port.js';

/** The stream the signer appends its checkpoints to: in the chain like every other event. */
export const CHECKPOINT_STREAM = 'checkpoints';
export const CHECKPOINT_SIGNED = 'ChainCheckpointSigned';

/** What a checkpoint asserts; these fields, and only these, are signed. */
export interface CheckpointStatement {
  /** Position of the last event the checkpoint covers. */
  readonly position: Position;
  /** Events in the chain from the first through `position` (events retention dropped included). */
  readonly count: number;
  /** The hash of the event at `position`: the chain's head there. */
  readonly hash: string;
  /** When it was signed, ISO 8601. */
  readonly time: string;
  /** RFC 7638 thumbprint of the public key (see {@link keyIdOf}). */
  readonly keyId: string;
}

/** A checkpoint as stored (the data of a `ChainCheckpointSigned` event) and exported: it verifies on its own. */
export interface SignedCheckpoint extends CheckpointStatement {
  readonly algorithm: 'Ed25519';
  /** The raw public key, base64url (a JWK's `x`). */
  readonly publicKey: string;
  /** Ed25519 signature over {@link signedBytes}, base64url. */
  readonly signature: string;
}

/** The private key and what identifies it; the private key never leaves the process that loaded it. */
export interface CheckpointKey {
  readonly privateKey: KeyObject;
  readonly publicKey: string;
  readonly keyId: string;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const signedCheckpointSchema = z.object({
  position: z.string().regex(/^(0|[1-9]\d{0,15})$/),
  count: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.iso.datetime(),
  keyId: z.string().regex(BASE64URL),
  algorithm: z.literal('Ed25519'),
  publicKey: z.string().regex(BASE64URL),
  signature: z.string().regex(BASE64URL),
});

// A prefix no other signed message starts with, so a checkpoint signature means nothing anywhere else.
const DOMAIN = 'portcullis-checkpoint-v1\n';

/** The bytes the signature covers: the domain line, then the statement's canonical JSON. */
export function signedBytes(statement: CheckpointStatement): Buffer {
  const { position, count, hash: head, time, keyId } = statement;
  return Buffer.from(DOMAIN + canonicalJson({ count, hash: head, keyId, position, time }), 'utf8');
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key given as its JWK `x`. */
export function keyIdOf(publicKey: string): string {
  return hash('sha256', `{"crv":"Ed25519","kty":"OKP","x":"${publicKey}"}`, 'base64url');
}

/**
 * Wrap an Ed25519 private key for signing.
 * @throws TypeError when it is not an Ed25519 private key
 */
export function checkpointKey(privateKey: KeyObject): CheckpointKey {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('a checkpoint key must be an Ed25519 private key');
  }
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof x !== 'string') throw new TypeError('a checkpoint key must be an Ed25519 private key');
  return { privateKey, publicKey: x, keyId: keyIdOf(x) };
}

export function signCheckpoint(statement: Omit<CheckpointStatement, 'keyId'>, key: CheckpointKey): SignedCheckpoint {
  const full: CheckpointStatement = { ...statement, keyId: key.keyId };
  const signature = sign(null, signedBytes(full), key.privateKey).toString('base64url');
  return { position: full.position, count: full.count, hash: full.hash, time: full.time, keyId: full.keyId, algorithm: 'Ed25519', publicKey: key.publicKey, signature };
}

/** True when the signature verifies with the public key the checkpoint carries, and that key is the one its keyId names. */
export function hasValidSignature(checkpoint: SignedCheckpoint): boolean {
  if (keyIdOf(checkpoint.publicKey) !== checkpoint.keyId) return false;
  try {
    const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: checkpoint.publicKey }, format: 'jwk' });
    return verify(null, signedBytes(checkpoint), publicKey, Buffer.from(checkpoint.signature, 'base64url'));
  } catch {
    // A public key that is not 32 bytes, a signature that is not 64: not a valid signature.
    return false;
  }
}

/** The checkpoint in `value`, or undefined when it does not have a checkpoint's shape (the signature is not checked here). */
export function parseSignedCheckpoint(value: unknown): SignedCheckpoint | undefined {
  const parsed = signedCheckpointSchema.safeParse(value);
  if (!parsed.success) return undefined;
  const { position, ...rest } = parsed.data;
  return { ...rest, position: position as Position };
}

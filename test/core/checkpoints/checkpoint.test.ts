// A signed checkpoint verifies on its own, with the key it names, and stops verifying when any signed field changes.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';
import { calculateJwkThumbprint } from 'jose';

import { checkpointKey, hasValidSignature, keyIdOf, parseSignedCheckpoint, signCheckpoint, type SignedCheckpoint } from '../../../core/checkpoints/checkpoint.js';
import type { Position } from '../../../core/store/port.js';

const newKey = () => checkpointKey(generateKeyPairSync('ed25519').privateKey);
const STATEMENT = { position: '42' as Position, count: 40, hash: 'ab'.repeat(32), time: '2024-01-02T03:04:05.006Z' };

describe('signed checkpoints', () => {
  const key = newKey();
  const signed = signCheckpoint(STATEMENT, key);

  it('carry the statement, the key id and public key, and a signature that verifies', () => {
    expect(signed).to.deep.include({ ...STATEMENT, keyId: key.keyId, algorithm: 'Ed25519', publicKey: key.publicKey });
    expect(Buffer.from(signed.signature, 'base64url')).to.have.length(64);
    expect(hasValidSignature(signed)).to.equal(true);
    // The same statement signed again gives the same bytes (Ed25519 is deterministic).
    expect(signCheckpoint(STATEMENT, key)).to.deep.equal(signed);
  });

  it('the key id is the RFC 7638 thumbprint of the public key', async () => {
    expect(key.keyId).to.equal(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: key.publicKey }, 'sha256'));
    expect(keyIdOf(key.publicKey)).to.equal(key.keyId);
  });

  const changes: [string, Partial<SignedCheckpoint>][] = [
    ['position', { position: '43' as Position }],
    ['count', { count: 41 }],
    ['hash', { hash: 'cd'.repeat(32) }],
    ['time', { time: '2024-01-02T03:04:05.007Z' }],
    ['signature', { signature: signCheckpoint({ ...STATEMENT, count: 1 }, key).signature }],
    ['signature length', { signature: signed.signature.slice(0, 40) }],
  ];
  for (const [what, change] of changes) {
    it(`stop verifying when the ${what} changes`, () => {
      expect(hasValidSignature({ ...signed, ...change })).to.equal(false);
    });
  }

  it('stop verifying under another public key, whether or not the key id follows it', () => {
    const other = newKey();
    expect(hasValidSignature({ ...signed, publicKey: other.publicKey })).to.equal(false);
    expect(hasValidSignature({ ...signed, publicKey: other.publicKey, keyId: other.keyId })).to.equal(false);
    expect(hasValidSignature({ ...signed, publicKey: 'AAAA', keyId: keyIdOf('AAAA') })).to.equal(false);
  });

  it('need an Ed25519 private key', () => {
    expect(() => checkpointKey(generateKeyPairSync('ed448').privateKey)).to.throw(TypeError);
    expect(() => checkpointKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)).to.throw(TypeError);
    expect(() => checkpointKey(generateKeyPairSync('ed25519').publicKey)).to.throw(TypeError);
  });

  it('are read back only from a checkpoint-shaped value', () => {
    expect(parseSignedCheckpoint(JSON.parse(JSON.stringify(signed)))).to.deep.equal(signed);
    for (const bad of [null, 'x', { ...signed, position: 'p' }, { ...signed, count: 0 }, { ...signed, hash: 'AB'.repeat(32) }, { ...signed, algorithm: 'RS256' }, { ...signed, time: 'yesterday' }, { ...signed, signature: undefined }]) {
      expect(parseSignedCheckpoint(bad), JSON.stringify(bad)).to.equal(undefined);
    }
  });
});

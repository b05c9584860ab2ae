// Bench credentials: one RS256 key, JWTs signed with it (a few, and a large file of distinct ones, cached between runs), opaque tokens.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export const ISSUER = 'https://idp.bench.test';
export const AUDIENCE = 'https://api.bench.test';
export const KID = 'bench-rs256';
const TTL_SECONDS = 7 * 24 * 3600;

export interface TokenSet {
  readonly dir: string;
  /** The public key as a JWK set (served by the bench's IdP). */
  readonly jwks: { keys: Record<string, unknown>[] };
  readonly publicKey: KeyObject;
  /** Files of tokens, one per line. */
  readonly fewJwt: string;
  readonly manyJwt: string;
  readonly manyCount: number;
  readonly fewOpaque: string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function signRange(pem: string, from: number, to: number, exp: number): string[] {
  const key = createPrivateKey(pem);
  const header = b64({ alg: 'RS256', kid: KID, typ: 'JWT' });
  const iat = exp - TTL_SECONDS;
  const out: string[] = [];
  for (let i = from; i < to; i++) {
    const payload = b64({
      iss: ISSUER,
      sub: `user-${i % 1000}`,
      aud: AUDIENCE,
      iat,
      exp,
      jti: `${i}-${randomBytes(6).toString('hex')}`,
      preferred_username: `user${i % 1000}`,
      groups: ['developers', 'bench'],
      scope: 'api:read',
    });
    const input = `${header}.${payload}`;
    out.push(`${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`);
  }
  return out;
}

/** Sign `count` tokens on `threads` worker threads (RSA signing is slow: ~1k/s per core). */
async function signMany(pem: string, count: number, exp: number, threads: number): Promise<string[]> {
  const per = Math.ceil(count / threads);
  const parts = await Promise.all(
    Array.from({ length: threads }, (_, t) =>
      new Promise<string[]>((resolve, reject) => {
        const worker = new Worker(new URL(import.meta.url), { workerData: { pem, from: t * per, to: Math.min(count, (t + 1) * per), exp } });
        worker.once('message', (m: string[]) => resolve(m));
        worker.once('error', reject);
      }),
    ),
  );
  return parts.flat();
}

/** The cached key and tokens (under the system temp dir), made or topped up when missing, too few or near expiry. */
export async function prepareTokens(manyCount: number, log: (line: string) => void): Promise<TokenSet> {
  const dir = join(tmpdir(), 'portcullis-bench-cache');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const metaFile = join(dir, 'meta.json');
  const keyFile = join(dir, 'key.pem');
  const manyJwt = join(dir, 'jwt-many.txt');
  const fewJwt = join(dir, 'jwt-few.txt');
  const fewOpaque = join(dir, 'opaque-few.txt');
  const now = Math.floor(Date.now() / 1000);
  const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as { count: number; exp: number }) : undefined;
  const fresh = meta !== undefined && meta.count >= manyCount && meta.exp > now + 3600 && existsSync(keyFile) && existsSync(manyJwt);
  if (!fresh) {
    const started = Date.now();
    log(`signing ${manyCount} RS256 tokens (cached for later runs in ${dir})...`);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const exp = now + TTL_SECONDS;
    const tokens = await signMany(pem, manyCount, exp, 2);
    writeFileSync(keyFile, pem, { mode: 0o600 });
    writeFileSync(manyJwt, `${tokens.join('\n')}\n`);
    writeFileSync(fewJwt, `${signRange(pem, 1_000_000, 1_000_005, exp).join('\n')}\n`);
    writeFileSync(metaFile, JSON.stringify({ count: manyCount, exp }));
    log(`signed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  writeFileSync(fewOpaque, `${Array.from({ length: 5 }, () => `opq-${randomBytes(24).toString('base64url')}`).join('\n')}\n`);
  const publicKey = createPublicKey(readFileSync(keyFile, 'utf8'));
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    dir,
    jwks: { keys: [{ ...jwk, kid: KID, alg: 'RS256', use: 'sig' }] },
    publicKey,
    fewJwt,
    manyJwt,
    manyCount: readFileSync(manyJwt, 'utf8').split('\n').filter(Boolean).length,
    fewOpaque,
  };
}

if (!isMainThread && parentPort) {
  const { pem, from, to, exp } = workerData as { pem: string; from: number; to: number; exp: number };
  parentPort.postMessage(signRange(pem, from, to, exp));
}

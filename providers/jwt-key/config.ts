// Configuration of the `jwt-key` provider kind: a key the admin configured (public key or shared secret), checked once.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  asymmetricAlgorithm, claimPaths, clockSkewSeconds, oneOrMore, requiredScopes,
} from '../sdk/index.js';

const HMAC_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 };
const EC_ALGORITHM: Readonly<Record<string, string>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];

/** A public key as JWK: private members are refused (they would sit unencrypted in the configuration). */
const publicJwk = z.looseObject({ kty: z.string() }).superRefine((jwk, ctx) => {
  for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
    if (member in jwk) ctx.addIssue({ code: 'custom', message: `a public key must not contain '${member}' (private or symmetric key material)` });
  }
});

export const jwtKeyConfigSchema = z
  .strictObject({
    /** PEM `-----BEGIN PUBLIC KEY-----` (SPKI) or a public JWK. Exclusive with `secret`. */
    publicKey: z.union([z.string().min(1), publicJwk]).optional(),
    /** Shared HMAC secret (secret field). Exclusive with `publicKey`. */
    secret: z.string().min(1).optional(),
    secretEncoding: z.enum(['utf8', 'base64', 'base64url']).default('utf8'),
    /** Default: the one algorithm the key implies (RS256, PS256 for RSA-PSS keys, ES256/384/512 by curve, EdDSA, HS256). */
    algorithms: z.array(z.union([asymmetricAlgorithm, z.enum(['HS256', 'HS384', 'HS512'])])).min(1, 'give at least one algorithm').optional(),
    /** Exact `iss`; when set, tokens are routed here by issuer and other issuers are refused. */
    issuer: z.string().min(1).optional(),
    audience: oneOrMore('audience').optional(),
    clockSkewSeconds,
    usernameClaim: claimPaths.default('preferred_username'),
    emailClaim: claimPaths.default('email'),
    groupsClaim: claimPaths.default('groups'),
    /** Stripped from the start of the username (`CORP\`). */
    usernamePrefix: z.string().min(1).optional(),
    requiredScopes,
  })
  .superRefine((config, ctx) => {
    const resolved = resolveKey(config);
    if (!resolved.ok) ctx.addIssue({ code: 'custom', path: [resolved.path], message: resolved.message });
  });

/** A validated `jwt-key` configuration (defaults applied). */
export type JwtKeyConfig = z.output<typeof jwtKeyConfigSchema>;

/** The verification key and the algorithms it may verify. */
export interface ResolvedKey {
  readonly key: KeyObject | Uint8Array;
  readonly algorithms: readonly string[];
  /** `kid` of a JWK: tokens naming another key id are not for this key. */
  readonly kid?: string;
}

type Resolution = ({ ok: true } & ResolvedKey) | { ok: false; path: string; message: string };

type KeyFields = Pick<JwtKeyConfig, 'publicKey' | 'secret' | 'secretEncoding' | 'algorithms'>;

/** Parse the key and pick or check the algorithms. Pure, so the schema and the factory agree. */
export function resolveKey(config: KeyFields): Resolution {
  const { publicKey, secret } = config;
  if ((publicKey === undefined) === (secret === undefined)) {
    return { ok: false, path: publicKey === undefined ? 'publicKey' : 'secret', message: 'give exactly one of publicKey and secret' };
  }
  if (secret !== undefined) {
    const bytes = new Uint8Array(Buffer.from(secret, config.secretEncoding));
    const algorithms = config.algorithms ?? ['HS256'];
    const bad = algorithms.find((alg) => HMAC_BYTES[alg] === undefined);
    if (bad !== undefined) return { ok: false, path: 'algorithms', message: `'${bad}' cannot be used with a secret; use HS256, HS384 or HS512` };
    const needed = Math.max(...algorithms.map((alg) => HMAC_BYTES[alg] ?? 0));
    if (bytes.byteLength < needed) return { ok: false, path: 'secret', message: `the secret must be at least ${needed} bytes for ${algorithms.join(', ')}` };
    return { ok: true, key: bytes, algorithms };
  }
  if (publicKey === undefined) return { ok: false, path: 'publicKey', message: 'give exactly one of publicKey and secret' };
  let key: KeyObject;
  let jwkAlg: unknown;
  let kid: string | undefined;
  try {
    if (typeof publicKey === 'string') {
      if (!/^\s*-----BEGIN PUBLIC KEY-----/.test(publicKey)) {
        return { ok: false, path: 'publicKey', message: 'publicKey must be a PEM public key (-----BEGIN PUBLIC KEY-----) or a JWK' };
      }
      key = createPublicKey({ key: publicKey, format: 'pem' });
    } else {
      key = createPublicKey({ key: publicKey as JsonWebKey, format: 'jwk' });
      jwkAlg = publicKey['alg'];
      kid = typeof publicKey['kid'] === 'string' ? publicKey['kid'] : undefined;
    }
  } catch {
    return { ok: false, path: 'publicKey', message: 'publicKey cannot be read as a public key' };
  }
  const fits = algorithmsFor(key);
  if (fits.length === 0) return { ok: false, path: 'publicKey', message: `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}` };
  const algorithms = config.algorithms ?? [typeof jwkAlg === 'string' && fits.includes(jwkAlg) ? jwkAlg : fits[0]!];
  const bad = algorithms.find((alg) => !fits.includes(alg) || (typeof jwkAlg === 'string' && alg !== jwkAlg));
  if (bad !== undefined) {
    return { ok: false, path: 'algorithms', message: `'${bad}' does not fit this ${key.asymmetricKeyType} key; use ${typeof jwkAlg === 'string' ? jwkAlg : fits.join(', ')}` };
  }
  return { ok: true, key, algorithms, ...(kid === undefined ? {} : { kid }) };
}

function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return RSA_ALGORITHMS;
    case 'rsa-pss':
      return RSA_ALGORITHMS.filter((a) => a.startsWith('PS'));
    case 'ec': {
      const alg = EC_ALGORITHM[key.asymmetricKeyDetails?.namedCurve ?? ''];
      return alg === undefined ? [] : [alg];
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      return [];
  }
}

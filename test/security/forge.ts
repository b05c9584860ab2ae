// Forged JWTs from data: a corpus entry describes header, claims and how to sign; forge() builds the compact token.
import { createHmac, createSign, type KeyObject } from 'node:crypto';

/** How the forged token is signed. */
export type SignMode =
  /** RS256 with the issuer's real key (the token verifies unless a claim or header is wrong). */
  | 'ours'
  /** RS256 with the attacker's own RSA key (not in the issuer's key set). */
  | 'attacker'
  /** No signature at all (empty third part). */
  | 'none'
  /** HMAC keyed with the issuer's public key as PEM (SPKI): the classic RS/HS confusion. */
  | 'hmac-public-pem'
  /** HMAC keyed with the issuer's public key as its JWK JSON. */
  | 'hmac-public-jwk'
  /** HMAC keyed with the public modulus `n` (base64url text). */
  | 'hmac-public-n'
  /** HMAC keyed with the public key's DER bytes. */
  | 'hmac-public-der'
  /** A signature of random-looking bytes. */
  | 'garbage';

export interface TokenSpec {
  /** Merged over `{alg: 'RS256', typ: 'JWT', kid: 'k1'}`; a value of null removes the field. */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Merged over valid claims (our iss and aud, sub, exp in 10 min); null removes a claim. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Literal header / payload text instead of JSON (encoded as given, base64url). */
  readonly rawHeader?: string;
  readonly rawPayload?: string;
  readonly sign: SignMode;
  /** HMAC hash when sign is hmac-*: 256 (default), 384 or 512. */
  readonly hmacBits?: 256 | 384 | 512;
  /** Applied to the finished compact token (after signing). */
  readonly mutate?:
    | 'tamper-payload'
    | 'tamper-header'
    | 'truncate-signature'
    | 'strip-signature'
    | 'five-parts'
    | 'four-parts'
    | 'two-parts'
    | 'six-parts'
    | 'standard-base64'
    | 'padded'
    | 'nested-jws'
    | 'swap-signature';
}

/** Key material and addresses the corpus refers to by placeholder. */
export interface ForgeContext {
  readonly issuer: string;
  readonly audience: string;
  /** Seconds since the epoch, as the gateway's clock reads it. */
  readonly now: number;
  readonly ourPrivate: KeyObject;
  readonly ourPublic: KeyObject;
  readonly attackerPrivate: KeyObject;
  /** Placeholders such as {{ATTACKER}} → their values. */
  readonly placeholders: Readonly<Record<string, string>>;
}

const b64u = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Replace {{NAME}} placeholders in strings, deeply. */
export function fill<T>(value: T, placeholders: Readonly<Record<string, string>>): T {
  if (typeof value === 'string') return value.replace(/\{\{([A-Z_]+)\}\}/g, (m, k: string) => placeholders[k] ?? m) as T;
  if (Array.isArray(value)) return value.map((v) => fill(v, placeholders)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fill(k, placeholders), fill(v, placeholders)])) as T;
  }
  return value;
}

function merge(base: Record<string, unknown>, over: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function signature(mode: SignMode, input: string, ctx: ForgeContext, bits: number): string {
  const hmac = (key: Buffer | string) => b64u(createHmac(`sha${bits}`, key).update(input).digest());
  switch (mode) {
    case 'ours':
      return b64u(createSign('sha256').update(input).sign(ctx.ourPrivate));
    case 'attacker':
      return b64u(createSign('sha256').update(input).sign(ctx.attackerPrivate));
    case 'none':
      return '';
    case 'hmac-public-pem':
      return hmac(ctx.ourPublic.export({ type: 'spki', format: 'pem' }) as string);
    case 'hmac-public-jwk':
      return hmac(JSON.stringify(ctx.ourPublic.export({ format: 'jwk' })));
    case 'hmac-public-n':
      return hmac(String(ctx.ourPublic.export({ format: 'jwk' }).n));
    case 'hmac-public-der':
      return hmac(ctx.ourPublic.export({ type: 'spki', format: 'der' }));
    case 'garbage':
      return b64u(Buffer.alloc(256, 0x41));
  }
}

/** Build the compact token a spec describes. */
export function forge(spec: TokenSpec, ctx: ForgeContext): string {
  const filled = fill(spec, ctx.placeholders);
  const header = merge({ alg: 'RS256', typ: 'JWT', kid: 'k1' }, filled.header);
  const claims = merge(
    { iss: ctx.issuer, aud: ctx.audience, sub: 'mallory', preferred_username: 'mallory', groups: ['devs'], iat: ctx.now - 60, exp: ctx.now + 600 },
    filled.claims,
  );
  const h = b64u(filled.rawHeader ?? JSON.stringify(header));
  const p = b64u(filled.rawPayload ?? JSON.stringify(claims));
  const input = `${h}.${p}`;
  const token = `${input}.${signature(filled.sign, input, ctx, filled.hmacBits ?? 256)}`;
  const [, , s = ''] = token.split('.');
  switch (filled.mutate) {
    case undefined:
      return token;
    case 'tamper-payload':
      return `${h}.${b64u(JSON.stringify({ ...claims, sub: 'admin', groups: ['admins'] }))}.${s}`;
    case 'tamper-header':
      return `${b64u(JSON.stringify({ ...header, kid: 'k1', x: 1 }))}.${p}.${s}`;
    case 'truncate-signature':
      return `${input}.${s.slice(0, Math.floor(s.length / 2))}`;
    case 'strip-signature':
      return `${input}.`;
    case 'five-parts':
      return `${token}.${b64u('iv')}.${b64u('tag')}`;
    case 'four-parts':
      return `${token}.${b64u('extra')}`;
    case 'two-parts':
      return input;
    case 'six-parts':
      return `${token}.a.b.c`;
    case 'standard-base64':
      return token.replace(/-/g, '+').replace(/_/g, '/') + (token.includes('-') || token.includes('_') ? '' : '+/');
    case 'padded':
      return `${token}==`;
    case 'nested-jws': {
      // The inner token is ours and valid; the outer is signed by the attacker and carries it as its payload.
      const outerHeader = b64u(JSON.stringify({ ...header, cty: 'JWT' }));
      const outerPayload = b64u(token);
      const outerInput = `${outerHeader}.${outerPayload}`;
      return `${outerInput}.${signature('attacker', outerInput, ctx, 256)}`;
    }
    case 'swap-signature': {
      // A valid signature of our issuer over some other token, glued onto this one.
      const other = `${h}.${b64u(JSON.stringify({ ...claims, sub: 'someone-else' }))}`;
      return `${input}.${signature('ours', other, ctx, 256)}`;
    }
  }
}

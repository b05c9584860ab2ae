// Test helpers shared by the JWT provider kinds' tests: keys, signed tokens, deps and result assertions.
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWSHeaderParameters, type JWTPayload } from 'jose';
import type { Credential, Identity } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { IdentityCache } from '../../core/identity-cache.js';
import { silentLogger } from '../../core/logger.js';
import type { AuthResult, ProviderDeps } from '../../core/provider.js';
import type nock from 'nock';
import type { Scheduler } from '../../providers/sdk/index.js';

export const T0 = Date.UTC(2030, 0, 1);

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

export async function makeKey(kid: string, alg = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), alg, use: 'sig', kid };
  return { kid, alg, privateKey, publicKey, jwk };
}

export const jwks = (...keys: TestKey[]) => ({ keys: keys.map((k) => k.jwk) });

/** Sign `claims` (a claim set to undefined is left out) with a fresh `iat`. */
export async function signWith(key: TestKey, clock: ManualClock, claims: JWTPayload, header: Partial<JWSHeaderParameters> = {}): Promise<string> {
  const payload: JWTPayload = { iat: Math.floor(clock.now() / 1000), ...claims };
  for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

/** Timers that never fire: start-up retries stay pending and are dropped on close. */
export const idleScheduler: Scheduler = { set: () => 0, clear: () => {} };

export function makeDeps(clock: ManualClock, id = 'corp'): ProviderDeps & { cache: IdentityCache } {
  return { id, fetch: globalThis.fetch, clock, logger: silentLogger, cache: new IdentityCache({ clock }) };
}

export const bearer = (secret: string): Credential => ({ scheme: 'bearer', secret });

export function expectFailure(result: AuthResult, code: string, description: string): void {
  expect(result).to.deep.equal({ outcome: 'failure', code, description });
}

export function expectNotResponsible(result: AuthResult): void {
  expect(result).to.deep.equal({ outcome: 'not_responsible' });
}

export function identityOf(result: AuthResult): Identity {
  if (result.outcome !== 'identity') throw new Error(`expected identity, got ${JSON.stringify(result)}`);
  return result.identity;
}

/** The field paths of a schema's refusal, for config tests. */
export function issuePaths(result: { ok: boolean; issues?: readonly { path: string }[] }): string[] {
  return result.ok ? [] : (result.issues ?? []).map((i) => i.path);
}

export interface FetchLimits {
  timeoutMs?: number;
  maxBytes?: number;
}

/** Ways a provider endpoint can fail, with the outbound limits that provoke them and the UpstreamHttpError code. */
export function outages(intercept: () => nock.Interceptor, good: () => object): [string, () => void, FetchLimits, string][] {
  return [
    ['a 503', () => intercept().reply(503, { error: 'unavailable' }), {}, 'http_status'],
    ['an answer slower than the timeout', () => intercept().delay(300).reply(200, good()), { timeoutMs: 50 }, 'timeout'],
    ['malformed JSON', () => intercept().reply(200, '{"keys": [', { 'content-type': 'application/json' }), {}, 'malformed'],
    ['an oversized body', () => intercept().reply(200, { ...good(), pad: 'x'.repeat(8_192) }), { maxBytes: 4_096 }, 'too_large'],
  ];
}

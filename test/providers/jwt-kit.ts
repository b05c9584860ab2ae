// Test helpers shared by the JWT provider kinds' tests: keys, signed tokens, deps and result assertions.
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWSHeaderParameters, type JWTPayload } from 'jose';
import type { Credential, Identity } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { IdentityCache } from '../../core/identity-cache.js';
import { silentLogger, type Logger } from '../../core/logger.js';
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

export interface LogRecord {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly msg: string | undefined;
}

/** A logger keeping every record, to read what the operator would. */
export function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (a: Record<string, unknown> | string, msg?: string) =>
    void records.push(typeof a === 'string' ? { level, fields: {}, msg: a } : { level, fields: a, msg });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger, records };
  return logger as Logger & { records: LogRecord[] };
}

/** Timers fired by hand: the delays asked for, and the ones still pending. */
export function manualScheduler(): Scheduler & { delays: number[]; pending: Map<number, () => void>; fire(): void } {
  let next = 0;
  const pending = new Map<number, () => void>();
  const delays: number[] = [];
  return {
    delays,
    pending,
    set: (fn, ms) => {
      delays.push(ms);
      pending.set(++next, fn);
      return next;
    },
    clear: (handle) => void pending.delete(handle as number),
    fire() {
      const due = [...pending];
      pending.clear();
      for (const [, fn] of due) fn();
    },
  };
}

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

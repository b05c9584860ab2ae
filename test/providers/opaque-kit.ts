// Test helpers for the provider kinds that validate opaque tokens by asking the provider (not a test file itself).
import { expect } from 'chai';
import type { Credential, Identity } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { IdentityCache } from '../../core/identity-cache.js';
import { silentLogger } from '../../core/logger.js';
import type { AuthResult, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { validateWith } from '../../core/validate.js';

export const T0 = Date.UTC(2030, 0, 1);

export interface Harness {
  readonly clock: ManualClock;
  readonly cache: IdentityCache;
  readonly deps: ProviderDeps;
}

export function harness(id = 'test-provider'): Harness {
  const clock = new ManualClock(T0);
  const cache = new IdentityCache({ clock });
  return { clock, cache, deps: { id, fetch: globalThis.fetch, clock, logger: silentLogger, cache } };
}

export const bearer = (secret: string): Credential => ({ scheme: 'bearer', secret });
export const basic = (username: string, secret: string): Credential => ({ scheme: 'basic', username, secret });

export function expectFailure(result: AuthResult, code: string, description: string): void {
  expect(result).to.deep.equal({ outcome: 'failure', code, description });
}

export function identityOf(result: AuthResult): Identity {
  if (result.outcome !== 'identity') throw new Error(`expected identity, got ${JSON.stringify(result)}`);
  return result.identity;
}

/** Validate a config with the plugin's schema; throws with the issues when refused. */
export async function configOf<C>(plugin: ProviderPlugin<C>, raw: unknown): Promise<C> {
  const r = await validateWith(plugin.configSchema, raw);
  if (!r.ok) throw new Error(`config refused: ${JSON.stringify(r.issues)}`);
  return r.value;
}

/** The field paths a config is refused for, or [] when accepted. */
export async function issuesOf<C>(plugin: ProviderPlugin<C>, raw: unknown): Promise<string[]> {
  const r = await validateWith(plugin.configSchema, raw);
  return r.ok ? [] : r.issues.map((i) => i.path);
}

/** A JSON body larger than the 256 KiB answer limit. */
export const HUGE = { padding: 'x'.repeat(300 * 1024) };

export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

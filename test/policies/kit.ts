// Shared helpers for the policy tests: the real stages compiled from a settings document, and a table-driven provider.
import type { AccessRequest, Identity } from '../../core/access.js';
import { ManualClock } from '../../core/clock.js';
import { policyStages } from '../../server/runtime/compile.js';
import { silentLogger } from '../../core/logger.js';
import { composePipeline, type Pipeline } from '../../core/pipeline.js';
import type { Provider } from '../../core/provider.js';
import { LocalRateLimiter, type RateLimiter } from '../../core/rate-limit.js';
import { settingsSchema, storedSettingsSchema } from '../../core/settings/schema.js';
import { request } from '../fixtures/requests.js';

export type Who = Partial<Identity> & { username: string };

/** A provider that knows bearer tokens by value: `tok-x` → identity; anything else `bad-…` → invalid_token. */
export function tableProvider(id: string, table: Record<string, Who>): Provider {
  return {
    id,
    kind: 'table',
    status: () => ({ ready: true }),
    async authenticate(credential) {
      const who = table[credential.secret];
      if (who) return { outcome: 'identity', identity: { subject: `sub-${who.username}`, groups: [], scopes: [], provider: id, ...who } };
      if (credential.secret.startsWith('bad-')) return { outcome: 'failure', code: 'invalid_token', description: 'refused' };
      return { outcome: 'not_responsible' };
    },
  };
}

export interface Kit {
  readonly pipeline: Pipeline;
  readonly clock: ManualClock;
}

/**
 * The full policy pipeline for a settings document, validated like an admin's change (`stored`:
 * like a replay, which also reads settings stored before a later rule).
 */
export function kit(document: unknown, providers: Provider[] = [], options: { clock?: ManualClock; limiter?: RateLimiter; stored?: boolean } = {}): Kit {
  const settings = (options.stored ? storedSettingsSchema : settingsSchema).parse(document);
  const clock = options.clock ?? new ManualClock(Date.UTC(2024, 0, 1, 0, 0, 0));
  const rateLimiter = options.limiter ?? new LocalRateLimiter(clock);
  return { pipeline: composePipeline(policyStages(settings, providers, { logger: silentLogger, clock, rateLimiter })), clock };
}

export const bearer = (secret: string): Partial<AccessRequest> => ({ credential: { scheme: 'bearer', secret } });

export { request };

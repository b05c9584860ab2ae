// The compiler: turns the configuration state into a ready-to-run pipeline, reusing provider instances that did not change.
import type { Clock } from './clock.js';
import type { IdentityCache } from './identity-cache.js';
import type { JsonObject } from './settings/merge-patch.js';
import type { PluginLookup, SecretSealer } from './commands.js';
import type { Logger } from './logger.js';
import { compileAddressList } from './net.js';
import { composePipeline, type Pipeline } from './pipeline.js';
import type { HttpFetch, Provider } from './provider.js';
import type { ConfigState } from './settings/config-state.js';
import type { Settings } from './settings/schema.js';
import { validateWith } from './validate.js';
import { masterSwitch } from '../policies/master-switch.js';
import { authenticate } from '../policies/authenticate.js';

export interface CompiledConfig {
  readonly settings: Settings;
  readonly pipeline: Pipeline;
  /** Running provider instances by id (enabled ones only), in configured order. */
  readonly providers: ReadonlyMap<string, Provider>;
  /** Peers whose X-Forwarded-* headers are believed (settings `ip.trustedProxies`). */
  readonly isTrustedProxy: (ip: string) => boolean;
}

export interface CompilerDeps {
  readonly plugins: PluginLookup;
  readonly fetch: HttpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cache: IdentityCache;
  /** Opens secret config fields; required once a provider kind declares secret fields. */
  readonly secrets?: SecretSealer;
}

interface Instance {
  readonly key: string;
  readonly provider: Provider;
  readonly abort: AbortController;
  /** The provider's warm-up (first key fetch) has finished, successfully or not. */
  warmedUp: boolean;
}

export class PipelineCompiler {
  private instances = new Map<string, Instance>();

  constructor(private readonly deps: CompilerDeps) {}

  async compile(state: ConfigState): Promise<CompiledConfig> {
    const records = Object.values(state.providers)
      .filter((r) => r.enabled)
      .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));

    const next = new Map<string, Instance>();
    for (const record of records) {
      const key = JSON.stringify([record.kind, record.config]);
      const existing = this.instances.get(record.id);
      if (existing?.key === key) {
        next.set(record.id, existing);
        continue;
      }
      const instance = await this.instantiate(record.id, record.kind, record.config, key);
      if (instance) next.set(record.id, instance);
    }
    for (const [id, old] of this.instances) if (next.get(id) !== old) this.release(old);
    this.instances = next;

    const providers = new Map([...next].map(([id, i]) => [id, i.provider]));
    const pipeline = composePipeline([
      masterSwitch({ enabled: state.settings.enabled }),
      authenticate({ providers: [...providers.values()] }, { logger: this.deps.logger }),
    ]);
    const isTrustedProxy = compileAddressList(state.settings.ip.trustedProxies);
    return { settings: state.settings, pipeline, providers, isTrustedProxy };
  }

  async close(): Promise<void> {
    for (const instance of this.instances.values()) this.release(instance);
    this.instances.clear();
  }

  /** Providers whose warm-up has not finished yet (readiness waits for them). */
  warmingUp(): string[] {
    return [...this.instances].filter(([, i]) => !i.warmedUp).map(([id]) => id);
  }

  private async instantiate(id: string, kind: string, config: JsonObject, key: string): Promise<Instance | undefined> {
    const logger = this.deps.logger.child({ provider: id, kind });
    const plugin = this.deps.plugins.get(kind);
    if (!plugin) {
      logger.error('provider kind is not installed on this node; provider left out');
      return undefined;
    }
    const secretFields = plugin.secretFields ?? [];
    let plain = config;
    if (secretFields.length) {
      if (!this.deps.secrets) {
        logger.error('provider has secret fields but no secret key is configured; provider left out');
        return undefined;
      }
      try {
        plain = this.deps.secrets.openFields(config, secretFields);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'provider secrets cannot be decrypted; provider left out');
        return undefined;
      }
    }
    const checked = await validateWith(plugin.configSchema, plain);
    if (!checked.ok) {
      logger.error({ issues: checked.issues }, 'stored provider configuration no longer validates; provider left out');
      return undefined;
    }
    const { fetch, clock, cache } = this.deps;
    const provider = plugin.create(checked.value, { id, fetch, clock, logger, cache });
    const instance: Instance = { key, provider, abort: new AbortController(), warmedUp: !provider.start };
    void provider.start?.(instance.abort.signal).finally(() => (instance.warmedUp = true));
    return instance;
  }

  private release(instance: Instance): void {
    instance.abort.abort();
    void instance.provider.close?.();
  }
}

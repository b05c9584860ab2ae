// The compiler: turns the configuration state into a ready-to-run pipeline, reusing provider instances that did not change.
import type { ProviderThrottle, ThrottledFetch } from './provider-throttle.js';
import type { Clock } from '../../core/clock.js';
import type { IdentityCache } from '../../core/identity-cache.js';
import type { JsonObject } from '../../core/settings/merge-patch.js';
import type { PluginLookup, SecretSealer } from '../../core/commands.js';
import type { Logger } from '../../core/logger.js';
import { compileForwardedRequest, type ForwardedRequestReader } from '../../core/forward-auth.js';
import { compileAddresses, compileAddressList, compileClientIpResolver, type ClientIpResolver } from '../../core/net.js';
import { compilePatternList } from '../../core/path-pattern.js';
import { composePipeline, type Pipeline, type Stage } from '../../core/pipeline.js';
import { LocalRateLimiter, type RateLimiter } from '../../core/rate-limit.js';
import type { HttpFetch, Provider } from '../../core/provider.js';
import type { ConfigState } from '../../core/settings/config-state.js';
import type { Settings } from '../../core/settings/schema.js';
import { validateWith } from '../../core/validate.js';
import { masterSwitch } from '../../policies/master-switch.js';
import { authenticate } from '../../policies/authenticate.js';
import { compileCredentialToggles } from '../../policies/credentials.js';
import { gatewayTokenCheck, noTokens, type TokenLookup } from '../../policies/gateway-token.js';
import { tokenScopes } from '../../policies/token-scopes.js';
import { groups } from '../../policies/groups.js';
import { ipRestriction } from '../../policies/ip-restriction.js';
import { paths } from '../../policies/paths.js';
import { rateLimit } from '../../policies/rate-limit.js';
import { readOnly } from '../../policies/read-only.js';
import { compileRoutes, routes } from '../../policies/routes.js';

export interface CompiledConfig {
  readonly settings: Settings;
  readonly pipeline: Pipeline;
  /** Running provider instances by id (enabled ones only), in configured order. */
  readonly providers: ReadonlyMap<string, Provider>;
  /** Peers whose X-Forwarded-* headers are believed (settings `ip.trustedProxies`). */
  readonly isTrustedProxy: (ip: string) => boolean;
  /** The client address of a request: the peer, or what trusted proxies say (settings `ip`). */
  readonly resolveClientIp: ClientIpResolver;
  /** The request a forward-auth call asks about, from the header set of settings `forwardAuth.headers`. */
  readonly forwardedRequest: ForwardedRequestReader;
}

export interface CompilerDeps {
  readonly plugins: PluginLookup;
  readonly fetch: HttpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cache: IdentityCache;
  /** Opens secret config fields; required once a provider kind declares secret fields. */
  readonly secrets?: SecretSealer;
  /** Counts requests for the rate-limit stage; kept across recompiles. Default: per node, on `clock`. */
  readonly rateLimiter?: RateLimiter;
  /** The live token index (not compiled: a revocation counts from the next request). Default: none. */
  readonly tokens?: TokenLookup;
  /** Throttles each provider's outbound calls to its kind's budget. Default: none (tests). */
  readonly throttle?: ProviderThrottle;
}

export interface PolicyDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  /** The live token index. Default: no gateway token is known. */
  readonly tokens?: TokenLookup;
}

/**
 * The policy stages in their order (docs/policies.md), each with its slice of the settings
 * compiled here: CIDRs into ranges, path globs into matchers, routes into a table. A request
 * parses no configuration.
 */
export function policyStages(settings: Settings, providers: readonly Provider[], deps: PolicyDeps): Stage[] {
  const { ip, paths: lists, groups: groupSettings, rateLimit: limits } = settings;
  return [
    masterSwitch({ enabled: settings.enabled }),
    paths({
      bypass: compilePatternList(lists.bypass),
      public: compilePatternList(lists.public),
      restrictPublic: compilePatternList(lists.restrictPublic),
      routes: compileRoutes(settings.routes),
    }),
    ipRestriction({ allow: compileAddresses(ip.allow), deny: compileAddresses(ip.deny) }),
    // The credential toggles route each credential before any provider sees it (docs/tokens.md).
    authenticate(
      {
        providers,
        credentials: compileCredentialToggles(settings.credentials),
        gatewayTokens: gatewayTokenCheck(deps.tokens ?? noTokens),
      },
      { logger: deps.logger },
    ),
    tokenScopes(),
    groups({ allowed: groupSettings.allowed, readOnly: groupSettings.readOnly, mapping: groupSettings.mapping }),
    readOnly({ readOnly: groupSettings.readOnly }),
    routes(),
    rateLimit(
      {
        enabled: limits.enabled,
        limit: limits.limit,
        windowSeconds: limits.windowSeconds,
        key: limits.key,
        exempt: { users: limits.exempt.users, groups: limits.exempt.groups, ips: compileAddresses(limits.exempt.ips) },
      },
      { limiter: deps.rateLimiter, clock: deps.clock },
    ),
  ];
}

interface Instance {
  readonly key: string;
  readonly provider: Provider;
  readonly abort: AbortController;
  /** Its throttled fetch, let go of with the instance. */
  readonly throttled?: ThrottledFetch;
  /** The provider's warm-up (first key fetch) has finished, successfully or not. */
  warmedUp: boolean;
}

export class PipelineCompiler {
  private instances = new Map<string, Instance>();
  private readonly rateLimiter: RateLimiter;

  constructor(private readonly deps: CompilerDeps) {
    this.rateLimiter = deps.rateLimiter ?? new LocalRateLimiter(deps.clock);
  }

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
    const { logger, clock, tokens } = this.deps;
    const pipeline = composePipeline(
      policyStages(state.settings, [...providers.values()], { logger, clock, rateLimiter: this.rateLimiter, ...(tokens ? { tokens } : {}) }),
    );
    const isTrustedProxy = compileAddressList(state.settings.ip.trustedProxies);
    const resolveClientIp = compileClientIpResolver(state.settings.ip);
    const forwardedRequest = compileForwardedRequest(state.settings.forwardAuth.headers);
    return { settings: state.settings, pipeline, providers, isTrustedProxy, resolveClientIp, forwardedRequest };
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
    const { clock, cache } = this.deps;
    const throttled = this.deps.throttle?.limit(id, plugin.callBudget, this.deps.fetch);
    const provider = plugin.create(checked.value, { id, fetch: throttled?.fetch ?? this.deps.fetch, clock, logger, cache });
    const instance: Instance = { key, provider, abort: new AbortController(), warmedUp: !provider.start, ...(throttled ? { throttled } : {}) };
    void provider.start?.(instance.abort.signal).finally(() => (instance.warmedUp = true));
    return instance;
  }

  private release(instance: Instance): void {
    instance.abort.abort();
    void instance.provider.close?.();
    instance.throttled?.release();
  }
}

// The running gateway core: store, configuration projection, compiled pipeline (swapped on change) and the decision log.
import { timingSafeEqual } from 'node:crypto';
import type { AccessRequest, Decision } from '../../core/access.js';
import type { Clock } from '../../core/clock.js';
import { ConfigCommands, hashAdminToken, type PluginLookup, type SecretSealer } from '../../core/commands.js';
import { IdentityCache, type IdentityCacheOptions } from '../../core/identity-cache.js';
import { PipelineCompiler, type CompiledConfig } from './compile.js';
import { DecisionLogWriter, storeSink, type BlockSink, type DecisionLogOptions } from '../../core/decision-log/writer.js';
import { CONFIG_STREAM_PREFIXES } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { Projection } from '../../core/projection.js';
import type { GatewayMetrics } from './metrics.js';
import type { ProviderThrottle } from './provider-throttle.js';
import type { StoreFollowWatch } from './store-follow.js';
import type { StoreSizeWatch } from './store-size.js';
import type { HttpFetch } from '../../core/provider.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import { evolve, initialConfigState, type ConfigState } from '../../core/settings/config-state.js';
import type { EventStore } from '../../core/store/port.js';
import { TokenCommands } from '../../core/tokens/commands.js';
import { tokenIndexProjection, tokenUsageProjection, type TokenUsageProjection } from '../../core/tokens/projections.js';
import type { TokenIndex } from '../../core/tokens/token-index.js';

export interface RuntimeOptions {
  readonly store: EventStore;
  readonly plugins: PluginLookup;
  readonly fetch: HttpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit?: DecisionLogOptions;
  /**
   * Where the decision log's blocks are stored, when not through `store` itself: a SQLite store's
   * append thread, so storing them costs the request loop nothing. Closed by {@link Runtime.close}.
   */
  readonly auditAppender?: BlockSink;
  /** An admin token fixed by the process configuration; when set, none is generated. */
  readonly adminToken?: string;
  /** Seals provider secrets; providers with secret fields cannot be configured without it. */
  readonly secrets?: SecretSealer;
  readonly identityCache?: Omit<IdentityCacheOptions, 'clock'>;
  /** Counts requests for the rate-limit stage (default: per process); cluster workers share the primary's counts. */
  readonly rateLimiter?: RateLimiter;
  /** Throttles providers' outbound calls to their budgets; closed by {@link Runtime.close}. Default: none. */
  readonly throttle?: ProviderThrottle;
  /** Counts decisions and reads the decision log, identity cache and subscription when scraped. Default: none. */
  readonly metrics?: GatewayMetrics;
  /**
   * Awaited by {@link Runtime.whenCompiled} after the local compile: makes a change take effect in
   * other processes serving this node's traffic (cluster workers) before an admin command answers.
   */
  readonly propagate?: () => Promise<void>;
}

/** One dependency's line in /readyz: `degraded` when it works in a reduced way (fail-static, per-node limits). */
export interface ReadinessCheck {
  readonly ready: boolean;
  readonly degraded?: boolean;
  readonly detail?: string;
}

export interface Readiness {
  readonly ready: boolean;
  /** Ready, but some dependency is away and the node works around it. */
  readonly degraded: boolean;
  readonly checks: Readonly<Record<string, ReadinessCheck>>;
}

/** Bump when ConfigState or its fold changes shape, so old checkpoints are replayed instead of trusted. */
const CONFIG_PROJECTION_VERSION = 1;

export class Runtime {
  readonly projection: Projection<ConfigState>;
  readonly commands: ConfigCommands;
  /** The token index (token streams), followed live: the gateway looks tokens up in it. */
  readonly tokens: Projection<TokenIndex>;
  /** Last use and use count per gateway token, from the access events; may lag a little. */
  readonly tokenUsage: TokenUsageProjection;
  readonly tokenCommands: TokenCommands;
  /** The decision log's writer: every decision, as a fixed-size record, batched into blocks. */
  readonly audit: DecisionLogWriter;
  readonly cache: IdentityCache;
  private readonly compiler: PipelineCompiler;
  private current!: CompiledConfig;
  private compiling: Promise<void> = Promise.resolve();
  private compiledFrom: ConfigState | undefined;
  private readonly fixedAdminHash: Buffer | undefined;

  private constructor(private readonly options: RuntimeOptions) {
    this.projection = new Projection(options.store, {
      name: 'config',
      version: CONFIG_PROJECTION_VERSION,
      streamPrefixes: CONFIG_STREAM_PREFIXES,
      initial: initialConfigState,
      evolve,
      logger: options.logger,
    });
    this.commands = new ConfigCommands(options.store, this.projection, options.plugins, options.secrets);
    this.tokens = tokenIndexProjection(options.store, { logger: options.logger });
    this.tokenUsage = tokenUsageProjection(options.store, { logger: options.logger });
    this.tokenCommands = new TokenCommands(options.store, this.tokens, () => this.projection.state.settings.tokens, options.clock);
    this.cache = new IdentityCache({ ...options.identityCache, clock: options.clock });
    this.compiler = new PipelineCompiler({
      ...options,
      cache: this.cache,
      tokens: { findByHash: (hash) => this.tokens.state.findByHash(hash) },
    });
    this.audit = new DecisionLogWriter(options.auditAppender ?? storeSink(options.store), options.logger, options.audit);
    this.fixedAdminHash = options.adminToken ? Buffer.from(hashAdminToken(options.adminToken), 'hex') : undefined;
    if (options.metrics) {
      Object.assign(options.metrics.sources, {
        auditPending: () => this.audit.pending,
        auditDropped: () => this.audit.dropped,
        identityCacheHits: () => this.cache.hits,
        identityCacheMisses: () => this.cache.misses,
        subscriptionLag: () => this.follow?.lag,
      });
    }
  }

  /** Rebuild state from the last checkpoint and the events after it, compile, then follow changes. */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const runtime = new Runtime(options);
    const { replayed } = await runtime.projection.start();
    const tokens = await runtime.tokens.start();
    await runtime.tokenUsage.start();
    runtime.compiledFrom = runtime.projection.state;
    runtime.current = await runtime.compiler.compile(runtime.compiledFrom);
    runtime.projection.onChange(() => runtime.recompile());
    options.logger.info(
      { replayed, position: runtime.projection.position, tokens: runtime.tokens.state.size, tokenEventsReplayed: tokens.replayed },
      'configuration loaded',
    );
    return runtime;
  }

  get compiled(): CompiledConfig {
    return this.current;
  }

  get store(): EventStore {
    return this.options.store;
  }

  get plugins(): PluginLookup {
    return this.options.plugins;
  }

  get fetch(): HttpFetch {
    return this.options.fetch;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  /** Audit a decision taken at the edge, before the pipeline (for example an untrusted forward-auth caller). */
  recordDecision(request: AccessRequest, decision: Decision): void {
    this.options.metrics?.decided(decision);
    if (this.current.settings.audit.enabled) this.audit.record(request, decision);
  }

  /**
   * Decide one request with the pipeline current at its arrival, and audit the decision: the
   * decision itself when no stage waited, else its promise. `detailed`: see PipelineState.detailed
   * (default true; the gateway asks for it only for an admin who wants the trace).
   */
  decide(request: AccessRequest, detailed = true): Decision | Promise<Decision> {
    const { pipeline, settings } = this.current;
    const started = this.options.metrics ? performance.now() : 0;
    const judged = pipeline.judge(request, { detailed });
    return judged instanceof Promise
      ? judged.then((decision) => this.decided(request, decision, settings.audit.enabled, started))
      : this.decided(request, judged, settings.audit.enabled, started);
  }

  private decided(request: AccessRequest, decision: Decision, audited: boolean, started: number): Decision {
    this.options.metrics?.decided(decision, (performance.now() - started) / 1000);
    if (audited) this.audit.record(request, decision);
    return decision;
  }

  /** True when `token` is the admin token (constant-time comparison of hashes). */
  isAdminToken(token: string): boolean {
    const stored = this.fixedAdminHash ?? this.storedAdminHash();
    if (!stored) return false;
    return timingSafeEqual(Buffer.from(hashAdminToken(token), 'hex'), stored);
  }

  /** Generate the admin token on first start unless the process configuration fixes one. */
  async ensureAdminToken(): Promise<string | undefined> {
    if (this.fixedAdminHash) return undefined;
    return this.commands.createAdminToken({ actor: 'system' });
  }

  /**
   * Resolves when the pipeline reflects every change folded so far, here and (through
   * `propagate`) in every worker of this node; commands await it before answering.
   */
  whenCompiled(): Promise<void> {
    const propagate = this.options.propagate;
    return propagate ? this.compiling.then(() => propagate()) : this.compiling;
  }

  /** Set by serve when storeSizeWarnBytes is configured: /readyz shows the store's size against it. */
  storeSize: StoreSizeWatch | undefined;

  /** Set by serve: how far the configuration subscription is behind the store's head (metrics, /readyz). */
  follow: StoreFollowWatch | undefined;

  readiness(): Readiness {
    // Ready once every provider has finished warming up. A provider that could not fetch its keys
    // is reported (its callers get 503) but does not take the node out of rotation for everyone else.
    const warming = new Set(this.compiler.warmingUp());
    const checks: Record<string, ReadinessCheck> = {};
    for (const [id, provider] of this.current.providers) checks[`provider:${id}`] = provider.status();
    // Out of rotation while the store falls behind: at 10000 waiting decisions, or half the buffer when it is smaller.
    const auditOk = this.audit.pending < Math.min(10_000, this.audit.capacity / 2);
    checks.audit = auditOk ? { ready: true } : { ready: false, detail: `${this.audit.pending} decisions waiting for the store` };
    if (this.storeSize) checks.storeSize = this.storeSize.status;
    if (this.follow) {
      checks.store = this.follow.storeStatus();
      checks.subscription = this.follow.subscriptionStatus();
    }
    const redis = this.options.rateLimiter?.status?.();
    if (redis) checks.redis = redis;
    const ready = warming.size === 0 && auditOk && checks.subscription?.ready !== false;
    return { ready, degraded: Object.values(checks).some((c) => c.degraded === true), checks };
  }

  async close(): Promise<void> {
    await this.audit.close();
    await this.options.auditAppender?.close();
    await this.projection.stop();
    await this.tokens.stop();
    await this.tokenUsage.stop();
    await this.compiling;
    await this.compiler.close();
    await this.options.throttle?.close();
    this.cache.close();
  }

  private storedAdminHash(): Buffer | undefined {
    const hex = this.projection.state.adminTokenSha256;
    return hex ? Buffer.from(hex, 'hex') : undefined;
  }

  /** Compile the latest state after the previous compile finished; the swap is one assignment. */
  private recompile(): void {
    this.compiling = this.compiling.then(async () => {
      const state = this.projection.state;
      if (state === this.compiledFrom) return;
      this.compiledFrom = state;
      try {
        this.current = await this.compiler.compile(state);
      } catch (err) {
        this.options.logger.error({ err }, 'pipeline compilation failed; keeping the previous pipeline');
      }
    });
  }
}

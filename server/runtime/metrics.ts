// The node's Prometheus metrics (prom-client): counted on the request path as plain numbers, handed to prom-client when scraped.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Decision } from '../../core/access.js';
import type { ThrottleObserver } from './provider-throttle.js';

/** What the metrics read when scraped: set by whoever owns each part (runtime, serve). */
export interface MetricSources {
  /** Decisions waiting for the store, and dropped because the buffer was full. */
  auditPending?(): number;
  auditDropped?(): number;
  identityCacheHits?(): number;
  identityCacheMisses?(): number;
  /** Events (positions) the configuration or token subscription, the further behind, is behind the store's head; undefined: unknown. */
  subscriptionLag?(): number | undefined;
  /** `redis`, `local_fallback`, or `local` (no Redis configured). */
  rateLimitBackend?(): 'redis' | 'local_fallback' | 'local';
  /** Requests counted per node because Redis was away. */
  rateLimitLocalCounts?(): number;
}

/** One counted (decision, reason, stage): a plain number the request path adds to. */
interface Tally {
  count: number;
  flushed: number;
}

/** Latency buckets in seconds: sub-millisecond decisions up to slow upstreams. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The metrics of one process. The request path touches only {@link decided} (a lookup in two
 * nested maps and an increment, no allocation once a (reason, stage) pair has been seen) and the
 * two latency histograms; everything else is read when Prometheus scrapes.
 */
export class GatewayMetrics implements ThrottleObserver {
  readonly registry = new Registry();
  /** allow/deny → reason → stage → tally. */
  private readonly tallies = { allow: new Map<string, Map<string, Tally>>(), deny: new Map<string, Map<string, Tally>>() };
  private readonly decisions: Counter<'decision' | 'reason' | 'stage'>;
  private readonly decisionSeconds;
  private readonly upstreamSeconds;
  private readonly providerSeconds: Histogram<'provider'>;
  private readonly providerErrors: Counter<'provider'>;
  private readonly providerQueued: Counter<'provider'>;
  private readonly providerExpired: Counter<'provider'>;
  private readonly providerChildren = new Map<string, { seconds: { observe(v: number): void }; errors: { inc(): void }; queued: { inc(): void }; expired: { inc(): void } }>();
  sources: MetricSources = {};

  /**
   * @param parts `all` (one process); `traffic` in a cluster worker (everything but the rate-limit
   * backend, whose counts the primary keeps); `rateLimit` in the cluster primary, which adds the
   * workers' metrics, aggregated, to its own.
   */
  constructor(parts: 'all' | 'traffic' | 'rateLimit' = 'all') {
    const registers = parts === 'rateLimit' ? [] : [this.registry];
    const rateLimitRegisters = parts === 'traffic' ? [] : [this.registry];
    const flush = (): void => this.flushDecisions();
    this.decisions = new Counter({
      name: 'portcullis_requests_total',
      help: 'Requests decided, by decision (allow/deny), reason code and deciding stage',
      labelNames: ['decision', 'reason', 'stage'],
      registers,
      collect: flush,
    });
    this.decisionSeconds = new Histogram({ name: 'portcullis_decision_seconds', help: 'Time to decide a request (the pipeline)', buckets: LATENCY_BUCKETS, registers }).labels();
    this.upstreamSeconds = new Histogram({
      name: 'portcullis_upstream_seconds',
      help: 'Time from sending a request upstream to its answer ending',
      buckets: LATENCY_BUCKETS,
      registers,
    }).labels();
    this.providerSeconds = new Histogram({ name: 'portcullis_provider_call_seconds', help: 'Outbound calls to identity providers, by provider id', labelNames: ['provider'], buckets: LATENCY_BUCKETS, registers });
    this.providerErrors = new Counter({ name: 'portcullis_provider_call_errors_total', help: 'Outbound provider calls that got no answer (unreachable, timed out)', labelNames: ['provider'], registers });
    this.providerQueued = new Counter({ name: 'portcullis_provider_calls_queued_total', help: 'Outbound provider calls that waited for the call budget', labelNames: ['provider'], registers });
    this.providerExpired = new Counter({
      name: 'portcullis_provider_calls_throttled_total',
      help: 'Outbound provider calls given up because the caller\'s deadline passed while waiting for the call budget (503 provider_unavailable)',
      labelNames: ['provider'],
      registers,
    });
    const sources = (): MetricSources => this.sources;
    // How the cluster primary adds up its workers' values of a gauge.
    const gauge = (name: string, help: string, read: () => number | undefined, aggregator: 'sum' | 'max'): void => {
      new Gauge({
        name,
        help,
        registers,
        aggregator,
        collect() {
          const value = read();
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    };
    // Counters kept by their owners: the scrape sets them from there (prom-client Counters only add).
    const counted = (name: string, help: string, read: () => number | undefined, into = registers): void => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers: into,
        collect() {
          const value = read();
          if (value !== undefined && value > seen) {
            this.inc(value - seen);
            seen = value;
          }
        },
      });
    };
    gauge('portcullis_decision_log_buffered', 'Decisions waiting to be stored (the decision-log buffer)', () => sources().auditPending?.(), 'sum');
    counted('portcullis_decision_log_dropped_total', 'Decisions dropped because the decision-log buffer was full', () => sources().auditDropped?.());
    counted('portcullis_identity_cache_hits_total', 'Opaque-token answers served from the identity cache', () => sources().identityCacheHits?.());
    counted('portcullis_identity_cache_misses_total', 'Opaque-token answers the identity cache did not hold (the provider was asked)', () => sources().identityCacheMisses?.());
    gauge('portcullis_subscription_lag_events', 'Store positions the configuration or token subscription (the further behind) is behind the store head', () => sources().subscriptionLag?.(), 'max');
    counted('portcullis_rate_limit_local_counts_total', 'Requests counted per node because Redis was unavailable (with --workers, counts leased from the per-node counts)', () => sources().rateLimitLocalCounts?.(), rateLimitRegisters);
    new Gauge({
      name: 'portcullis_rate_limit_backend',
      help: 'Where rate-limit counts are kept: 1 for the backend in use (redis, local_fallback while Redis is away, local without Redis)',
      labelNames: ['backend'],
      registers: rateLimitRegisters,
      collect() {
        const backend = sources().rateLimitBackend?.();
        this.reset();
        if (backend === undefined) return;
        for (const b of ['redis', 'local_fallback', 'local'] as const) this.labels(b).set(b === backend ? 1 : 0);
      },
    });
  }

  /** Count one decision and its time (seconds; none for refusals before the pipeline). Called for every request. */
  decided(decision: Decision, seconds?: number): void {
    const byReason = decision.allow ? this.tallies.allow : this.tallies.deny;
    let byStage = byReason.get(decision.reason);
    if (byStage === undefined) byReason.set(decision.reason, (byStage = new Map()));
    let tally = byStage.get(decision.stage);
    if (tally === undefined) byStage.set(decision.stage, (tally = { count: 0, flushed: 0 }));
    tally.count += 1;
    if (seconds !== undefined) this.decisionSeconds.observe(seconds);
  }

  /** One upstream exchange ended after `seconds`. */
  upstream(seconds: number): void {
    this.upstreamSeconds.observe(seconds);
  }

  queued(provider: string): void {
    this.provider(provider).queued.inc();
  }

  expired(provider: string): void {
    this.provider(provider).expired.inc();
  }

  called(provider: string, seconds: number, failed: boolean): void {
    const children = this.provider(provider);
    children.seconds.observe(seconds);
    if (failed) children.errors.inc();
  }

  /** The text Prometheus scrapes. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private provider(id: string) {
    let children = this.providerChildren.get(id);
    if (children === undefined) {
      children = {
        seconds: this.providerSeconds.labels(id),
        errors: this.providerErrors.labels(id),
        queued: this.providerQueued.labels(id),
        expired: this.providerExpired.labels(id),
      };
      this.providerChildren.set(id, children);
    }
    return children;
  }

  private flushDecisions(): void {
    for (const [decision, byReason] of Object.entries(this.tallies)) {
      for (const [reason, byStage] of byReason) {
        for (const [stage, tally] of byStage) {
          if (tally.count === tally.flushed) continue;
          this.decisions.labels(decision, reason, stage).inc(tally.count - tally.flushed);
          tally.flushed = tally.count;
        }
      }
    }
  }
}

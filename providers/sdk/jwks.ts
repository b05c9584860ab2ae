// The signing-key cache of one issuer: fetched at start, refetched once per unknown kid, stale on failure; OpenID discovery.
import { createLocalJWKSet, errors, type CryptoKey, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters, type LocalJWKSet } from 'jose';
import { fetchJson, safeUrl, UpstreamHttpError } from '../../core/http.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { HttpFetch } from '../../core/provider.js';
import { isAcceptableEndpoint } from './config-fields.js';
import { limitsOf } from './http.js';

/** Timers behind the start-up retry; injectable so tests fire retries by hand. */
export interface Scheduler {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Real timers, unref'd so a pending retry never keeps the process alive. */
export const timerScheduler: Scheduler = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Thrown by `getKey` when no keys were ever fetched: the provider answers 503, not 401. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
  readonly code = 'keys_unavailable';
}

/** The issuer's discovery document or key set is unusable; message is safe to show. */
export class KeySetError extends Error {}

/** The parts of an OpenID discovery document the providers use; every URL passed {@link isAcceptableEndpoint}. */
export interface DiscoveredMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
  readonly userinfoEndpoint?: string;
  readonly introspectionEndpoint?: string;
}

/**
 * Read `${issuer}/.well-known/openid-configuration`. It must name the same issuer and a usable
 * `jwks_uri`; other endpoints are kept only when they are acceptable URLs.
 * @throws {UpstreamHttpError} for transport failures, {KeySetError} for an unusable document.
 */
export async function discover(
  fetch: HttpFetch,
  issuer: string,
  http: { timeoutMs: number; maxBytes: number; signal?: AbortSignal },
): Promise<DiscoveredMetadata> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const doc = await fetchJson(fetch, url, http);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new KeySetError('discovery document is not a JSON object');
  }
  const record = doc as Record<string, unknown>;
  if (record.issuer !== issuer) throw new KeySetError('discovery document names a different issuer');
  const jwksUri = record.jwks_uri;
  if (typeof jwksUri !== 'string' || !isAcceptableEndpoint(jwksUri)) {
    throw new KeySetError('discovery document has no usable jwks_uri');
  }
  const optional = (name: string, key: keyof DiscoveredMetadata) => {
    const value = record[name];
    return typeof value === 'string' && isAcceptableEndpoint(value) ? { [key]: value } : {};
  };
  return Object.freeze({
    issuer,
    jwksUri,
    ...optional('authorization_endpoint', 'authorizationEndpoint'),
    ...optional('token_endpoint', 'tokenEndpoint'),
    ...optional('userinfo_endpoint', 'userinfoEndpoint'),
    ...optional('introspection_endpoint', 'introspectionEndpoint'),
  });
}

export interface KeySetOptions {
  readonly issuer: string;
  /** When absent, found through OpenID discovery. */
  readonly jwksUri?: string;
  /** Age after which keys are refreshed in the background. */
  readonly cacheMs: number;
  /** Least time between two fetches not asked for explicitly. */
  readonly cooldownMs: number;
  readonly fetch: HttpFetch;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly scheduler?: Scheduler;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export class JwksKeySet {
  private local: LocalJWKSet | undefined;
  private loads = 0;
  private fetchedAt = -Infinity;
  private lastAttempt = -Infinity;
  private inflight: Promise<boolean> | undefined;
  private failures = 0;
  private lastError: string | undefined;
  private retryTimer: unknown;
  private jwksUri: string | undefined;
  private discovered: DiscoveredMetadata | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  private readonly scheduler: Scheduler;
  private readonly http: { timeoutMs: number; maxBytes: number; signal: AbortSignal };

  constructor(private readonly opts: KeySetOptions) {
    this.jwksUri = opts.jwksUri;
    this.scheduler = opts.scheduler ?? timerScheduler;
    this.http = { ...limitsOf(opts), signal: this.closing.signal };
  }

  /** Keys are held (possibly stale). */
  /** Changes whenever a new key set is taken in: what was verified with the old one may be re-judged. */
  get generation(): number {
    return this.loads;
  }

  get ready(): boolean {
    return this.local !== undefined;
  }

  /** Why keys are missing or stale; undefined when all is well. */
  get detail(): string | undefined {
    if (!this.local) return `no signing keys: ${this.lastError ?? 'not fetched yet'}`;
    return this.lastError ? `serving cached signing keys; last refresh failed: ${this.lastError}` : undefined;
  }

  /** First fetch; on failure keeps retrying in the background with backoff. Never throws. */
  async start(signal?: AbortSignal): Promise<void> {
    const first = this.refresh();
    if (!signal) {
      await first;
      return;
    }
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true });
      void first.then(() => resolve());
    });
  }

  /** Fetch now, sharing a fetch already under way. Resolves true when fresh keys are held. */
  refresh(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  /**
   * Key resolver for `jwtVerify`. Never blocks on a periodic refresh; on an unknown `kid`
   * refetches once (shared by concurrent callers, throttled by the cooldown).
   */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const now = this.opts.clock.now();
    if (!this.local) {
      if (this.inflight || this.mayFetch(now)) await this.refresh();
      if (!this.local) throw new KeysUnavailableError(this.lastError ?? 'no signing keys');
    } else if (now - this.fetchedAt >= this.opts.cacheMs && this.mayFetch(now)) {
      void this.refresh();
    }
    const held: LocalJWKSet = this.local;
    try {
      return await held(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // An unknown kid while the issuer cannot be asked: a rotated key and a forged one look
      // alike, so this is the provider being unavailable (503), not the caller's fault.
      if (!(this.inflight || this.mayFetch(now))) {
        if (this.lastError) throw new KeysUnavailableError(this.lastError);
        throw err;
      }
    }
    if (!(await this.refresh())) throw new KeysUnavailableError(this.lastError ?? 'signing keys could not be refreshed');
    return this.local(header, token);
  };

  /**
   * The issuer's discovery document, read once (at start when no `jwksUri` was configured,
   * else on first use). @throws {UpstreamHttpError} or {KeySetError} when it cannot be read.
   */
  async metadata(): Promise<DiscoveredMetadata> {
    this.discovered ??= await discover(this.opts.fetch, this.opts.issuer, this.http);
    return this.discovered;
  }

  /** Stop retries and abort a fetch under way. */
  close(): void {
    this.closed = true;
    this.cancelRetry();
    this.closing.abort();
  }

  private cancelRetry(): void {
    if (this.retryTimer !== undefined) this.scheduler.clear(this.retryTimer);
    this.retryTimer = undefined;
  }

  private mayFetch(now: number): boolean {
    return now - this.lastAttempt >= this.opts.cooldownMs;
  }

  private async load(): Promise<boolean> {
    const { clock, logger } = this.opts;
    this.lastAttempt = clock.now();
    try {
      const uri = this.jwksUri ?? (await this.metadata()).jwksUri;
      const local = toLocalKeySet(await fetchJson(this.opts.fetch, uri, this.http));
      this.jwksUri = uri;
      this.local = local;
      this.loads += 1;
      this.fetchedAt = clock.now();
      this.failures = 0;
      this.lastError = undefined;
      this.cancelRetry();
      logger.debug({ jwksUri: safeUrl(uri) }, 'signing keys fetched');
      return true;
    } catch (err) {
      if (this.closed) return false;
      this.failures += 1;
      this.lastError = describe(err);
      const log = { issuer: this.opts.issuer, error: this.lastError, failures: this.failures };
      if (this.local) logger.warn(log, 'signing keys could not be refreshed; keeping cached keys');
      else logger.error(log, 'signing keys could not be fetched; provider unavailable');
      if (!(err instanceof UpstreamHttpError || err instanceof KeySetError)) logger.error({ err }, 'unexpected key fetch error');
      if (!this.local) this.scheduleRetry();
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(RETRY_BASE_MS * 2 ** Math.min(this.failures - 1, 16), RETRY_MAX_MS);
    this.retryTimer = this.scheduler.set(() => {
      this.retryTimer = undefined;
      void this.refresh();
    }, delay);
  }
}

function toLocalKeySet(body: unknown): LocalJWKSet {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new KeySetError('key set has no "keys" array');
  const signing = keys.filter((k: unknown) => {
    const jwk = k as { kty?: unknown; use?: unknown } | null;
    return typeof jwk?.kty === 'string' && (jwk.use === undefined || jwk.use === 'sig');
  });
  if (signing.length === 0) throw new KeySetError('key set holds no signing keys');
  try {
    return createLocalJWKSet(body as JSONWebKeySet);
  } catch {
    throw new KeySetError('key set is malformed');
  }
}

function describe(err: unknown): string {
  if (err instanceof UpstreamHttpError) return `${err.code}: ${err.message}`;
  if (err instanceof KeySetError) return err.message;
  return 'unexpected error';
}

// Cached results of userinfo/introspection calls: keyed by a hash of the token, bounded by its expiry, shared in flight.
import NodeCache from 'node-cache';
import type { Identity } from './access.js';
import type { Clock } from './clock.js';
import { tokenDigest } from './jwt.js';
import type { AnswerCache, AuthResult } from './provider.js';

export interface IdentityCacheOptions {
  /** Longest a positive answer is kept, whatever the token's expiry (default 60 s). */
  readonly maxTtlSeconds?: number;
  /** How long an `invalid_token` answer is kept (default 5 s). */
  readonly failureTtlSeconds?: number;
  /** Entries kept at most; beyond it nothing new is cached (default 100 000). */
  readonly maxEntries?: number;
  readonly clock: Clock;
}

/** Distinct group (and scope) lists kept for sharing; past it the table starts over (cached identities keep their lists). */
const MAX_SHARED_LISTS = 10_000;
const NO_STRINGS: readonly string[] = Object.freeze([]);

/**
 * One frozen copy of each group or scope list, shared by the cached identities that carry it:
 * thousands of users in the same few groups hold one array, not one array and one copy of every
 * group name each (a provider's answer is parsed afresh for every token).
 */
class SharedLists {
  /** One-element lists (most) apart from longer ones, so an element cannot pass for a longer list's key. */
  private singles = new Map<string, readonly string[]>();
  private longer = new Map<string, readonly string[]>();

  of(list: readonly string[]): readonly string[] {
    if (list.length === 0) return NO_STRINGS;
    const table = list.length === 1 ? this.singles : this.longer;
    const key = list.length === 1 ? list[0]! : JSON.stringify(list);
    const shared = table.get(key);
    if (shared) return shared;
    if (this.singles.size + this.longer.size >= MAX_SHARED_LISTS) {
      this.singles = new Map();
      this.longer = new Map();
    }
    const copy = Object.freeze([...list]);
    (list.length === 1 ? this.singles : this.longer).set(key, copy);
    return copy;
  }
}

interface Entry {
  readonly result: AuthResult;
  /** Clock time (ms) after which the entry is not used, whatever node-cache still holds. */
  readonly until: number;
}

/**
 * One cache per node, shared by every provider. A key binds the token to the provider id and to
 * a fingerprint of what that provider asserts (its configuration), so a configuration change or
 * another provider never reuses an answer. Provider-unavailable answers are never cached.
 */
export class IdentityCache implements AnswerCache {
  private readonly store: NodeCache;
  private readonly inflight = new Map<string, Promise<AuthResult>>();
  private readonly maxTtlMs: number;
  private readonly failureTtlMs: number;
  private readonly clock: Clock;
  private readonly lists = new SharedLists();
  hits = 0;
  misses = 0;

  constructor(options: IdentityCacheOptions) {
    this.maxTtlMs = (options.maxTtlSeconds ?? 60) * 1000;
    this.failureTtlMs = (options.failureTtlSeconds ?? 5) * 1000;
    this.clock = options.clock;
    // node-cache only reclaims memory; freshness is judged against the injected clock.
    this.store = new NodeCache({ stdTTL: Math.max(1, Math.ceil(this.maxTtlMs / 1000)), checkperiod: 30, useClones: false, maxKeys: options.maxEntries ?? 100_000 });
  }

  /** The cache key: provider id, assertion fingerprint and the token's sha256. The token itself is never kept. */
  static key(providerId: string, fingerprint: string, token: string): string {
    return `${providerId}\0${fingerprint}\0${tokenDigest(token)}`;
  }

  /**
   * The cached answer for `key`, or `load()`'s, shared by concurrent callers of the same key.
   * @example
   * const key = IdentityCache.key(deps.id, fingerprint, token);
   * return deps.cache.resolve(key, () => callUserinfo(token));
   */
  resolve(key: string, load: () => Promise<AuthResult>): Promise<AuthResult> {
    const now = this.clock.now();
    const entry = this.store.get<Entry>(key);
    if (entry && entry.until > now) {
      this.hits += 1;
      return Promise.resolve(entry.result);
    }
    const running = this.inflight.get(key);
    if (running) return running;
    this.misses += 1;
    const call = load()
      .then((result) => this.remember(key, result))
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, call);
    return call;
  }

  get size(): number {
    return this.store.keys().length;
  }

  clear(): void {
    this.store.flushAll();
  }

  close(): void {
    this.store.close();
  }

  /** Keep `result` if it may be kept; returns what callers get: the kept form, equal to `result`. */
  private remember(key: string, result: AuthResult): AuthResult {
    const now = this.clock.now();
    let ttl: number;
    if (result.outcome === 'identity') {
      const left = result.identity.expiresAt === undefined ? this.maxTtlMs : result.identity.expiresAt - now;
      ttl = Math.min(this.maxTtlMs, left);
    } else if (result.outcome === 'failure' && result.code === 'invalid_token') {
      ttl = this.failureTtlMs;
    } else {
      return result;
    }
    if (ttl <= 0) return result;
    const kept = result.outcome === 'identity' ? { outcome: result.outcome, identity: this.compact(result.identity) } : result;
    try {
      this.store.set<Entry>(key, { result: kept, until: now + ttl }, Math.ceil(ttl / 1000));
    } catch {
      // ECACHEFULL: serving uncached is correct, only slower.
    }
    return kept;
  }

  /**
   * The identity as the cache keeps it: the same fields in the same order, groups and scopes
   * shared (frozen). Built key by key, so every identity with the same fields has one hidden
   * class: a provider's `{ ...identity, provider }` gives each object a map of its own once V8's
   * spread cache is megamorphic, ~260 bytes per cached identity (docs/performance.md).
   */
  private compact(identity: Identity): Identity {
    const kept: Record<string, unknown> = {};
    for (const name of Object.keys(identity)) {
      const value = (identity as unknown as Record<string, unknown>)[name];
      kept[name] = (name === 'groups' || name === 'scopes') && Array.isArray(value) ? this.lists.of(value as string[]) : value;
    }
    return kept as unknown as Identity;
  }
}

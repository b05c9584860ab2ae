// The signed identity assertion (X-Portcullis-Assertion): a short-lived JWT bound to one request's method and path, and the key set upstreams verify it with.
import { SignJWT, type JWK } from 'jose';
import type { Decision, Identity } from '../../core/access.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { routeName, type Settings } from '../../core/settings/schema.js';
import { ASSERTION_ALG, readAssertionKeys, type AssertionKey, type AssertionKeySet } from '../assertion-keys.js';

export const ASSERTION_HEADER = 'x-portcullis-assertion';
export const JWKS_PATH = '/_portcullis/jwks.json';

/** What one route's assertions look like: the settings with the route's overrides applied. */
interface Effective {
  readonly enabled: boolean;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  /** How long a signed assertion is reused, in ms: at most half its lifetime. */
  readonly reuseMs: number;
}

/** A signed assertion kept for reuse: for one caller, under one settings object, route, method and path. */
interface Signed {
  readonly settings: Settings;
  readonly kid: string;
  readonly token: string;
  readonly reuseUntil: number;
}

/** At most this many assertions are kept for reuse; past it, the map starts over (what is dropped is only signed again). */
const MAX_REUSED = 10_000;

/** Who an assertion speaks for: every identity claim it carries, so a reused one says exactly what a new one would. */
const callerKey = (id: Identity | undefined): string =>
  id ? `${id.provider}\n${id.subject}\n${id.username}\n${id.tokenId ?? ''}\n${id.groups.join('\n')}` : '';

/** Per settings object (frozen, one per change): the default and each named route's overrides, merged once. */
interface Compiled {
  readonly fallback: Effective;
  readonly routes: ReadonlyMap<string, Effective>;
}

export interface AssertionSignerOptions {
  /** `aud` when the settings name none: the upstream's origin. */
  readonly defaultAudience: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The request an assertion is bound to: the method and the path (no query) the upstream receives. */
export interface AssertionTarget {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
}

/**
 * Signs assertions with the key set of the key file (reloaded when a rotation event arrives). A
 * signature costs more than the rest of the gateway's work on a request (bench/assertion.ts), so an
 * assertion is reused for `assertion.reuseSeconds` by the same caller (every identity claim equal)
 * for the same route, method and path: the binding stays exact, and
 * `jti` is the id of the request it was first signed for (docs/upstream-verification.md, "What it costs").
 */
export class AssertionSigner {
  private readonly compiled = new WeakMap<Settings, Compiled>();
  private readonly reused = new Map<string, Signed>();

  constructor(
    private keys: AssertionKeySet,
    private readonly options: AssertionSignerOptions,
  ) {}

  /** Read the key file again (after an `AssertionKeyRotated` event); a file that cannot be read keeps the keys in use. */
  async reload(file: string): Promise<void> {
    try {
      this.keys = await readAssertionKeys(file);
      this.options.logger.info({ keys: this.keys.keys.map((k) => k.kid) }, 'assertion keys reloaded');
    } catch (err) {
      this.options.logger.error({ err: (err as Error).message, file }, 'assertion keys could not be reloaded; keeping the keys in use');
    }
  }

  /** The JSON Web Key Set published at /_portcullis/jwks.json. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.published(this.options.clock.now()) };
  }

  /** The assertion for an allowed request, or undefined when the settings (or its route) turn it off. */
  async sign(settings: Settings, decision: Decision, target: AssertionTarget): Promise<string | undefined> {
    const effective = this.effective(settings, decision.route);
    if (!effective.enabled) return undefined;
    const now = this.options.clock.now();
    const key = this.keys.signingKey(now);
    if (!key) {
      // Refusing would take the upstream down with the key file; it refuses an unsigned request itself.
      this.options.logger.error('no assertion key is active: the request goes without X-Portcullis-Assertion');
      return undefined;
    }
    const id = decision.identity;
    const cache = this.reused;
    const cacheKey = effective.reuseMs > 0 ? `${decision.route ?? ''}\n${target.method}\n${target.path}\n${callerKey(id)}` : '';
    const hit = effective.reuseMs > 0 ? cache.get(cacheKey) : undefined;
    if (hit && hit.settings === settings && hit.kid === key.kid && hit.reuseUntil > now) return hit.token;
    const token = await this.signNew(effective, key, decision, target, now);
    if (effective.reuseMs > 0) {
      if (cache.size >= MAX_REUSED) cache.clear();
      cache.set(cacheKey, { settings, kid: key.kid, token, reuseUntil: Math.floor(now / 1000) * 1000 + effective.reuseMs });
    }
    return token;
  }

  private signNew(effective: Effective, key: AssertionKey, decision: Decision, target: AssertionTarget, now: number): Promise<string> {
    const id = decision.identity;
    const iat = Math.floor(now / 1000);
    const claims = id
      ? {
          username: id.username,
          groups: id.groups,
          provider: id.provider,
          ...(id.tokenId !== undefined ? { token_id: id.tokenId } : {}),
          method: target.method,
          path: target.path,
        }
      : { method: target.method, path: target.path };
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: ASSERTION_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(effective.issuer)
      .setAudience(effective.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + effective.ttlSeconds)
      .setJti(target.requestId);
    if (id) jwt.setSubject(id.subject);
    return jwt.sign(key.privateKey);
  }

  private effective(settings: Settings, route: string | undefined): Effective {
    let compiled = this.compiled.get(settings);
    if (!compiled) {
      const a = settings.assertion;
      const reuseMs = (ttlSeconds: number) => Math.min(a.reuseSeconds, Math.floor(ttlSeconds / 2)) * 1000;
      const fallback: Effective = {
        enabled: a.enabled,
        issuer: a.issuer,
        audience: a.audience ?? this.options.defaultAudience,
        ttlSeconds: a.ttlSeconds,
        reuseMs: reuseMs(a.ttlSeconds),
      };
      const routes = new Map<string, Effective>();
      settings.routes.forEach((r, i) => {
        if (!r.assertion) return;
        const ttlSeconds = r.assertion.ttlSeconds ?? fallback.ttlSeconds;
        routes.set(routeName(r, i), {
          enabled: r.assertion.enabled ?? fallback.enabled,
          issuer: fallback.issuer,
          audience: r.assertion.audience ?? fallback.audience,
          ttlSeconds,
          reuseMs: reuseMs(ttlSeconds),
        });
      });
      compiled = { fallback, routes };
      this.compiled.set(settings, compiled);
    }
    return (route !== undefined ? compiled.routes.get(route) : undefined) ?? compiled.fallback;
  }
}

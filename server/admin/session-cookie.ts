// The console's session: a stateless cookie, sealed (JWE, dir + A256GCM, by jose) under a key derived from the secret key, so every node accepts it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EncryptJWT, errors, jwtDecrypt } from 'jose';
import type { Clock } from '../../core/clock.js';
import { GatewayError } from '../../core/errors.js';

/** The HKDF purpose under which serve derives the session key from the secret key. */
export const CONSOLE_SESSION_KEY_PURPOSE = 'console-session/v1';

export const SESSION_COOKIE = 'portcullis_session';
/** The admin API is the only place the session is presented: the console's own files need none. */
export const SESSION_COOKIE_PATH = '/api/v1';
export const SIGN_IN_COOKIE = 'portcullis_sign_in';
export const CSRF_HEADER = 'x-csrf-token';

/** Who is signed in, as sealed into the cookie. */
export interface ConsoleSession {
  /** Random per sign-in; the CSRF token is bound to it. */
  readonly id: string;
  /** Recorded as the actor of the events the session's changes append: `admin`, or `oidc:<provider>:<username>`. */
  readonly actor: string;
  readonly method: 'admin_token' | 'oidc';
  readonly username?: string;
  readonly provider?: string;
  /** The provider's groups at sign-in: checked again against the admin groups on each request. */
  readonly groups?: readonly string[];
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A sign-in at the provider under way: kept in the browser that started it, sealed, for the callback. */
export interface SignInFlow {
  readonly provider: string;
  readonly state: string;
  readonly verifier: string;
  readonly nonce: string;
  readonly redirectUri: string;
  readonly expiresAt: number;
}

/** The cookie is absent, altered, sealed under another key or expired: 401 `invalid_session`. */
export class SessionError extends GatewayError {
  constructor(message: string) {
    super('invalid_session', 401, message);
  }
}

const ISSUER = 'portcullis-admin';
const SESSION_AUDIENCE = 'portcullis-console-session';
const FLOW_AUDIENCE = 'portcullis-console-sign-in';

export class SessionSealer {
  private readonly csrfKey: Buffer;

  /** @param key 32 bytes (see CONSOLE_SESSION_KEY_PURPOSE); a shorter or longer key is a programming error. */
  constructor(
    private readonly key: Uint8Array,
    private readonly clock: Clock,
  ) {
    if (key.length !== 32) throw new TypeError('SessionSealer: the key must be 32 bytes');
    this.csrfKey = createHmac('sha256', key).update('csrf').digest();
  }

  static newId(): string {
    return randomBytes(18).toString('base64url');
  }

  async sealSession(session: Omit<ConsoleSession, 'expiresAt'>, lifetimeSeconds: number): Promise<{ value: string; session: ConsoleSession }> {
    const expiresAt = Math.floor(this.clock.now() / 1000) * 1000 + lifetimeSeconds * 1000;
    return { value: await this.seal({ ...session }, SESSION_AUDIENCE, expiresAt), session: { ...session, expiresAt } };
  }

  /** @throws SessionError */
  async openSession(value: string): Promise<ConsoleSession> {
    const { payload, expiresAt } = await this.open(value, SESSION_AUDIENCE, 'the session');
    const { id, actor, method } = payload;
    if (typeof id !== 'string' || typeof actor !== 'string' || (method !== 'admin_token' && method !== 'oidc')) throw new SessionError('the session cookie is not valid');
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const groups = Array.isArray(payload.groups) ? payload.groups.filter((g): g is string => typeof g === 'string') : undefined;
    return {
      id,
      actor,
      method,
      expiresAt,
      ...(text(payload.username) === undefined ? {} : { username: text(payload.username)! }),
      ...(text(payload.provider) === undefined ? {} : { provider: text(payload.provider)! }),
      ...(groups === undefined ? {} : { groups }),
    };
  }

  sealFlow(flow: SignInFlow): Promise<string> {
    const { expiresAt, ...rest } = flow;
    return this.seal({ ...rest }, FLOW_AUDIENCE, expiresAt);
  }

  /** @throws SessionError */
  async openFlow(value: string): Promise<SignInFlow> {
    const { payload, expiresAt } = await this.open(value, FLOW_AUDIENCE, 'the sign-in');
    const fields = ['provider', 'state', 'verifier', 'nonce', 'redirectUri'] as const;
    if (fields.some((f) => typeof payload[f] !== 'string')) throw new SessionError('the sign-in cookie is not valid');
    const [provider, state, verifier, nonce, redirectUri] = fields.map((f) => payload[f] as string) as [string, string, string, string, string];
    return { provider, state, verifier, nonce, redirectUri, expiresAt };
  }

  /** The CSRF token of a session: an HMAC of its id, so only a holder of the key can make one, and it is worthless with another session. */
  csrfToken(session: ConsoleSession): string {
    return createHmac('sha256', this.csrfKey).update(session.id).digest('base64url');
  }

  csrfTokenMatches(session: ConsoleSession, presented: string): boolean {
    const expected = Buffer.from(this.csrfToken(session));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private seal(claims: Record<string, unknown>, audience: string, expiresAtMs: number): Promise<string> {
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt(Math.floor(this.clock.now() / 1000))
      .setExpirationTime(Math.floor(expiresAtMs / 1000))
      .encrypt(this.key);
  }

  private async open(value: string, audience: string, what: string): Promise<{ payload: Record<string, unknown>; expiresAt: number }> {
    try {
      const { payload } = await jwtDecrypt(value, this.key, {
        issuer: ISSUER,
        audience,
        currentDate: new Date(this.clock.now()),
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        requiredClaims: ['exp', 'iat'],
      });
      return { payload: payload as Record<string, unknown>, expiresAt: payload.exp! * 1000 };
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new SessionError(`${what} has expired: sign in again`);
      if (err instanceof errors.JOSEError) throw new SessionError(`${what} cookie is not valid: sign in again`);
      throw err;
    }
  }
}

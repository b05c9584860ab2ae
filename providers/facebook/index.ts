// The `facebook` provider kind: user access tokens proven ours by debug_token, identity from /me.
import { createHmac } from 'node:crypto';
import type { Credential } from '../../core/access.js';
import { claimStrings } from '../../core/claims.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import {
  asObject, bearer, compileAttributes, identityFrom, isOpaqueBearer, isRecord, limitsOf, NOT_RESPONSIBLE, scalarString, type AttributeMapping,
} from '../shared/userinfo.js';
import { facebookConfigSchema, type FacebookConfig } from './config.js';

export { facebookConfigSchema, type FacebookConfig } from './config.js';

const GRAPH = 'https://graph.facebook.com';

interface Grant {
  readonly userId: string | undefined;
  readonly scopes: string[];
  readonly expiresAt?: number;
}

export class FacebookProvider implements Provider {
  readonly kind = 'facebook';
  readonly id: string;
  private readonly graph: string;
  private readonly meUrl: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: FacebookConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.graph = `${GRAPH}/${config.graphVersion}`;
    const fields = [...new Set(['id', ...config.fields])].join(',');
    this.meUrl = `${this.graph}/me?fields=${encodeURIComponent(fields)}`;
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({ subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** Opaque bearer tokens (Facebook user tokens are never JWTs). */
  authenticate(credential: Credential): Promise<AuthResult> {
    return isOpaqueBearer(credential) ? this.validate(credential.secret) : Promise.resolve(NOT_RESPONSIBLE);
  }

  /** The raw `/me` answer (configured fields). */
  inspect(token: string): Promise<unknown> {
    return this.me(token);
  }

  async oauthClient(): Promise<OAuthClient> {
    return {
      authorizationEndpoint: `https://www.facebook.com/${this.config.graphVersion}/dialog/oauth`,
      tokenEndpoint: `${this.graph}/oauth/access_token`,
      clientId: this.config.appId,
      clientSecret: this.config.appSecret,
      clientAuth: 'body',
      scope: this.config.scope,
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const grant = await this.debugToken(token);
    const me = asObject(await this.me(token), `GET ${this.graph}/me`);
    if (grant.userId !== undefined && scalarString(me['id']) !== grant.userId) {
      throw new TokenRejected('token was not issued to this application');
    }
    return {
      identity: identityFrom(me, this.mapping, `GET ${this.graph}/me`, {
        scopes: grant.scopes,
        ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
        keep: ['id'],
      }),
    };
  }

  /**
   * `GET /debug_token` with our app token: is the token valid, a user token, and issued to our app?
   * The token travels in the query (the endpoint takes no other form); fetchJson never logs queries.
   */
  private async debugToken(token: string): Promise<Grant> {
    const url = new URL(`${this.graph}/debug_token`);
    url.searchParams.set('input_token', token);
    url.searchParams.set('access_token', `${this.config.appId}|${this.config.appSecret}`);
    const answer = asObject(await fetchJson(this.deps.fetch, url.href, this.limits), `GET ${this.graph}/debug_token`);
    const data = isRecord(answer['data']) ? answer['data'] : {};
    const expiresAt = typeof data['expires_at'] === 'number' && data['expires_at'] > 0 ? data['expires_at'] * 1000 : undefined;
    if (data['is_valid'] !== true) {
      throw new TokenRejected(expiresAt !== undefined && expiresAt <= this.deps.clock.now() ? 'token expired' : 'token not valid');
    }
    if (scalarString(data['app_id']) !== this.config.appId) throw new TokenRejected('token was not issued to this application');
    if (data['type'] !== undefined && data['type'] !== 'USER') throw new TokenRejected('not a user access token');
    if (expiresAt !== undefined && expiresAt <= this.deps.clock.now()) throw new TokenRejected('token expired');
    return { userId: scalarString(data['user_id']), scopes: claimStrings(data['scopes']), ...(expiresAt === undefined ? {} : { expiresAt }) };
  }

  /** `GET /me` with the token in the header and an appsecret_proof (HMAC-SHA256 of the token with the app secret). */
  private me(token: string): Promise<unknown> {
    const proof = createHmac('sha256', this.config.appSecret).update(token).digest('hex');
    return fetchJson(this.deps.fetch, `${this.meUrl}&appsecret_proof=${proof}`, { ...this.limits, headers: bearer(token) });
  }
}

/** The `facebook` plugin: Facebook Login user access tokens of our app. */
const facebookPlugin: ProviderPlugin<FacebookConfig> = {
  kind: 'facebook',
  description: 'Facebook Login user tokens, checked with debug_token against our app, identity from /me',
  configSchema: facebookConfigSchema,
  secretFields: ['appSecret'],
  create: (config, deps) => new FacebookProvider(config, deps),
};

export default facebookPlugin;

// The `gitlab` provider kind: GitLab OAuth tokens, bound to our application by token info, mapped from userinfo or /api/v4/user.
import type { Credential } from '../../core/access.js';
import { claimString, claimStrings } from '../../core/claims.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import {
  asObject, bearer, compileAttributes, identityFrom, isOpaqueBearer, isRecord, limitsOf, NOT_RESPONSIBLE, type AttributeMapping,
} from '../shared/userinfo.js';
import { gitlabConfigSchema, type GitlabConfig } from './config.js';

export { gitlabConfigSchema, type GitlabConfig } from './config.js';

interface Grant {
  readonly scopes: string[];
  readonly expiresAt?: number;
  readonly owner?: string;
}

export class GitlabProvider implements Provider {
  readonly kind = 'gitlab';
  readonly id: string;
  private readonly base: string;
  private readonly userUrl: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: GitlabConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.base = config.baseUrl.replace(/\/+$/, '');
    const api = config.source === 'api';
    this.userUrl = `${this.base}${api ? '/api/v4/user' : '/oauth/userinfo'}`;
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({
      subject: api ? 'id' : 'sub',
      username: config.usernameClaim ?? (api ? 'username' : 'nickname'),
      email: config.emailClaim,
      groups: config.groupsClaim ?? (api ? undefined : 'groups'),
    });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** Opaque bearer tokens; GitLab's OAuth access tokens are never JWTs. */
  authenticate(credential: Credential): Promise<AuthResult> {
    return isOpaqueBearer(credential) ? this.validate(credential.secret) : Promise.resolve(NOT_RESPONSIBLE);
  }

  /** The raw userinfo (or `/api/v4/user`) answer. */
  inspect(token: string): Promise<unknown> {
    return fetchJson(this.deps.fetch, this.userUrl, { ...this.limits, headers: bearer(token) });
  }

  async oauthClient(): Promise<OAuthClient | undefined> {
    if (this.config.clientId === undefined) return undefined;
    return {
      authorizationEndpoint: `${this.base}/oauth/authorize`,
      tokenEndpoint: `${this.base}/oauth/token`,
      clientId: this.config.clientId,
      ...(this.config.clientSecret === undefined ? {} : { clientSecret: this.config.clientSecret }),
      clientAuth: 'basic',
      scope: this.config.scope ?? (this.config.source === 'api' ? 'read_user' : 'openid profile email'),
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const grant = this.config.clientId === undefined ? undefined : await this.tokenInfo(token, this.config.clientId);
    const user = asObject(await this.inspect(token), `GET ${this.userUrl}`);
    if (typeof user['state'] === 'string' && user['state'] !== 'active') throw new TokenRejected('user is not active');
    const identity = identityFrom(user, this.mapping, `GET ${this.userUrl}`, {
      ...(grant === undefined ? {} : { scopes: grant.scopes }),
      ...(grant?.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
      keep: this.config.source === 'api' ? ['id', 'username'] : ['sub', 'nickname'],
    });
    if (grant?.owner !== undefined && grant.owner !== identity.subject) {
      throw new TokenRejected('token was not issued to this application');
    }
    return { identity };
  }

  /** `GET /oauth/token/info`: which application the token belongs to, its scopes and remaining lifetime. */
  private async tokenInfo(token: string, clientId: string): Promise<Grant> {
    const url = `${this.base}/oauth/token/info`;
    const info = asObject(await fetchJson(this.deps.fetch, url, { ...this.limits, headers: bearer(token) }), `GET ${url}`);
    const app = isRecord(info['application']) ? claimString(info['application']['uid']) : undefined;
    if (app !== clientId) throw new TokenRejected('token was not issued to this application');
    const left = info['expires_in_seconds'] ?? info['expires_in'];
    if (typeof left === 'number' && left <= 0) throw new TokenRejected('token expired');
    const owner = info['resource_owner_id'];
    return {
      scopes: claimStrings(info['scope'] ?? info['scopes']),
      ...(typeof left === 'number' && Number.isFinite(left) ? { expiresAt: this.deps.clock.now() + left * 1000 } : {}),
      ...(typeof owner === 'number' || typeof owner === 'string' ? { owner: String(owner) } : {}),
    };
  }
}

/** The `gitlab` plugin: gitlab.com and self-managed GitLab OAuth tokens. */
const gitlabPlugin: ProviderPlugin<GitlabConfig> = {
  kind: 'gitlab',
  description: 'GitLab (gitlab.com or self-managed) OAuth tokens, mapped from OpenID userinfo or /api/v4/user',
  configSchema: gitlabConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new GitlabProvider(config, deps),
};

export default gitlabPlugin;

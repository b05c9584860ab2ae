// The `github` provider kind: GitHub OAuth/GitHub App user tokens, bound to our app by the token-check API.
import type { Credential } from '../../core/access.js';
import { claimString, claimStrings } from '../../core/claims.js';
import { fetchJson, safeUrl, UpstreamHttpError } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { clientAuthentication } from '../shared/oauth-client.js';
import { ClientRejected, opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import {
  asObject, bearer, compileAttributes, identityFrom, isRecord, limitsOf, NOT_RESPONSIBLE, type AttributeMapping,
} from '../shared/userinfo.js';
import { githubConfigSchema, webBaseOf, type GithubConfig } from './config.js';

export { githubConfigSchema, type GithubConfig } from './config.js';

/** User-to-server tokens of OAuth apps (`gho_`) and GitHub Apps (`ghu_`): the only ones an app can own. */
const APP_TOKEN = /^gh[ou]_[A-Za-z0-9_]{20,255}$/;
const LEGACY_TOKEN = /^[0-9a-f]{40}$/;
/** Pages of 100 read from the org and team lists at most. */
const MAX_PAGES = 10;
const PAGE_SIZE = 100;

export class GithubProvider implements Provider {
  readonly kind = 'github';
  readonly id: string;
  private readonly api: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: GithubConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.api = config.apiBaseUrl.replace(/\/+$/, '');
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({
      subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim,
    });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** GitHub app tokens (`gho_`, `ghu_`) only: PATs and other tokens are not ours to judge. */
  authenticate(credential: Credential): Promise<AuthResult> {
    const token = credential.secret;
    if (credential.scheme !== 'bearer') return Promise.resolve(NOT_RESPONSIBLE);
    if (!APP_TOKEN.test(token) && !(this.config.acceptLegacyTokens && LEGACY_TOKEN.test(token))) {
      return Promise.resolve(NOT_RESPONSIBLE);
    }
    return this.validate(token);
  }

  /** The raw `GET /user` answer. */
  inspect(token: string): Promise<unknown> {
    return this.get('/user', token);
  }

  async oauthClient(): Promise<OAuthClient> {
    const web = webBaseOf(this.config);
    const groups = this.config.orgGroups || this.config.teamGroups;
    const scope = this.config.scope ?? ['read:user', 'user:email', ...(groups ? ['read:org'] : [])].join(' ');
    return {
      authorizationEndpoint: `${web}/login/oauth/authorize`,
      tokenEndpoint: `${web}/login/oauth/access_token`,
      clientId: this.config.clientId,
      clientSecret: this.config.clientSecret,
      clientAuth: 'body',
      scope,
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const grant = await this.checkToken(token);
    const user = asObject(await this.get('/user', token), 'GET /user');
    if (grant.userId !== undefined && String(user['id']) !== grant.userId) {
      throw new TokenRejected('token was not issued to this application');
    }
    const [orgs, teams] = await Promise.all([
      this.config.orgGroups ? this.list('/user/orgs', token, (o) => claimString(o['login'])) : [],
      this.config.teamGroups ? this.list('/user/teams', token, teamGroup) : [],
    ]);
    return {
      identity: identityFrom(user, this.mapping, 'GET /user', {
        groups: [...orgs, ...teams],
        scopes: grant.scopes,
        ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
        keep: ['login', 'id', 'type'],
      }),
    };
  }

  /**
   * `POST /applications/{client_id}/token`: 200 when the token belongs to our app, 404 when it
   * does not (or is unknown). A 401/403 means GitHub refused our client credentials: our problem.
   */
  private async checkToken(token: string): Promise<{ scopes: string[]; expiresAt?: number; userId?: string }> {
    const url = `${this.api}/applications/${encodeURIComponent(this.config.clientId)}/token`;
    const headers = {
      ...githubHeaders(),
      'content-type': 'application/json',
      ...clientAuthentication({ ...this.config, clientAuth: 'basic' }, new URLSearchParams()),
    };
    let answer: unknown;
    try {
      answer = await fetchJson(this.deps.fetch, url, {
        ...this.limits, method: 'POST', headers, body: JSON.stringify({ access_token: token }),
      });
    } catch (err) {
      if (err instanceof UpstreamHttpError && (err.status === 404 || err.status === 422)) {
        throw new TokenRejected('token was not issued to this application');
      }
      if (err instanceof UpstreamHttpError && (err.status === 401 || err.status === 403)) {
        throw new ClientRejected(`POST ${safeUrl(url)}: GitHub refused the client id/secret`);
      }
      throw err;
    }
    const grant = asObject(answer, `POST ${safeUrl(url)}`);
    const app = isRecord(grant['app']) ? grant['app'] : {};
    if (app['client_id'] !== undefined && app['client_id'] !== this.config.clientId) {
      throw new TokenRejected('token was not issued to this application');
    }
    const expires = typeof grant['expires_at'] === 'string' ? Date.parse(grant['expires_at']) : NaN;
    if (Number.isFinite(expires) && expires <= this.deps.clock.now()) throw new TokenRejected('token expired');
    const userId = isRecord(grant['user']) && grant['user']['id'] !== undefined ? String(grant['user']['id']) : undefined;
    return {
      scopes: claimStrings(grant['scopes']),
      ...(Number.isFinite(expires) ? { expiresAt: expires } : {}),
      ...(userId === undefined ? {} : { userId }),
    };
  }

  private get(path: string, token: string): Promise<unknown> {
    return fetchJson(this.deps.fetch, `${this.api}${path}`, { ...this.limits, headers: { ...githubHeaders(), ...bearer(token) } });
  }

  /** Read a paginated list (100 per page, at most MAX_PAGES pages) and map its entries. */
  private async list(path: string, token: string, pick: (entry: Record<string, unknown>) => string | undefined): Promise<string[]> {
    const found: string[] = [];
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const answer = await this.get(`${path}?per_page=${PAGE_SIZE}&page=${page}`, token);
      if (!Array.isArray(answer)) throw new UpstreamHttpError('malformed', `GET ${this.api}${path}: answer is not a list`);
      for (const entry of answer) {
        const name = isRecord(entry) ? pick(entry) : undefined;
        if (name !== undefined) found.push(name);
      }
      if (answer.length < PAGE_SIZE) break;
    }
    return found;
  }
}

function githubHeaders(): Record<string, string> {
  return { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'Portcullis' };
}

/** `org/team-slug` from a `/user/teams` entry. */
function teamGroup(team: Record<string, unknown>): string | undefined {
  const slug = claimString(team['slug']);
  const org = isRecord(team['organization']) ? claimString(team['organization']['login']) : undefined;
  return slug !== undefined && org !== undefined ? `${org}/${slug}` : undefined;
}

/** The `github` plugin: github.com and GitHub Enterprise Server user tokens of our OAuth app. */
const githubPlugin: ProviderPlugin<GithubConfig> = {
  kind: 'github',
  description: 'GitHub / GitHub Enterprise OAuth app tokens, checked against the app and mapped from GET /user',
  configSchema: githubConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new GithubProvider(config, deps),
};

export default githubPlugin;

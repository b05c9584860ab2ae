// The `slack` provider kind: Sign in with Slack user tokens, validated by openid.connect.userInfo.
import type { Credential } from '../../core/access.js';
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import { asObject, bearer, compileAttributes, identityFrom, limitsOf, NOT_RESPONSIBLE, type AttributeMapping } from '../shared/userinfo.js';
import { slackConfigSchema, type SlackConfig } from './config.js';

export { slackConfigSchema, type SlackConfig } from './config.js';

/** User tokens (`xoxp-`), also when rotated (`xoxe.xoxp-`): what Sign in with Slack issues. */
const USER_TOKEN = /^(?:xoxe\.)?xoxp-[A-Za-z0-9-]+$/;
const TEAM_ID = 'https://slack.com/team_id';
/** Slack `error` codes that mean "this token is not valid"; any other means Slack is unwell. */
const REFUSALS = new Set([
  'invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'no_permission', 'user_not_found',
]);

export class SlackProvider implements Provider {
  readonly kind = 'slack';
  readonly id: string;
  private readonly base: string;
  private readonly userinfoUrl: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: SlackConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.base = config.baseUrl.replace(/\/+$/, '');
    this.userinfoUrl = `${this.base}/api/openid.connect.userInfo`;
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({ subject: 'sub', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** Slack user tokens only; bot and app tokens cannot sign anybody in. */
  authenticate(credential: Credential): Promise<AuthResult> {
    if (credential.scheme !== 'bearer' || !USER_TOKEN.test(credential.secret)) return Promise.resolve(NOT_RESPONSIBLE);
    return this.validate(credential.secret);
  }

  /**
   * The raw userInfo answer of an accepted token.
   * @throws {UpstreamHttpError} with status 401 when Slack answers `ok: false` for the token.
   */
  async inspect(token: string): Promise<unknown> {
    try {
      return await this.userInfo(token);
    } catch (err) {
      if (err instanceof TokenRejected) throw new UpstreamHttpError('http_status', `POST ${this.userinfoUrl}: ${err.description}`, { status: 401 });
      throw err;
    }
  }

  async oauthClient(): Promise<OAuthClient | undefined> {
    if (this.config.clientId === undefined) return undefined;
    return {
      authorizationEndpoint: `${this.base}/openid/connect/authorize`,
      tokenEndpoint: `${this.base}/api/openid.connect.token`,
      clientId: this.config.clientId,
      ...(this.config.clientSecret === undefined ? {} : { clientSecret: this.config.clientSecret }),
      clientAuth: 'body',
      scope: this.config.scope,
      ...(this.config.teamId === undefined ? {} : { extraAuthorizeParams: { team: this.config.teamId } }),
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const info = await this.userInfo(token);
    if (this.config.teamId !== undefined && info[TEAM_ID] !== this.config.teamId) {
      throw new TokenRejected('token belongs to another Slack workspace');
    }
    return { identity: identityFrom(info, this.mapping, `POST ${this.userinfoUrl}`, { keep: ['sub', TEAM_ID] }) };
  }

  /** Slack answers HTTP 200 with `{ok: false, error}` for refused tokens. */
  private async userInfo(token: string): Promise<Record<string, unknown>> {
    const where = `POST ${this.userinfoUrl}`;
    const answer = asObject(await fetchJson(this.deps.fetch, this.userinfoUrl, { ...this.limits, method: 'POST', headers: bearer(token) }), where);
    if (answer['ok'] === true) return answer;
    const error = typeof answer['error'] === 'string' ? answer['error'] : 'no error code';
    if (REFUSALS.has(error)) throw new TokenRejected(`token not accepted by Slack (${error})`);
    throw new UpstreamHttpError('malformed', `${where}: answered ok=false (${error.slice(0, 40)})`);
  }
}

/** The `slack` plugin: Sign in with Slack (OpenID Connect) user tokens. */
const slackPlugin: ProviderPlugin<SlackConfig> = {
  kind: 'slack',
  description: 'Sign in with Slack user tokens, validated by openid.connect.userInfo, optionally limited to one workspace',
  configSchema: slackConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new SlackProvider(config, deps),
};

export default slackPlugin;

// The `slack` provider kind: Sign in with Slack user tokens, validated by openid.connect.userInfo.
import {
  accepted, asObject, bearer, bearerMatching, compileAttributes, fetchJson, identityFrom, oauthClientOf, oauthPreset, refuse,
  UpstreamHttpError, answerOf, type Answered, type Limits, type OpaqueSetup, type ProviderDeps,
} from '../sdk/index.js';
import { slackConfigSchema, type SlackConfig } from './config.js';

export { slackConfigSchema, type SlackConfig } from './config.js';

/** User tokens (`xoxp-`), also when rotated (`xoxe.xoxp-`): what Sign in with Slack issues. */
const USER_TOKEN = /^(?:xoxe\.)?xoxp-[A-Za-z0-9-]+$/;
const TEAM_ID = 'https://slack.com/team_id';
/** Slack `error` codes that mean "this token is not valid"; any other means Slack is unwell. */
const REFUSALS = new Set([
  'invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'no_permission', 'user_not_found',
]);

/** Slack user tokens only (bot and app tokens cannot sign anybody in), asked at userInfo. */
function slackSetup(config: SlackConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const base = config.baseUrl.replace(/\/+$/, '');
  const where = `POST ${base}/api/openid.connect.userInfo`;
  const mapping = compileAttributes({ subject: 'sub', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });

  /** Slack answers HTTP 200 with `{ok: false, error}` for refused tokens. */
  const userInfo = async (token: string): Promise<Answered> => {
    const answer = asObject(await fetchJson(deps.fetch, `${base}/api/openid.connect.userInfo`, { ...limits, method: 'POST', headers: bearer(token) }), where);
    if (answer['ok'] === true) return { outcome: 'answer', answer };
    const error = typeof answer['error'] === 'string' ? answer['error'] : 'no error code';
    if (REFUSALS.has(error)) return refuse(`token not accepted by Slack (${error})`);
    throw new UpstreamHttpError('malformed', `${where}: answered ok=false (${error.slice(0, 40)})`);
  };

  return {
    owns: bearerMatching(USER_TOKEN),
    check: async (token) => {
      const info = await userInfo(token);
      if (info.outcome !== 'answer') return info;
      if (config.teamId !== undefined && info.answer[TEAM_ID] !== config.teamId) return refuse('token belongs to another Slack workspace');
      return accepted(identityFrom(info.answer, mapping, where, { keep: ['sub', TEAM_ID] }));
    },
    /**
     * The raw userInfo answer of an accepted token.
     * @throws {UpstreamHttpError} with status 401 when Slack answers `ok: false` for the token.
     */
    inspect: async (token) => answerOf(await userInfo(token), where),
    oauthClient: async () =>
      config.clientId === undefined
        ? undefined
        : oauthClientOf({
            authorizationEndpoint: `${base}/openid/connect/authorize`,
            tokenEndpoint: `${base}/api/openid.connect.token`,
            clientId: config.clientId,
            clientSecret: config.clientSecret,
            clientAuth: 'body',
            scope: config.scope,
            extraAuthorizeParams: config.teamId === undefined ? undefined : { team: config.teamId },
          }),
  };
}

/** The `slack` plugin: Sign in with Slack (OpenID Connect) user tokens. */
export default oauthPreset({
  kind: 'slack',
  description: 'Sign in with Slack user tokens, validated by openid.connect.userInfo, optionally limited to one workspace',
  configSchema: slackConfigSchema,
  // openid.connect.userInfo is a Tier 3 method: 50+ calls a minute per app and workspace (api.slack.com/apis/rate-limits).
  callBudget: { maxConcurrent: 5, reservoir: { amount: 50, everyMs: 60_000 } },
  setup: slackSetup,
});

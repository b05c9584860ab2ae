// The `gitlab` provider kind: GitLab OAuth tokens, bound to our application by token info, mapped from userinfo or /api/v4/user.
import {
  accepted, asObject, bearer, claimString, claimStrings, compileAttributes, fetchJson, identityFrom, isRecord, oauthClientOf, oauthPreset,
  refuse,
  type AuthFailure, type Limits, type OpaqueSetup, type ProviderDeps,
} from '../sdk/index.js';
import { gitlabConfigSchema, type GitlabConfig } from './config.js';

export { gitlabConfigSchema, type GitlabConfig } from './config.js';

/** What token info says about a token of our application. */
interface Grant {
  readonly outcome: 'granted';
  readonly scopes: string[];
  readonly expiresAt?: number;
  readonly owner?: string;
}

/** Opaque bearer tokens (GitLab's OAuth access tokens are never JWTs), mapped from the user source. */
function gitlabSetup(config: GitlabConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const base = config.baseUrl.replace(/\/+$/, '');
  const api = config.source === 'api';
  const userUrl = `${base}${api ? '/api/v4/user' : '/oauth/userinfo'}`;
  const mapping = compileAttributes({
    subject: api ? 'id' : 'sub',
    username: config.usernameClaim ?? (api ? 'username' : 'nickname'),
    email: config.emailClaim,
    groups: config.groupsClaim ?? (api ? undefined : 'groups'),
  });
  /** The raw userinfo (or `/api/v4/user`) answer. */
  const inspect = (token: string) => fetchJson(deps.fetch, userUrl, { ...limits, headers: bearer(token) });

  /** `GET /oauth/token/info`: which application the token belongs to, its scopes and remaining lifetime. */
  const tokenInfo = async (token: string, clientId: string): Promise<Grant | AuthFailure> => {
    const url = `${base}/oauth/token/info`;
    const info = asObject(await fetchJson(deps.fetch, url, { ...limits, headers: bearer(token) }), `GET ${url}`);
    const app = isRecord(info['application']) ? claimString(info['application']['uid']) : undefined;
    if (app !== clientId) return refuse('token was not issued to this application');
    const left = info['expires_in_seconds'] ?? info['expires_in'];
    if (typeof left === 'number' && left <= 0) return refuse('token expired');
    const owner = info['resource_owner_id'];
    return {
      outcome: 'granted',
      scopes: claimStrings(info['scope'] ?? info['scopes']),
      ...(typeof left === 'number' && Number.isFinite(left) ? { expiresAt: deps.clock.now() + left * 1000 } : {}),
      ...(typeof owner === 'number' || typeof owner === 'string' ? { owner: String(owner) } : {}),
    };
  };

  return {
    check: async (token) => {
      const grant = config.clientId === undefined ? undefined : await tokenInfo(token, config.clientId);
      if (grant !== undefined && grant.outcome !== 'granted') return grant;
      const user = asObject(await inspect(token), `GET ${userUrl}`);
      if (typeof user['state'] === 'string' && user['state'] !== 'active') return refuse('user is not active');
      const identity = identityFrom(user, mapping, `GET ${userUrl}`, {
        ...(grant === undefined ? {} : { scopes: grant.scopes }),
        ...(grant?.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
        keep: api ? ['id', 'username'] : ['sub', 'nickname'],
      });
      if (grant?.owner !== undefined && grant.owner !== identity.subject) return refuse('token was not issued to this application');
      return accepted(identity);
    },
    inspect,
    oauthClient: async () =>
      config.clientId === undefined
        ? undefined
        : oauthClientOf({
            authorizationEndpoint: `${base}/oauth/authorize`,
            tokenEndpoint: `${base}/oauth/token`,
            clientId: config.clientId,
            clientSecret: config.clientSecret,
            clientAuth: 'basic',
            scope: config.scope ?? (api ? 'read_user' : 'openid profile email'),
          }),
  };
}

/** The `gitlab` plugin: gitlab.com and self-managed GitLab OAuth tokens. */
export default oauthPreset({
  kind: 'gitlab',
  description: 'GitLab (gitlab.com or self-managed) OAuth tokens, mapped from OpenID userinfo or /api/v4/user',
  configSchema: gitlabConfigSchema,
  // GitLab.com: 2,000 requests a minute from one IP address (all traffic) and per user for
  // authenticated API traffic (docs.gitlab.com, "GitLab.com settings: rate limits").
  callBudget: { maxConcurrent: 10, reservoir: { amount: 2000, everyMs: 60_000 } },
  setup: gitlabSetup,
});

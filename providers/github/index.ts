// The `github` provider kind: GitHub OAuth/GitHub App user tokens, bound to our app by the token-check API.
import {
  accepted, asObject, bearer, bearerMatching, claimString, claimStrings, clientAuthentication, clientRefused, compileAttributes,
  fetchJson, identityFrom, isRecord, oauthPreset, refuse, safeUrl, UpstreamHttpError,
  type AuthFailure, type Limits, type OpaqueSetup, type ProviderDeps,
} from '../sdk/index.js';
import { githubConfigSchema, webBaseOf, type GithubConfig } from './config.js';

export { githubConfigSchema, type GithubConfig } from './config.js';

/** User-to-server tokens of OAuth apps (`gho_`) and GitHub Apps (`ghu_`): the only ones an app can own. */
const APP_TOKEN = /^gh[ou]_[A-Za-z0-9_]{20,255}$/;
const LEGACY_TOKEN = /^[0-9a-f]{40}$/;
/** Pages of 100 read from the org and team lists at most. */
const MAX_PAGES = 10;
const PAGE_SIZE = 100;

/** What the token-check API says about a token of our app. */
interface Grant {
  readonly outcome: 'granted';
  readonly scopes: string[];
  readonly expiresAt?: number;
  readonly userId?: string;
}

/** A GitHub (Enterprise) REST API, called with a user's token. */
function githubApi(config: GithubConfig, deps: ProviderDeps, limits: Limits) {
  const api = config.apiBaseUrl.replace(/\/+$/, '');
  const get = (path: string, token: string): Promise<unknown> =>
    fetchJson(deps.fetch, `${api}${path}`, { ...limits, headers: { ...githubHeaders(), ...bearer(token) } });

  /** Read a paginated list (100 per page, at most MAX_PAGES pages) and map its entries. */
  const list = async (path: string, token: string, pick: (entry: Record<string, unknown>) => string | undefined): Promise<string[]> => {
    const found: string[] = [];
    for (let page = 1; page <= MAX_PAGES; page += 1) {
      const answer = await get(`${path}?per_page=${PAGE_SIZE}&page=${page}`, token);
      if (!Array.isArray(answer)) throw new UpstreamHttpError('malformed', `GET ${api}${path}: answer is not a list`);
      for (const entry of answer) {
        const name = isRecord(entry) ? pick(entry) : undefined;
        if (name !== undefined) found.push(name);
      }
      if (answer.length < PAGE_SIZE) break;
    }
    return found;
  };

  /**
   * `POST /applications/{client_id}/token`: 200 when the token belongs to our app, 404 when it
   * does not (or is unknown). A 401/403 means GitHub refused our client credentials: our problem.
   */
  const checkToken = async (token: string): Promise<Grant | AuthFailure> => {
    const url = `${api}/applications/${encodeURIComponent(config.clientId)}/token`;
    const headers = {
      ...githubHeaders(),
      'content-type': 'application/json',
      ...clientAuthentication({ ...config, clientAuth: 'basic' }, new URLSearchParams()),
    };
    let answer: unknown;
    try {
      answer = await fetchJson(deps.fetch, url, { ...limits, method: 'POST', headers, body: JSON.stringify({ access_token: token }) });
    } catch (err) {
      if (err instanceof UpstreamHttpError && (err.status === 404 || err.status === 422)) return refuse('token was not issued to this application');
      if (err instanceof UpstreamHttpError && (err.status === 401 || err.status === 403)) {
        return clientRefused(deps.logger, `POST ${safeUrl(url)}: GitHub refused the client id/secret`);
      }
      throw err;
    }
    const grant = asObject(answer, `POST ${safeUrl(url)}`);
    const app = isRecord(grant['app']) ? grant['app'] : {};
    if (app['client_id'] !== undefined && app['client_id'] !== config.clientId) return refuse('token was not issued to this application');
    const expires = typeof grant['expires_at'] === 'string' ? Date.parse(grant['expires_at']) : NaN;
    if (Number.isFinite(expires) && expires <= deps.clock.now()) return refuse('token expired');
    const userId = isRecord(grant['user']) && grant['user']['id'] !== undefined ? String(grant['user']['id']) : undefined;
    return {
      outcome: 'granted',
      scopes: claimStrings(grant['scopes']),
      ...(Number.isFinite(expires) ? { expiresAt: expires } : {}),
      ...(userId === undefined ? {} : { userId }),
    };
  };

  return { get, list, checkToken };
}

/** GitHub app tokens (`gho_`, `ghu_`) only: PATs and other tokens are not ours to judge. */
function githubSetup(config: GithubConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const { get, list, checkToken } = githubApi(config, deps, limits);
  const mapping = compileAttributes({ subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });
  return {
    owns: bearerMatching(APP_TOKEN, ...(config.acceptLegacyTokens ? [LEGACY_TOKEN] : [])),
    check: async (token) => {
      const grant = await checkToken(token);
      if (grant.outcome !== 'granted') return grant;
      const user = asObject(await get('/user', token), 'GET /user');
      if (grant.userId !== undefined && String(user['id']) !== grant.userId) return refuse('token was not issued to this application');
      const [orgs, teams] = await Promise.all([
        config.orgGroups ? list('/user/orgs', token, (o) => claimString(o['login'])) : [],
        config.teamGroups ? list('/user/teams', token, teamGroup) : [],
      ]);
      return accepted(identityFrom(user, mapping, 'GET /user', {
        groups: [...orgs, ...teams],
        scopes: grant.scopes,
        ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
        keep: ['login', 'id', 'type'],
      }));
    },
    /** The raw `GET /user` answer. */
    inspect: (token) => get('/user', token),
    oauthClient: async () => {
      const web = webBaseOf(config);
      const groups = config.orgGroups || config.teamGroups;
      return {
        authorizationEndpoint: `${web}/login/oauth/authorize`,
        tokenEndpoint: `${web}/login/oauth/access_token`,
        clientId: config.clientId,
        clientSecret: config.clientSecret,
        clientAuth: 'body',
        scope: config.scope ?? ['read:user', 'user:email', ...(groups ? ['read:org'] : [])].join(' '),
      };
    },
  };
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
export default oauthPreset({
  kind: 'github',
  description: 'GitHub / GitHub Enterprise OAuth app tokens, checked against the app and mapped from GET /user',
  configSchema: githubConfigSchema,
  // GitHub's REST API: 5,000 requests an hour for an OAuth app's own credentials (the token check),
  // and no more than 100 concurrent requests (secondary limits). docs.github.com, "Rate limits for the REST API".
  callBudget: { maxConcurrent: 10, reservoir: { amount: 5000, everyMs: 3_600_000 } },
  setup: githubSetup,
});

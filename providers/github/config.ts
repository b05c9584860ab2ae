// Configuration of the `github` provider kind (github.com or GitHub Enterprise Server).
import { z } from 'zod';
import { claimPaths, issuerUrl, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const GITHUB_API = 'https://api.github.com';

export const githubConfigSchema = z.strictObject({
  /** Client ID of our OAuth app (or GitHub App); tokens issued to other apps are refused. */
  clientId: z.string().min(1),
  /** Its client secret: the token-check endpoint needs it. */
  clientSecret: secretField,
  /** REST API base: `https://api.github.com`, or `https://<host>/api/v3` on GitHub Enterprise Server. */
  apiBaseUrl: issuerUrl('apiBaseUrl').default(GITHUB_API),
  /** Web base for the OAuth endpoints; derived from apiBaseUrl when absent. */
  webBaseUrl: issuerUrl('webBaseUrl').optional(),
  /** Add a group per organisation the user belongs to (`GET /user/orgs`, needs `read:org`). */
  orgGroups: z.boolean().default(false),
  /** Add a group `org/team-slug` per team the user belongs to (`GET /user/teams`, needs `read:org`). */
  teamGroups: z.boolean().default(false),
  /** Also judge 40-hex tokens without a prefix (issued by GitHub Enterprise Server before 3.2). */
  acceptLegacyTokens: z.boolean().default(false),
  usernameClaim: claimPaths.default('login'),
  emailClaim: claimPaths.default('email'),
  /** Path in the `/user` answer whose values become groups too (none by default). */
  groupsClaim: claimPaths.optional(),
  /** Scopes asked for by the fetch-token helper; default depends on orgGroups/teamGroups. */
  scope: scopeString.optional(),
  timeoutMs: timeoutField,
});

export type GithubConfig = z.output<typeof githubConfigSchema>;

const trim = (url: string) => url.replace(/\/+$/, '');

/** `https://github.com` for the public API; `https://host` for `https://host/api/v3`; else the API origin. */
export function webBaseOf(config: Pick<GithubConfig, 'apiBaseUrl' | 'webBaseUrl'>): string {
  if (config.webBaseUrl !== undefined) return trim(config.webBaseUrl);
  const api = trim(config.apiBaseUrl);
  if (api === GITHUB_API) return 'https://github.com';
  if (api.endsWith('/api/v3')) return api.slice(0, -'/api/v3'.length);
  return new URL(api).origin;
}

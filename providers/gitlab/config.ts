// Configuration of the `gitlab` provider kind (gitlab.com or a self-managed instance).
import { z } from 'zod';
import { claimPaths, issuerUrl, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const gitlabConfigSchema = z.strictObject({
  /** Instance base URL: `https://gitlab.com` or `https://gitlab.example.com` (a relative-URL install may add a path). */
  baseUrl: issuerUrl('baseUrl').default('https://gitlab.com'),
  /** Where the user is read: OpenID `/oauth/userinfo` (needs `openid`) or REST `/api/v4/user` (needs `read_user`). */
  source: z.enum(['userinfo', 'api']).default('userinfo'),
  /** Application ID of our GitLab application; when set, tokens of other applications are refused (`/oauth/token/info`). */
  clientId: z.string().min(1).optional(),
  /** Its secret: only used by the fetch-token helper. */
  clientSecret: secretField.optional(),
  scope: scopeString.optional(),
  /** Default `nickname` (userinfo) or `username` (api). */
  usernameClaim: claimPaths.optional(),
  emailClaim: claimPaths.default('email'),
  /** Default `groups` (userinfo: full paths of the user's groups); the REST answer has none. */
  groupsClaim: claimPaths.optional(),
  timeoutMs: timeoutField,
});

export type GitlabConfig = z.output<typeof gitlabConfigSchema>;

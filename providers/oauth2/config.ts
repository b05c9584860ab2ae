// Configuration of the `oauth2` provider kind: any OAuth 2.0 server with a userinfo-style endpoint.
import { z } from 'zod';
import { claimPaths, clientAuth, endpoint, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const oauth2ConfigSchema = z.strictObject({
  /** Called with the bearer token for every token not in the cache: 2xx = valid, 401/403 = not valid. */
  userinfoEndpoint: endpoint('userinfoEndpoint'),
  userinfoMethod: z.enum(['GET', 'POST']).default('GET'),
  /** Only used by the fetch-token helper. */
  authorizationEndpoint: endpoint('authorizationEndpoint').optional(),
  tokenEndpoint: endpoint('tokenEndpoint').optional(),
  clientId: z.string().min(1).optional(),
  clientSecret: secretField.optional(),
  clientAuth: clientAuth.default('basic'),
  scope: scopeString.optional(),
  /** Path of the stable user id in the answer. */
  subjectClaim: claimPaths.default('sub'),
  /** The username attribute; the subject when absent. */
  usernameClaim: claimPaths.default('preferred_username'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.default('groups'),
  timeoutMs: timeoutField,
});

export type OAuth2Config = z.output<typeof oauth2ConfigSchema>;

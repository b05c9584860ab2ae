// Configuration of the `introspection` provider kind: any RFC 7662 token introspection endpoint.
import { z } from 'zod';
import { claimPaths, clientAuth, endpoint, oneOrMore, requiredScopes, scopeString, secretField, timeoutField } from '../sdk/index.js';

const serviceAccount = z.strictObject({
  username: z.string().min(1),
  groups: z.array(z.string().min(1)).default([]),
});

export const introspectionConfigSchema = z.strictObject({
  introspectionEndpoint: endpoint('introspectionEndpoint'),
  /** The resource server's credentials at the introspection endpoint. */
  clientId: z.string().min(1),
  clientSecret: secretField,
  clientAuth: clientAuth.default('basic'),
  /** When set, the answer's `iss` must equal it. */
  issuer: z.string().min(1).optional(),
  /** When set, the answer's `aud` (string or list) must contain one of these. */
  audience: oneOrMore('audience').optional(),
  requiredScopes,
  /** Client-credentials tokens (no `sub`/`username`, a `client_id`) act as these users, by client id. */
  serviceAccounts: z.record(z.string().min(1), serviceAccount).default({}),
  /** Only for the fetch-token helper (client-credentials grant). */
  tokenEndpoint: endpoint('tokenEndpoint').optional(),
  scope: scopeString.optional(),
  usernameClaim: claimPaths.default('username'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.default('groups'),
  timeoutMs: timeoutField,
});

export type IntrospectionConfig = z.output<typeof introspectionConfigSchema>;

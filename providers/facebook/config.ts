// Configuration of the `facebook` provider kind (Facebook Login user access tokens).
import { z } from 'zod';
import { claimPaths, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const facebookConfigSchema = z.strictObject({
  /** App ID of our Facebook app: tokens issued to other apps are refused. */
  appId: z.string().regex(/^\d+$/, 'must be the numeric App ID'),
  /** App secret: builds the app token for debug_token and the appsecret_proof of every call. */
  appSecret: secretField,
  /** Graph API version used in every URL. */
  graphVersion: z.string().regex(/^v\d+\.\d+$/, 'must look like v23.0').default('v23.0'),
  /** Fields asked from `/me`; `id` is always asked. */
  fields: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/, 'must be a Graph API field name')).min(1).default(['id', 'name', 'email']),
  scope: scopeString.default('public_profile email'),
  usernameClaim: claimPaths.default('email'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.optional(),
  timeoutMs: timeoutField,
});

export type FacebookConfig = z.output<typeof facebookConfigSchema>;

// Configuration of the `slack` provider kind (Sign in with Slack, OpenID Connect).
import { z } from 'zod';
import { claimPaths, issuerUrl, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const slackConfigSchema = z.strictObject({
  /** Only users of this workspace (`https://slack.com/team_id`, `T…`) are accepted. */
  teamId: z.string().regex(/^[A-Z0-9]+$/, 'must be a Slack team id like T0123ABCD').optional(),
  /** Client ID and secret of our Slack app: only used by the fetch-token helper. */
  clientId: z.string().min(1).optional(),
  clientSecret: secretField.optional(),
  scope: scopeString.default('openid profile email'),
  /** `https://slack.com`; `https://slack-gov.com` for GovSlack. */
  baseUrl: issuerUrl('baseUrl').default('https://slack.com'),
  usernameClaim: claimPaths.default('email'),
  emailClaim: claimPaths.default('email'),
  /** None by default; `https://slack.com/team_id` makes the workspace a group. */
  groupsClaim: claimPaths.optional(),
  timeoutMs: timeoutField,
});

export type SlackConfig = z.output<typeof slackConfigSchema>;

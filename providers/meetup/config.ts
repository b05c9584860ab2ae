// Configuration of the `meetup` provider kind (Meetup OAuth 2 tokens, GraphQL API).
import { z } from 'zod';
import { claimPaths, endpoint, scopeString, secretField, timeoutField } from '../sdk/index.js';

export const meetupConfigSchema = z.strictObject({
  /** Meetup's GraphQL endpoint (the older `https://api.meetup.com/gql` still works where it is served). */
  graphqlEndpoint: endpoint('graphqlEndpoint').default('https://api.meetup.com/gql-ext'),
  /** Query whose `data.self` object is the user; must select the subject `id`. */
  query: z.string().min(1).max(2_000).refine((q) => /\bself\b/.test(q) && /\bid\b/.test(q), {
    message: 'must query self { id ... }',
  }).default('query { self { id name email } }'),
  /** Client key and secret of our Meetup OAuth client: only used by the fetch-token helper. */
  clientId: z.string().min(1).optional(),
  clientSecret: secretField.optional(),
  scope: scopeString.optional(),
  usernameClaim: claimPaths.default('name'),
  emailClaim: claimPaths.default('email'),
  groupsClaim: claimPaths.optional(),
  timeoutMs: timeoutField,
});

export type MeetupConfig = z.output<typeof meetupConfigSchema>;

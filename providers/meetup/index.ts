// The `meetup` provider kind: Meetup OAuth 2 tokens, validated by asking the GraphQL API who `self` is.
import {
  accepted, asObject, bearer, compileAttributes, fetchJson, identityFrom, isRecord, oauthClientOf, oauthPreset, refuse, UpstreamHttpError,
  answerOf, type Answered, type Limits, type OpaqueSetup, type ProviderDeps,
} from '../sdk/index.js';
import { meetupConfigSchema, type MeetupConfig } from './config.js';

export { meetupConfigSchema, type MeetupConfig } from './config.js';

/** GraphQL error codes that mean "this token is not valid". */
const REFUSALS = new Set(['UNAUTHENTICATED', 'UNAUTHORIZED', 'FORBIDDEN', 'INVALID_TOKEN']);

/** Opaque bearer tokens, mapped from the `data.self` object of the configured query. */
function meetupSetup(config: MeetupConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const where = `POST ${config.graphqlEndpoint}`;
  const body = JSON.stringify({ query: config.query });
  const mapping = compileAttributes({ subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });

  /** POST the query; `data.self` is the user, or null with errors when the token is not accepted. */
  const self = async (token: string): Promise<Answered> => {
    const headers = { ...bearer(token), 'content-type': 'application/json' };
    const answer = asObject(await fetchJson(deps.fetch, config.graphqlEndpoint, { ...limits, method: 'POST', headers, body }), where);
    const found = isRecord(answer['data']) ? answer['data']['self'] : undefined;
    if (isRecord(found)) return { outcome: 'answer', answer: found };
    const errors = Array.isArray(answer['errors']) ? answer['errors'] : [];
    const refused = errors.some((e) => isRecord(e) && isRecord(e['extensions']) && REFUSALS.has(String(e['extensions']['code'])));
    if (refused || (found === null && errors.length === 0)) return refuse('token not accepted by Meetup');
    throw new UpstreamHttpError('malformed', `${where}: answer has no data.self`);
  };

  return {
    check: async (token) => {
      const asked = await self(token);
      return asked.outcome === 'answer' ? accepted(identityFrom(asked.answer, mapping, where, { keep: ['id'] })) : asked;
    },
    /**
     * The `data.self` object of the configured query.
     * @throws {UpstreamHttpError} with status 401 when Meetup does not accept the token.
     */
    inspect: async (token) => answerOf(await self(token), where),
    oauthClient: async () =>
      config.clientId === undefined
        ? undefined
        : oauthClientOf({
            authorizationEndpoint: 'https://secure.meetup.com/oauth2/authorize',
            tokenEndpoint: 'https://secure.meetup.com/oauth2/access',
            clientId: config.clientId,
            clientSecret: config.clientSecret,
            clientAuth: 'body',
            scope: config.scope,
          }),
  };
}

/** The `meetup` plugin: Meetup OAuth 2 member tokens. */
export default oauthPreset({
  kind: 'meetup',
  description: 'Meetup OAuth 2 member tokens, validated by the GraphQL `self` query',
  configSchema: meetupConfigSchema,
  setup: meetupSetup,
});

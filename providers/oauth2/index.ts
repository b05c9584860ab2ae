// The `oauth2` provider kind: a custom OAuth 2.0 server; tokens are valid when its userinfo endpoint accepts them.
import { accepted, anyBearer, asObject, bearer, compileAttributes, fetchJson, identityFrom, oauthClientOf, oauthPreset } from '../sdk/index.js';
import { oauth2ConfigSchema } from './config.js';

export { oauth2ConfigSchema, type OAuth2Config } from './config.js';

/** The `oauth2` plugin: custom OAuth 2.0 authorization servers with a userinfo endpoint. */
export default oauthPreset({
  kind: 'oauth2',
  description: 'Custom OAuth 2.0 server: bearer tokens validated by calling its userinfo endpoint',
  configSchema: oauth2ConfigSchema,
  setup: (config, deps, limits) => {
    const where = `${config.userinfoMethod} userinfo`;
    const mapping = compileAttributes({
      subject: config.subjectClaim, username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim,
    });
    /** The raw userinfo answer. */
    const inspect = (token: string) =>
      fetchJson(deps.fetch, config.userinfoEndpoint, { ...limits, method: config.userinfoMethod, headers: bearer(token) });
    const { clientId, tokenEndpoint } = config;
    return {
      // Every bearer token (JWTs of other providers' issuers are routed to them first); Basic is not ours.
      owns: anyBearer,
      check: async (token) => accepted(identityFrom(asObject(await inspect(token), where), mapping, where, { keep: ['sub'] })),
      inspect,
      oauthClient: async () =>
        clientId === undefined || tokenEndpoint === undefined ? undefined : oauthClientOf({ ...config, clientId, tokenEndpoint }),
    };
  },
});

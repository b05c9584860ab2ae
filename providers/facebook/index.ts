// The `facebook` provider kind: user access tokens proven ours by debug_token, identity from /me.
import { createHmac } from 'node:crypto';
import {
  accepted, asObject, bearer, claimStrings, compileAttributes, fetchJson, identityFrom, isRecord, oauthPreset, refuse, scalarString,
  type AuthFailure, type Limits, type OpaqueSetup, type ProviderDeps,
} from '../sdk/index.js';
import { facebookConfigSchema, type FacebookConfig } from './config.js';

export { facebookConfigSchema, type FacebookConfig } from './config.js';

const GRAPH = 'https://graph.facebook.com';

/** What debug_token says about a user token of our app. */
interface Grant {
  readonly outcome: 'granted';
  readonly userId: string | undefined;
  readonly scopes: string[];
  readonly expiresAt?: number;
}

/** Opaque bearer tokens (Facebook user tokens are never JWTs), proven ours, mapped from `/me`. */
function facebookSetup(config: FacebookConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const graph = `${GRAPH}/${config.graphVersion}`;
  const fields = [...new Set(['id', ...config.fields])].join(',');
  const meUrl = `${graph}/me?fields=${encodeURIComponent(fields)}`;
  const mapping = compileAttributes({ subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });

  /** `GET /me` with the token in the header and an appsecret_proof (HMAC-SHA256 of the token with the app secret). */
  const me = (token: string): Promise<unknown> => {
    const proof = createHmac('sha256', config.appSecret).update(token).digest('hex');
    return fetchJson(deps.fetch, `${meUrl}&appsecret_proof=${proof}`, { ...limits, headers: bearer(token) });
  };

  /**
   * `GET /debug_token` with our app token: is the token valid, a user token, and issued to our app?
   * The token travels in the query (the endpoint takes no other form); fetchJson never logs queries.
   */
  const debugToken = async (token: string): Promise<Grant | AuthFailure> => {
    const url = new URL(`${graph}/debug_token`);
    url.searchParams.set('input_token', token);
    url.searchParams.set('access_token', `${config.appId}|${config.appSecret}`);
    const answer = asObject(await fetchJson(deps.fetch, url.href, limits), `GET ${graph}/debug_token`);
    const data = isRecord(answer['data']) ? answer['data'] : {};
    const expiresAt = typeof data['expires_at'] === 'number' && data['expires_at'] > 0 ? data['expires_at'] * 1000 : undefined;
    if (data['is_valid'] !== true) return refuse(expiresAt !== undefined && expiresAt <= deps.clock.now() ? 'token expired' : 'token not valid');
    if (scalarString(data['app_id']) !== config.appId) return refuse('token was not issued to this application');
    if (data['type'] !== undefined && data['type'] !== 'USER') return refuse('not a user access token');
    if (expiresAt !== undefined && expiresAt <= deps.clock.now()) return refuse('token expired');
    return { outcome: 'granted', userId: scalarString(data['user_id']), scopes: claimStrings(data['scopes']), ...(expiresAt === undefined ? {} : { expiresAt }) };
  };

  return {
    check: async (token) => {
      const grant = await debugToken(token);
      if (grant.outcome !== 'granted') return grant;
      const user = asObject(await me(token), `GET ${graph}/me`);
      if (grant.userId !== undefined && scalarString(user['id']) !== grant.userId) return refuse('token was not issued to this application');
      return accepted(identityFrom(user, mapping, `GET ${graph}/me`, {
        scopes: grant.scopes,
        ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
        keep: ['id'],
      }));
    },
    /** The raw `/me` answer (configured fields). */
    inspect: me,
    oauthClient: async () => ({
      authorizationEndpoint: `https://www.facebook.com/${config.graphVersion}/dialog/oauth`,
      tokenEndpoint: `${graph}/oauth/access_token`,
      clientId: config.appId,
      clientSecret: config.appSecret,
      clientAuth: 'body',
      scope: config.scope,
    }),
  };
}

/** The `facebook` plugin: Facebook Login user access tokens of our app. */
export default oauthPreset({
  kind: 'facebook',
  description: 'Facebook Login user tokens, checked with debug_token against our app, identity from /me',
  configSchema: facebookConfigSchema,
  secretFields: ['appSecret'],
  setup: facebookSetup,
});

// The `introspection` provider kind: RFC 7662 token introspection, with audience, scope and service-account mapping.
import {
  accepted, anyBearer, claimString, claimStrings, clientAuthentication, compileAttributes, fetchJson, identityFrom, introspect,
  oauthClientOf, oauthPreset, refuse, scopesOf, asList, type Limits, type OpaqueSetup, type ProviderDeps, type TokenCheck,
} from '../sdk/index.js';
import { introspectionConfigSchema, type IntrospectionConfig } from './config.js';

export { introspectionConfigSchema, type IntrospectionConfig } from './config.js';

/** Answer members copied into `Identity.claims`. */
const KEEP = ['iss', 'aud', 'client_id', 'sub', 'username', 'token_type'];

/** Every bearer token, JWT or opaque (Basic is not ours), asked at the introspection endpoint. */
function introspectionSetup(config: IntrospectionConfig, deps: ProviderDeps, limits: Limits): OpaqueSetup {
  const client = { clientId: config.clientId, clientSecret: config.clientSecret, clientAuth: config.clientAuth };
  const audiences = asList(config.audience);
  const mapping = compileAttributes({
    subject: ['sub', 'username'], username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim,
  });
  const serviceAccount = (clientId: string) => (Object.hasOwn(config.serviceAccounts, clientId) ? config.serviceAccounts[clientId] : undefined);

  /** An active token's answer, checked against the configuration and mapped. */
  const judge = (answer: Record<string, unknown>): TokenCheck => {
    const now = deps.clock.now();
    const exp = typeof answer['exp'] === 'number' ? answer['exp'] * 1000 : undefined;
    if (exp !== undefined && exp <= now) return refuse('token expired');
    if (typeof answer['nbf'] === 'number' && answer['nbf'] * 1000 > now) return refuse('token not yet valid');
    if (config.issuer !== undefined && answer['iss'] !== config.issuer) return refuse('issuer not accepted');
    if (audiences.length > 0) {
      const aud = claimStrings(answer['aud']);
      if (!audiences.some((a) => aud.includes(a))) return refuse('audience not accepted');
    }
    const scopes = scopesOf(answer);
    if (!(config.requiredScopes ?? []).every((s) => scopes.includes(s))) return refuse('required scope missing');

    const tokenId = claimString(answer['jti']);
    const extras = { scopes, ...(exp === undefined ? {} : { expiresAt: exp }), ...(tokenId === undefined ? {} : { tokenId }), keep: KEEP };
    const subject = claimString(answer['sub']) ?? claimString(answer['username']);
    const clientId = claimString(answer['client_id']);
    // A client-credentials token names no user (or names the client itself): it acts as the mapped service account.
    if (subject === undefined || (clientId !== undefined && subject === clientId)) {
      const account = clientId === undefined ? undefined : serviceAccount(clientId);
      if (clientId !== undefined && account !== undefined) {
        const identity = identityFrom({ ...answer, sub: subject ?? clientId }, mapping, 'introspection', extras);
        return accepted({ ...identity, username: account.username, groups: [...account.groups] });
      }
      if (subject === undefined) return refuse(clientId === undefined ? 'token names no user' : 'client not mapped to a service account');
    }
    return accepted(identityFrom(answer, mapping, 'introspection', extras));
  };

  return {
    owns: anyBearer,
    check: async (token) => {
      const asked = await introspect(deps, config.introspectionEndpoint, client, token, limits);
      return asked.outcome === 'active' ? judge(asked.answer) : asked;
    },
    /**
     * The raw introspection answer, inactive ones included (the admin sees why).
     * @throws {UpstreamHttpError} on transport failures and refused client credentials.
     */
    inspect: (token) => {
      const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
      const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuthentication(client, form) };
      return fetchJson(deps.fetch, config.introspectionEndpoint, { ...limits, method: 'POST', headers, body: form });
    },
    oauthClient: async () =>
      config.tokenEndpoint === undefined ? undefined : oauthClientOf({ ...client, tokenEndpoint: config.tokenEndpoint, scope: config.scope }),
  };
}

/** The `introspection` plugin: any RFC 7662 endpoint. */
export default oauthPreset({
  kind: 'introspection',
  description: 'RFC 7662 token introspection with client authentication, audience and scope checks, service accounts',
  configSchema: introspectionConfigSchema,
  setup: introspectionSetup,
});

// The `introspection` provider kind: RFC 7662 token introspection, with audience, scope and service-account mapping.
import type { Credential } from '../../core/access.js';
import { claimString, claimStrings, scopesOf } from '../../core/claims.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { asList } from '../shared/config-fields.js';
import { clientAuthentication, introspect, type ClientCredentials } from '../shared/oauth-client.js';
import { opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import { asObject, compileAttributes, identityFrom, limitsOf, NOT_RESPONSIBLE, type AttributeMapping } from '../shared/userinfo.js';
import { introspectionConfigSchema, type IntrospectionConfig } from './config.js';

export { introspectionConfigSchema, type IntrospectionConfig } from './config.js';

/** Answer members copied into `Identity.claims`. */
const KEEP = ['iss', 'aud', 'client_id', 'sub', 'username', 'token_type'];

export class IntrospectionProvider implements Provider {
  readonly kind = 'introspection';
  readonly id: string;
  private readonly client: ClientCredentials;
  private readonly audiences: readonly string[];
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: IntrospectionConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.client = { clientId: config.clientId, clientSecret: config.clientSecret, clientAuth: config.clientAuth };
    this.audiences = asList(config.audience);
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({
      subject: ['sub', 'username'], username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim,
    });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** Every bearer token, JWT or opaque; Basic is not ours. */
  authenticate(credential: Credential): Promise<AuthResult> {
    if (credential.scheme !== 'bearer' || credential.secret === '') return Promise.resolve(NOT_RESPONSIBLE);
    return this.validate(credential.secret);
  }

  /**
   * The raw introspection answer, inactive ones included (the admin sees why).
   * @throws {UpstreamHttpError} on transport failures and refused client credentials.
   */
  inspect(token: string): Promise<unknown> {
    const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuthentication(this.client, form) };
    return fetchJson(this.deps.fetch, this.config.introspectionEndpoint, { ...this.limits, method: 'POST', headers, body: form });
  }

  async oauthClient(): Promise<OAuthClient | undefined> {
    if (this.config.tokenEndpoint === undefined) return undefined;
    return {
      tokenEndpoint: this.config.tokenEndpoint,
      clientId: this.config.clientId,
      clientSecret: this.config.clientSecret,
      clientAuth: this.config.clientAuth,
      ...(this.config.scope === undefined ? {} : { scope: this.config.scope }),
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const answer = await this.ask(token);
    const now = this.deps.clock.now();
    const exp = typeof answer['exp'] === 'number' ? answer['exp'] * 1000 : undefined;
    if (exp !== undefined && exp <= now) throw new TokenRejected('token expired');
    if (typeof answer['nbf'] === 'number' && answer['nbf'] * 1000 > now) throw new TokenRejected('token not yet valid');
    if (this.config.issuer !== undefined && answer['iss'] !== this.config.issuer) throw new TokenRejected('issuer not accepted');
    if (this.audiences.length > 0) {
      const aud = claimStrings(answer['aud']);
      if (!this.audiences.some((a) => aud.includes(a))) throw new TokenRejected('audience not accepted');
    }
    const scopes = scopesOf(answer);
    if (!(this.config.requiredScopes ?? []).every((s) => scopes.includes(s))) throw new TokenRejected('required scope missing');

    const tokenId = claimString(answer['jti']);
    const extras = { scopes, ...(exp === undefined ? {} : { expiresAt: exp }), ...(tokenId === undefined ? {} : { tokenId }), keep: KEEP };
    const subject = claimString(answer['sub']) ?? claimString(answer['username']);
    const clientId = claimString(answer['client_id']);
    // A client-credentials token names no user (or names the client itself): it acts as the mapped service account.
    if (subject === undefined || (clientId !== undefined && subject === clientId)) {
      const account = clientId === undefined ? undefined : this.serviceAccount(clientId);
      if (clientId !== undefined && account !== undefined) {
        const identity = identityFrom({ ...answer, sub: subject ?? clientId }, this.mapping, 'introspection', extras);
        return { identity: { ...identity, username: account.username, groups: [...account.groups] } };
      }
      if (subject === undefined) throw new TokenRejected(clientId === undefined ? 'token names no user' : 'client not mapped to a service account');
    }
    return { identity: identityFrom(answer, this.mapping, 'introspection', extras) };
  }

  private serviceAccount(clientId: string) {
    return Object.hasOwn(this.config.serviceAccounts, clientId) ? this.config.serviceAccounts[clientId] : undefined;
  }

  private async ask(token: string): Promise<Record<string, unknown>> {
    return asObject(await introspect(this.deps.fetch, this.config.introspectionEndpoint, this.client, token, this.limits), 'introspection');
  }
}

/** The `introspection` plugin: any RFC 7662 endpoint. */
const introspectionPlugin: ProviderPlugin<IntrospectionConfig> = {
  kind: 'introspection',
  description: 'RFC 7662 token introspection with client authentication, audience and scope checks, service accounts',
  configSchema: introspectionConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new IntrospectionProvider(config, deps),
};

export default introspectionPlugin;

// The `oauth2` provider kind: a custom OAuth 2.0 server; tokens are valid when its userinfo endpoint accepts them.
import type { Credential } from '../../core/access.js';
import { fetchJson } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { opaqueValidator, type OpaqueCheck } from '../shared/opaque.js';
import { asObject, bearer, compileAttributes, identityFrom, limitsOf, NOT_RESPONSIBLE, type AttributeMapping } from '../shared/userinfo.js';
import { oauth2ConfigSchema, type OAuth2Config } from './config.js';

export { oauth2ConfigSchema, type OAuth2Config } from './config.js';

export class OAuth2Provider implements Provider {
  readonly kind = 'oauth2';
  readonly id: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: OAuth2Config, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({
      subject: config.subjectClaim, username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim,
    });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  /** Every bearer token (JWTs of other providers' issuers are routed to them first); Basic is not ours. */
  authenticate(credential: Credential): Promise<AuthResult> {
    if (credential.scheme !== 'bearer' || credential.secret === '') return Promise.resolve(NOT_RESPONSIBLE);
    return this.validate(credential.secret);
  }

  /** The raw userinfo answer. */
  inspect(token: string): Promise<unknown> {
    return fetchJson(this.deps.fetch, this.config.userinfoEndpoint, { ...this.limits, method: this.config.userinfoMethod, headers: bearer(token) });
  }

  async oauthClient(): Promise<OAuthClient | undefined> {
    const { clientId, clientSecret, tokenEndpoint, authorizationEndpoint, scope } = this.config;
    if (clientId === undefined || tokenEndpoint === undefined) return undefined;
    return {
      ...(authorizationEndpoint === undefined ? {} : { authorizationEndpoint }),
      tokenEndpoint,
      clientId,
      ...(clientSecret === undefined ? {} : { clientSecret }),
      clientAuth: this.config.clientAuth,
      ...(scope === undefined ? {} : { scope }),
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    const where = `${this.config.userinfoMethod} userinfo`;
    return { identity: identityFrom(asObject(await this.inspect(token), where), this.mapping, where, { keep: ['sub'] }) };
  }
}

/** The `oauth2` plugin: custom OAuth 2.0 authorization servers with a userinfo endpoint. */
const oauth2Plugin: ProviderPlugin<OAuth2Config> = {
  kind: 'oauth2',
  description: 'Custom OAuth 2.0 server: bearer tokens validated by calling its userinfo endpoint',
  configSchema: oauth2ConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new OAuth2Provider(config, deps),
};

export default oauth2Plugin;

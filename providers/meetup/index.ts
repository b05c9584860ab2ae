// The `meetup` provider kind: Meetup OAuth 2 tokens, validated by asking the GraphQL API who `self` is.
import type { Credential } from '../../core/access.js';
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { AuthResult, OAuthClient, Provider, ProviderDeps, ProviderPlugin } from '../../core/provider.js';
import { opaqueValidator, TokenRejected, type OpaqueCheck } from '../shared/opaque.js';
import {
  asObject, bearer, compileAttributes, identityFrom, isOpaqueBearer, isRecord, limitsOf, NOT_RESPONSIBLE, type AttributeMapping,
} from '../shared/userinfo.js';
import { meetupConfigSchema, type MeetupConfig } from './config.js';

export { meetupConfigSchema, type MeetupConfig } from './config.js';

/** GraphQL error codes that mean "this token is not valid". */
const REFUSALS = new Set(['UNAUTHENTICATED', 'UNAUTHORIZED', 'FORBIDDEN', 'INVALID_TOKEN']);

export class MeetupProvider implements Provider {
  readonly kind = 'meetup';
  readonly id: string;
  private readonly body: string;
  private readonly mapping: AttributeMapping;
  private readonly limits: { timeoutMs: number; maxBytes: number };
  private readonly validate: (token: string) => Promise<AuthResult>;

  constructor(private readonly config: MeetupConfig, private readonly deps: ProviderDeps) {
    this.id = deps.id;
    this.body = JSON.stringify({ query: config.query });
    this.limits = limitsOf(config);
    this.mapping = compileAttributes({ subject: 'id', username: config.usernameClaim, email: config.emailClaim, groups: config.groupsClaim });
    this.validate = opaqueValidator({ deps, config, check: (token) => this.check(token) });
  }

  status() {
    return { ready: true };
  }

  authenticate(credential: Credential): Promise<AuthResult> {
    return isOpaqueBearer(credential) ? this.validate(credential.secret) : Promise.resolve(NOT_RESPONSIBLE);
  }

  /**
   * The `data.self` object of the configured query.
   * @throws {UpstreamHttpError} with status 401 when Meetup does not accept the token.
   */
  async inspect(token: string): Promise<unknown> {
    try {
      return await this.self(token);
    } catch (err) {
      if (err instanceof TokenRejected) throw new UpstreamHttpError('http_status', `POST ${this.config.graphqlEndpoint}: ${err.description}`, { status: 401 });
      throw err;
    }
  }

  async oauthClient(): Promise<OAuthClient | undefined> {
    if (this.config.clientId === undefined) return undefined;
    return {
      authorizationEndpoint: 'https://secure.meetup.com/oauth2/authorize',
      tokenEndpoint: 'https://secure.meetup.com/oauth2/access',
      clientId: this.config.clientId,
      ...(this.config.clientSecret === undefined ? {} : { clientSecret: this.config.clientSecret }),
      clientAuth: 'body',
      ...(this.config.scope === undefined ? {} : { scope: this.config.scope }),
    };
  }

  private async check(token: string): Promise<OpaqueCheck> {
    return { identity: identityFrom(await this.self(token), this.mapping, `POST ${this.config.graphqlEndpoint}`, { keep: ['id'] }) };
  }

  /** POST the query; `data.self` is the user, or null with errors when the token is not accepted. */
  private async self(token: string): Promise<Record<string, unknown>> {
    const where = `POST ${this.config.graphqlEndpoint}`;
    const answer = asObject(
      await fetchJson(this.deps.fetch, this.config.graphqlEndpoint, {
        ...this.limits, method: 'POST', headers: { ...bearer(token), 'content-type': 'application/json' }, body: this.body,
      }),
      where,
    );
    const self = isRecord(answer['data']) ? answer['data']['self'] : undefined;
    if (isRecord(self)) return self;
    const errors = Array.isArray(answer['errors']) ? answer['errors'] : [];
    const refused = errors.some((e) => isRecord(e) && isRecord(e['extensions']) && REFUSALS.has(String(e['extensions']['code'])));
    if (refused || (self === null && errors.length === 0)) throw new TokenRejected('token not accepted by Meetup');
    throw new UpstreamHttpError('malformed', `${where}: answer has no data.self`);
  }
}

/** The `meetup` plugin: Meetup OAuth 2 member tokens. */
const meetupPlugin: ProviderPlugin<MeetupConfig> = {
  kind: 'meetup',
  description: 'Meetup OAuth 2 member tokens, validated by the GraphQL `self` query',
  configSchema: meetupConfigSchema,
  secretFields: ['clientSecret'],
  create: (config, deps) => new MeetupProvider(config, deps),
};

export default meetupPlugin;

// The admin's fetch-token helper: authorization code with PKCE and state, and client credentials, against a provider's OAuth client.
import { createHash, randomBytes } from 'node:crypto';
import { GatewayError } from '../../core/errors.js';
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { Clock } from '../../core/clock.js';
import type { HttpFetch, OAuthClient } from '../../core/provider.js';
import { clientAuthentication } from '../../providers/sdk/index.js';

/** How long an admin has to finish logging in at the provider. */
export const FLOW_TTL_MS = 10 * 60 * 1000;
const MAX_PENDING = 1000;
const LIMITS = { timeoutMs: 10_000, maxBytes: 256 * 1024 };

/** What the token endpoint answered, limited to the fields RFC 6749 §5.1 and OIDC define. */
export interface TokenAnswer {
  readonly access_token: string;
  readonly token_type?: string;
  readonly expires_in?: number;
  readonly scope?: string;
  readonly id_token?: string;
  readonly refresh_token?: string;
}

interface Pending {
  readonly providerId: string;
  readonly client: OAuthClient;
  readonly verifier: string;
  readonly redirectUri: string;
  readonly expiresAt: number;
}

export class FlowError extends GatewayError {}

const b64url = (bytes: Buffer) => bytes.toString('base64url');

function tokenAnswer(body: unknown): TokenAnswer {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof b.access_token !== 'string') throw new FlowError('provider_error', 502, 'the token endpoint answered without an access_token');
  const pick = <T>(k: string, type: string) => (typeof b[k] === type ? { [k]: b[k] as T } : {});
  return {
    access_token: b.access_token,
    ...pick<string>('token_type', 'string'),
    ...pick<number>('expires_in', 'number'),
    ...pick<string>('scope', 'string'),
    ...pick<string>('id_token', 'string'),
    ...pick<string>('refresh_token', 'string'),
  };
}

function providerError(err: unknown): never {
  if (err instanceof UpstreamHttpError) {
    throw new FlowError('provider_error', 502, `the token endpoint refused or failed (${err.code}${err.status ? ` ${err.status}` : ''})`);
  }
  throw err;
}

export class FetchTokenFlows {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly fetch: HttpFetch,
    private readonly clock: Clock,
  ) {}

  /** Start an authorization-code flow; the admin opens `authorizationUrl` in a browser. */
  begin(providerId: string, client: OAuthClient, redirectUri: string) {
    this.sweep();
    if (this.pending.size >= MAX_PENDING) throw new FlowError('too_many_flows', 429, 'too many unfinished fetch-token flows; retry in a few minutes');
    const { authorizationUrl, state, verifier } = this.authorizationRequest(client, redirectUri);
    const expiresAt = this.clock.now() + FLOW_TTL_MS;
    this.pending.set(state, { providerId, client, verifier, redirectUri, expiresAt });
    return { authorizationUrl, redirectUri, state, expiresAt: new Date(expiresAt).toISOString() };
  }

  /**
   * An authorization request with a fresh state and PKCE verifier (and `extra` parameters, such as an
   * OpenID `nonce`), without keeping them: for a caller that keeps the flow itself (the console's sign-in).
   */
  authorizationRequest(client: OAuthClient, redirectUri: string, extra: Readonly<Record<string, string>> = {}) {
    if (!client.authorizationEndpoint) {
      throw new FlowError('not_supported', 409, 'this provider has no authorization endpoint; use the client-credentials fetch');
    }
    const state = b64url(randomBytes(24));
    const verifier = b64url(randomBytes(32));
    const url = new URL(client.authorizationEndpoint);
    const params: Record<string, string> = {
      ...client.extraAuthorizeParams,
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: redirectUri,
      state,
      code_challenge: b64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      ...(client.scope ? { scope: client.scope } : {}),
      ...extra,
    };
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return { authorizationUrl: url.toString(), state, verifier };
  }

  /** Finish a flow at the callback: the state is single-use, and the code is exchanged with the PKCE verifier. */
  async complete(state: string, code: string): Promise<{ providerId: string; token: TokenAnswer }> {
    const flow = this.pending.get(state);
    this.pending.delete(state);
    if (!flow || flow.expiresAt < this.clock.now()) {
      throw new FlowError('invalid_state', 400, 'unknown, used or expired state: start the fetch-token flow again');
    }
    return { providerId: flow.providerId, token: await this.exchangeCode(flow.client, code, flow.redirectUri, flow.verifier) };
  }

  /** The token request of the authorization-code grant, with the PKCE verifier. */
  exchangeCode(client: OAuthClient, code: string, redirectUri: string, verifier: string): Promise<TokenAnswer> {
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier });
    return this.exchange(client, form);
  }

  /** Forget a flow the provider ended with an error. */
  abandon(state: string): void {
    this.pending.delete(state);
  }

  /** Client-credentials grant for providers whose client has a secret. */
  async clientCredentials(client: OAuthClient, scope?: string): Promise<TokenAnswer> {
    if (!client.clientSecret) throw new FlowError('not_supported', 409, 'the client-credentials grant needs a client secret in the provider configuration');
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const wanted = scope ?? client.scope;
    if (wanted) form.set('scope', wanted);
    return this.exchange(client, form);
  }

  private async exchange(client: OAuthClient, form: URLSearchParams): Promise<TokenAnswer> {
    let auth: Record<string, string> = {};
    if (client.clientSecret) {
      auth = clientAuthentication({ clientId: client.clientId, clientSecret: client.clientSecret, clientAuth: client.clientAuth }, form);
    } else {
      form.set('client_id', client.clientId); // a public client: PKCE is its proof
    }
    const headers = { 'content-type': 'application/x-www-form-urlencoded', ...auth };
    const body = await fetchJson(this.fetch, client.tokenEndpoint, { ...LIMITS, method: 'POST', headers, body: form }).catch(providerError);
    return tokenAnswer(body);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [state, flow] of this.pending) if (flow.expiresAt < now) this.pending.delete(state);
  }
}

// OAuth 2.0 client pieces shared by provider kinds: client authentication and RFC 7662 token introspection.
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { OAuthClient } from '../../core/provider.js';
import { refuse, type AuthFailure, type ProviderDeps } from './contract.js';
import { isRecord, type Limits } from './http.js';
import { clientRefused } from './opaque.js';

export type ClientAuth = 'basic' | 'body';

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  /** RFC 6749 §2.3.1: HTTP Basic (recommended) or form body. */
  readonly clientAuth: ClientAuth;
}

/** Headers and form fields that authenticate the client, form-encoding id and secret as RFC 6749 §2.3.1 asks. */
export function clientAuthentication(client: ClientCredentials, form: URLSearchParams): Record<string, string> {
  if (client.clientAuth === 'body') {
    form.set('client_id', client.clientId);
    form.set('client_secret', client.clientSecret);
    return {};
  }
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return { authorization: `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}` };
}

/** An active token's introspection answer, or why there is none. */
export type Introspection = { readonly outcome: 'active'; readonly answer: Record<string, unknown> } | AuthFailure;

/**
 * RFC 7662 introspection: the answer for an active token; a refusal when it says `active: false`
 * (or is not an object with `active: true`); provider_unavailable when the endpoint refuses our
 * client credentials (401/403, RFC 7662 §2.1).
 * @throws {UpstreamHttpError} for transport failures.
 */
export async function introspect(
  deps: Pick<ProviderDeps, 'fetch' | 'logger'>,
  endpoint: string,
  client: ClientCredentials,
  token: string,
  limits: Limits,
): Promise<Introspection> {
  const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuthentication(client, form) };
  let answer: unknown;
  try {
    answer = await fetchJson(deps.fetch, endpoint, { ...limits, method: 'POST', headers, body: form });
  } catch (err) {
    if (err instanceof UpstreamHttpError && (err.status === 401 || err.status === 403)) return clientRefused(deps.logger, `${err.message}: client credentials refused`);
    throw err;
  }
  return isRecord(answer) && answer.active === true ? { outcome: 'active', answer } : refuse('token not active');
}

/** Where an OAuth client gets its tokens, and how it asks: what `oauthClientOf` turns into an OAuthClient. */
export interface ClientSettings {
  readonly authorizationEndpoint?: string | undefined;
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly clientSecret?: string | undefined;
  readonly clientAuth: ClientAuth;
  readonly scope?: string | undefined;
  readonly extraAuthorizeParams?: Readonly<Record<string, string>> | undefined;
}

/** The OAuthClient for the admin's fetch-token helper, without the members that are not set. */
export function oauthClientOf(settings: ClientSettings): OAuthClient {
  const { authorizationEndpoint, clientSecret, scope, extraAuthorizeParams } = settings;
  return {
    ...(authorizationEndpoint === undefined ? {} : { authorizationEndpoint }),
    tokenEndpoint: settings.tokenEndpoint,
    clientId: settings.clientId,
    ...(clientSecret === undefined ? {} : { clientSecret }),
    clientAuth: settings.clientAuth,
    ...(scope === undefined ? {} : { scope }),
    ...(extraAuthorizeParams === undefined ? {} : { extraAuthorizeParams }),
  };
}

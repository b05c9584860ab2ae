// OAuth 2.0 client pieces shared by provider kinds: client authentication and RFC 7662 token introspection.
import { fetchJson, UpstreamHttpError } from '../../core/http.js';
import type { HttpFetch } from '../../core/provider.js';
import { ClientRejected, TokenRejected } from './opaque.js';

export type ClientAuth = 'basic' | 'body';

export interface ClientCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  /** RFC 6749 §2.3.1: HTTP Basic (recommended) or form body. */
  readonly clientAuth: ClientAuth;
}

export interface OutboundLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
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

/**
 * RFC 7662 introspection. Resolves the provider's answer for an active token.
 * @throws TokenRejected when the answer says `active: false` (or is not an object with `active: true`).
 * @throws ClientRejected when the endpoint refuses our client credentials (401/403, RFC 7662 §2.1).
 * @throws UpstreamHttpError for transport failures.
 */
export async function introspect(
  fetch: HttpFetch,
  endpoint: string,
  client: ClientCredentials,
  token: string,
  limits: OutboundLimits,
): Promise<Record<string, unknown>> {
  const form = new URLSearchParams({ token, token_type_hint: 'access_token' });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', ...clientAuthentication(client, form) };
  const answer = await fetchJson(fetch, endpoint, { ...limits, method: 'POST', headers, body: form }).catch((err: unknown) => {
    if (err instanceof UpstreamHttpError && (err.status === 401 || err.status === 403)) {
      throw new ClientRejected(`${err.message}: client credentials refused`);
    }
    throw err;
  });
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) throw new TokenRejected('token not active');
  const record = answer as Record<string, unknown>;
  if (record.active !== true) throw new TokenRejected('token not active');
  return record;
}

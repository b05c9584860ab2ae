// Forward auth: the request a decide call asks about, read from the one header set the settings name.
import { normaliseHost } from './host.js';
import type { HeaderBag } from './net.js';

/** The forward-auth endpoint on the gateway listener; Envoy appends the original path and query to it. */
export const DECIDE_PATH = '/_portcullis/decide';

/**
 * Settings `forwardAuth.headers`: where the proxy in front names the request it asks about.
 * `x-forwarded`: X-Forwarded-Method, -Uri, -Host (Traefik, Caddy; the nginx and HAProxy examples).
 * `x-original`: X-Original-Method, -URI, -Host.
 * `envoy`: the decide call's own method and Host, and the path and query appended to the decide path
 * (Envoy's ext_authz HTTP service).
 */
export const FORWARD_AUTH_HEADER_SETS = ['x-forwarded', 'x-original', 'envoy'] as const;
export type ForwardAuthHeaderSet = (typeof FORWARD_AUTH_HEADER_SETS)[number];

/** The request the proxy asks about: method, request target (path and query) and normalised host. */
export interface ForwardedRequest {
  readonly method: string;
  readonly url: string;
  readonly host: string;
}

/** The decide call itself, as received from the proxy. */
export interface DecideCall {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderBag;
}

export type ForwardedRequestReader = (call: DecideCall) => ForwardedRequest | { readonly error: string };

type Field = 'method' | 'uri' | 'host';

/** One way of naming the request: where each field comes from (undefined: this form does not name it). */
interface Form {
  readonly label: Readonly<Record<Field, string>>;
  read(call: DecideCall, field: Field): string | undefined;
}

/** RFC 9110 token: a method, nothing else (no list, no space). */
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

const headerForm = (names: Readonly<Record<Field, string>>): Form => {
  const lower = { method: names.method.toLowerCase(), uri: names.uri.toLowerCase(), host: names.host.toLowerCase() };
  return { label: names, read: (call, field) => single(call.headers[lower[field]]) };
};

/** The original path and query Envoy appended to the decide path, or undefined. */
const appended = (url: string): string | undefined => (url.startsWith(`${DECIDE_PATH}/`) ? url.slice(DECIDE_PATH.length) : undefined);

const FORMS: Readonly<Record<ForwardAuthHeaderSet, Form>> = {
  'x-forwarded': headerForm({ method: 'X-Forwarded-Method', uri: 'X-Forwarded-Uri', host: 'X-Forwarded-Host' }),
  'x-original': headerForm({ method: 'X-Original-Method', uri: 'X-Original-URI', host: 'X-Original-Host' }),
  envoy: {
    label: { method: 'the method of the decide request', uri: `the path after ${DECIDE_PATH}`, host: 'the Host of the decide request' },
    read(call, field) {
      const uri = appended(call.url);
      if (field === 'uri') return uri;
      if (field === 'method') return uri === undefined ? undefined : call.method;
      // Every decide request carries a Host: it names the original host only when Envoy is the named set.
      return undefined;
    },
  },
};

const sameField = (field: Field, a: string, b: string): boolean => {
  if (field === 'method') return a.toUpperCase() === b.toUpperCase();
  if (field === 'host') {
    const x = normaliseHost(a);
    const y = normaliseHost(b);
    return x.ok && y.ok && x.host === y.host;
  }
  return a === b;
};

/**
 * Compile the reader for one header set. Method, URI and host come from the named set only, and
 * each must be there: a proxy that does not send them is not the documented set-up, and guessing
 * (`GET /`) would judge some other request. When another form names the request too, each field it
 * names must agree with the named set, or the call is refused: a client slipped it past the proxy,
 * or the proxy and the settings disagree on the set-up.
 */
export function compileForwardedRequest(set: ForwardAuthHeaderSet): ForwardedRequestReader {
  const named = FORMS[set];
  const others = Object.values(FORMS).filter((f) => f !== named);
  const hostOf = (call: DecideCall): string | undefined => (set === 'envoy' ? single(call.headers.host) : named.read(call, 'host'));
  const where = `(settings forwardAuth.headers: "${set}")`;

  return (call) => {
    const method = named.read(call, 'method');
    const uri = named.read(call, 'uri');
    const host = hostOf(call);
    if (uri === undefined) return { error: `forward auth reads the request from ${named.label.uri} ${where}, and there is none` };
    if (method === undefined) return { error: `forward auth reads the method from ${named.label.method} ${where}, and there is none` };
    if (host === undefined || host === '') return { error: `forward auth reads the host from ${named.label.host} ${where}, and there is none` };
    if (!METHOD.test(method)) return { error: `${named.label.method} is not an HTTP method` };
    const normal = normaliseHost(host);
    if (!normal.ok) return { error: `${named.label.host} is not a host: ${normal.error}` };
    const mine: Readonly<Record<Field, string>> = { method, uri, host };
    for (const other of others) {
      for (const field of ['uri', 'method', 'host'] as const) {
        const theirs = other.read(call, field);
        if (theirs !== undefined && !sameField(field, theirs, mine[field])) {
          return { error: `${other.label[field]} and ${named.label[field]} name different requests ${where}` };
        }
      }
    }
    return { method, url: uri, host: normal.host };
  };
}

// The `jwt-key` provider kind: JWTs signed with a key the admin configured (public key or shared secret).
import { errors, type JWSHeaderParameters } from 'jose';
import {
  asList, bearerJwtOf, compileMapping, composeProvider, defineProvider, jwtValidator, looksLikeJwt, tokenJudge,
  type ComposedProvider, type Credential, type JwtVerify, type ProviderDeps,
} from '../sdk/index.js';
import { jwtKeyConfigSchema, resolveKey, type JwtKeyConfig } from './config.js';

export { jwtKeyConfigSchema, type JwtKeyConfig } from './config.js';

/** Knobs for tests and embedding; the gateway uses the defaults. */
export interface JwtKeyProviderOptions {
  /** The signature and claim check (default: the SDK's `verifyJwt`). */
  readonly verify?: JwtVerify;
}

/**
 * Build a `jwt-key` provider. With an `issuer` it is routed the JWTs of that issuer and refuses
 * any that fail; without one it is offered every JWT and leaves those its key does not verify
 * to other providers (`not_responsible`), refusing only tokens it signed whose claims fail.
 *
 * @example
 * ```ts
 * const provider = createJwtKeyProvider(jwtKeyConfigSchema.parse({ publicKey: pem, issuer: 'https://sso.corp', audience: 'api' }), deps);
 * ```
 * @throws {TypeError} when the configuration was not validated (unreadable key).
 */
export function createJwtKeyProvider(config: JwtKeyConfig, deps: ProviderDeps, options: JwtKeyProviderOptions = {}): ComposedProvider {
  const resolved = resolveKey(config);
  if (!resolved.ok) throw new TypeError(`jwt-key: ${resolved.path}: ${resolved.message}`);
  const { key, kid, algorithms } = resolved;
  const getKey = async (header: JWSHeaderParameters) => {
    if (kid !== undefined && header.kid !== undefined && header.kid !== kid) throw new errors.JWKSNoMatchingKey();
    return key;
  };
  const issuers = config.issuer === undefined ? [] : [config.issuer];
  const issuerSet = new Set(issuers);
  const validate = jwtValidator({
    providerId: deps.id,
    clock: deps.clock,
    getKey,
    policy: Object.freeze({
      issuers,
      ...(config.audience === undefined ? {} : { audience: asList(config.audience) }),
      algorithms,
      clockToleranceSeconds: config.clockSkewSeconds,
    }),
    mapping: compileMapping(config),
    unverified: config.issuer === undefined ? 'not_responsible' : 'failure',
    ...(options.verify === undefined ? {} : { verify: options.verify }),
  });
  const owns = (credential: Credential): string | undefined =>
    config.issuer === undefined
      ? credential.scheme === 'bearer' && looksLikeJwt(credential.secret) ? credential.secret : undefined
      : bearerJwtOf(credential, issuerSet);
  return composeProvider({ id: deps.id, kind: 'jwt-key', issuers, judges: [tokenJudge(owns, validate)] }, {});
}

/** The `jwt-key` plugin. */
export default defineProvider({
  kind: 'jwt-key',
  description: 'JWTs signed with a configured public key (PEM or JWK) or shared HMAC secret',
  configSchema: jwtKeyConfigSchema,
  secretFields: ['secret'],
  create: (config, deps) => createJwtKeyProvider(config, deps),
});

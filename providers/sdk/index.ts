// portcullis/provider-sdk: what a provider package imports, built-in or third-party. One entry point over focused modules.
export * from './contract.js';
export * from './compose.js';
export * from './http.js';
export * from './config-fields.js';
export * from './identity-mapping.js';
export * from './attributes.js';
export * from './jwks.js';
export * from './jwt.js';
export * from './verified-reuse.js';
export * from './opaque.js';
export * from './oauth-client.js';
export * from './oidc-base.js';
export * from './oauth-base.js';
export { claimString, claimStrings, compileClaimPath, getClaim, isClaimPath, scopesOf, type ClaimPath } from '../../core/claims.js';
export { looksLikeJwt, MAX_JWT_LENGTH } from '../../core/jwt.js';
/** The schema library of the config-field helpers: a plugin extending them uses the same zod. */
export { z } from 'zod';

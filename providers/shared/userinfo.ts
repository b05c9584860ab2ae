// Pieces shared by the provider kinds that ask an IdP about an opaque token: config fields, answer checks, attribute mapping.
import { z } from 'zod';
import type { Credential, Identity } from '../../core/access.js';
import { claimString, claimStrings, compileClaimPath, type ClaimPath } from '../../core/claims.js';
import { looksLikeJwt } from '../../core/jwt.js';
import { UpstreamHttpError } from '../../core/http.js';
import type { AuthResult } from '../../core/provider.js';
import { asList } from './config-fields.js';

export const NOT_RESPONSIBLE: AuthResult = Object.freeze({ outcome: 'not_responsible' });

/** Largest provider answer accepted (userinfo, introspection, org lists). */
export const MAX_ANSWER_BYTES = 256 * 1024;

/** Per-call timeout of outbound calls, in ms. */
export const timeoutField = z.number().int().min(10).max(60_000).default(5_000);

export const secretField = z.string().min(1, 'must not be empty');

/** Outbound limits for fetchJson from a validated config. */
export const limitsOf = (config: { readonly timeoutMs: number }) => ({ timeoutMs: config.timeoutMs, maxBytes: MAX_ANSWER_BYTES });

/** True when the credential is a bearer token that is not shaped like a JWT. */
export function isOpaqueBearer(credential: Credential): boolean {
  return credential.scheme === 'bearer' && credential.secret !== '' && !looksLikeJwt(credential.secret);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The answer as a JSON object.
 * @throws {UpstreamHttpError} `malformed` (a provider problem: 503) when it is anything else.
 */
export function asObject(answer: unknown, where: string): Record<string, unknown> {
  if (isRecord(answer)) return answer;
  throw new UpstreamHttpError('malformed', `${where}: answer is not a JSON object`);
}

/** A non-empty string, or a finite number as its decimal text (GitHub and Meetup ids are numbers). */
export function scalarString(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return claimString(value);
}

/** Attribute paths of one configuration, compiled once. */
export interface AttributeMapping {
  /** First present path wins. */
  readonly subject: readonly ClaimPath[];
  /** First present path wins. */
  readonly username: readonly ClaimPath[];
  /** First present path wins. */
  readonly email: readonly ClaimPath[];
  /** Every path contributes. */
  readonly groups: readonly ClaimPath[];
}

type Paths = string | readonly string[] | undefined;

export interface AttributePaths {
  readonly subject: string | readonly string[];
  readonly username: Paths;
  readonly email?: Paths;
  readonly groups?: Paths;
}

export function compileAttributes(paths: AttributePaths): AttributeMapping {
  const compile = (p: Paths) => Object.freeze(asList(p).map(compileClaimPath));
  return Object.freeze({
    subject: compile(paths.subject),
    username: compile(paths.username),
    email: compile(paths.email),
    groups: compile(paths.groups),
  });
}

function first(paths: readonly ClaimPath[], answer: Readonly<Record<string, unknown>>, read: (v: unknown) => string | undefined) {
  for (const path of paths) {
    const value = read(path(answer));
    if (value !== undefined) return value;
  }
  return undefined;
}

export interface IdentityExtras {
  /** Groups found elsewhere (GitHub orgs and teams), added to those of the groups path. */
  readonly groups?: readonly string[];
  readonly scopes?: readonly string[];
  readonly expiresAt?: number;
  readonly tokenId?: string;
  /** Claims to keep in `Identity.claims`, by name in the answer. */
  readonly keep?: readonly string[];
}

/**
 * Map a provider answer to an identity: subject by its path (required), username by its path
 * (else the subject), email and groups by theirs.
 * @throws {UpstreamHttpError} `malformed` when the answer names no subject.
 */
export function identityFrom(
  answer: Readonly<Record<string, unknown>>,
  mapping: AttributeMapping,
  where: string,
  extras: IdentityExtras = {},
): Omit<Identity, 'provider'> {
  const subject = first(mapping.subject, answer, scalarString);
  if (subject === undefined) throw new UpstreamHttpError('malformed', `${where}: answer names no user`);
  const email = first(mapping.email, answer, claimString);
  const groups = new Set([...mapping.groups.flatMap((path) => claimStrings(path(answer))), ...(extras.groups ?? [])]);
  const claims: Record<string, unknown> = {};
  for (const name of extras.keep ?? []) if (Object.hasOwn(answer, name) && answer[name] !== undefined) claims[name] = answer[name];
  return {
    subject,
    username: first(mapping.username, answer, scalarString) ?? subject,
    ...(email === undefined ? {} : { email }),
    groups: [...groups],
    scopes: [...(extras.scopes ?? [])],
    ...(extras.expiresAt === undefined ? {} : { expiresAt: extras.expiresAt }),
    ...(extras.tokenId === undefined ? {} : { tokenId: extras.tokenId }),
    claims,
  };
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

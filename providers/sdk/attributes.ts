// Mapping a provider's answer about a token (userinfo, /user, introspection) to an Identity, by configured attribute paths.
import type { Identity } from '../../core/access.js';
import { claimString, claimStrings, compileClaimPath, type ClaimPath } from '../../core/claims.js';
import { UpstreamHttpError } from '../../core/http.js';
import { asList } from './config-fields.js';

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

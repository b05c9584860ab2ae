// Token commands: issue (admin or self-service) and revoke, validated against the token policy before anything is appended.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { appendAndWait, type CommandContext } from '../commands.js';
import type { Clock } from '../clock.js';
import { GatewayError, NotFoundError, ValidationError } from '../errors.js';
import { tokenStream, type TokenIssuedData } from '../events.js';
import { normalisePath } from '../path.js';
import type { Projection } from '../projection.js';
import { addressOrCidr, type TokenPolicy } from '../settings/schema.js';
import type { EventStore } from '../store/port.js';
import { validateWith } from '../validate.js';
import { generateToken, hashToken } from './format.js';
import { isUsable, type TokenIndex, type TokenRecord } from './token-index.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const NO_CONTROL = /^[^\x00-\x1f\x7f]+$/;

const text = (max: number) => z.string().min(1).max(max).regex(NO_CONTROL, 'must not contain control characters');

/** A path prefix in normalised form (core/path.ts), without a trailing slash: `/rest/api/2`. */
const pathPrefix = z
  .string()
  .max(2048)
  .transform((value, ctx) => {
    const normal = normalisePath(value);
    if (!normal.ok) {
      ctx.addIssue({ code: 'custom', message: `not a valid path: ${normal.error}` });
      return z.NEVER;
    }
    return normal.path.length > 1 && normal.path.endsWith('/') ? normal.path.slice(0, -1) : normal.path;
  });

/** What a token may do, whoever creates it. `expiresInDays: null` asks for a token that never expires. */
const scopeFields = {
  name: text(100),
  expiresInDays: z.number().int().min(1).max(36_500).nullable().optional(),
  readOnly: z.boolean().default(false),
  pathPrefixes: z.array(pathPrefix).max(100).default([]),
  ipAllow: z.array(addressOrCidr).max(100).default([]),
};

/**
 * `POST /api/v1/tokens` (and `portcullis tokens create`): an admin names the owner, and the groups
 * (a service account's, or a user's). The shape only: the token policy is checked when issuing.
 */
export const adminTokenRequest = z
  .object({
    owner: text(200),
    groups: z.array(text(200)).max(100).default([]),
    kind: z.enum(['user', 'service']).default('user'),
    ...scopeFields,
  })
  .strict();

/** `POST /_portcullis/tokens`: owner and groups come from the caller's identity, never from the body. */
const selfServiceBody = z.object(scopeFields).strict();

/** A revocation's optional reason (`DELETE /api/v1/tokens/{id}?reason=`, `portcullis tokens revoke --reason`). */
export const revocationRequest = z.object({ reason: text(500).optional() });

type TokenSpec = z.output<typeof adminTokenRequest>;

export interface IssuedToken {
  readonly record: TokenRecord;
  /** The secret: returned once, never stored. */
  readonly token: string;
}

/** Who asks for a token at the self-service endpoint. */
export interface TokenCaller {
  readonly username: string;
  readonly groups: readonly string[];
}

async function parse<T>(schema: z.ZodType<T>, body: unknown): Promise<T> {
  const checked = await validateWith(schema, body);
  if (!checked.ok) throw new ValidationError('the token request is not valid', checked.issues);
  return checked.value;
}

export class TokenCommands {
  /** Issues for one owner run one after the other on this node, so `maxPerUser` cannot be raced past locally. */
  private readonly owners = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventStore,
    private readonly projection: Projection<TokenIndex>,
    private readonly policy: () => TokenPolicy,
    private readonly clock: Clock,
  ) {}

  /** An admin issues a token for any user or service account. */
  async issue(body: unknown, ctx: CommandContext): Promise<IssuedToken> {
    return this.issueSpec(await parse(adminTokenRequest, body ?? {}), ctx);
  }

  /** A caller issues a token for themself: owner and groups from their identity at this moment. */
  async issueOwn(caller: TokenCaller, body: unknown, ctx: CommandContext): Promise<IssuedToken> {
    const fields = await parse(selfServiceBody, body ?? {});
    return this.issueSpec({ ...fields, owner: caller.username, groups: [...caller.groups], kind: 'user' }, ctx);
  }

  /**
   * Revoke one token. `owner` restricts it to that owner's tokens (self-service): another's is 404.
   * Revoking a revoked token changes nothing.
   */
  async revoke(id: string, reason: unknown, ctx: CommandContext, owner?: string): Promise<TokenRecord> {
    const { reason: why } = await parse(revocationRequest, { reason: reason ?? undefined });
    const record = this.projection.state.get(id);
    if (!record || (owner !== undefined && record.owner !== owner)) throw new NotFoundError(`no token ${id}`);
    if (record.revokedAt !== undefined) return record;
    const data = { id, by: ctx.actor, ...(why !== undefined ? { reason: why } : {}) };
    await appendAndWait(this.store, this.projection, tokenStream(id), { type: 'TokenRevoked', data }, record.revision, ctx);
    return this.projection.state.get(id)!;
  }

  /** Revoke every usable token of `owner`; returns how many were revoked. */
  async revokeAllOf(owner: string, reason: unknown, ctx: CommandContext): Promise<number> {
    const { reason: why } = await parse(revocationRequest, { reason: reason ?? undefined });
    const now = this.clock.now();
    let revoked = 0;
    for (const record of this.projection.state.ofOwner(owner)) {
      if (!isUsable(record, now)) continue;
      await this.revoke(record.id, why, ctx);
      revoked += 1;
    }
    return revoked;
  }

  private issueSpec(spec: TokenSpec, ctx: CommandContext): Promise<IssuedToken> {
    const previous = this.owners.get(spec.owner) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.append(spec, ctx));
    const tail = run.finally(() => {
      if (this.owners.get(spec.owner) === tail) this.owners.delete(spec.owner);
    });
    this.owners.set(spec.owner, tail.catch(() => undefined));
    return run;
  }

  private async append(spec: TokenSpec, ctx: CommandContext): Promise<IssuedToken> {
    const policy = this.policy();
    const now = this.clock.now();
    const expiresAt = this.expiry(spec.expiresInDays, policy, now);
    if (spec.kind === 'user' && policy.maxPerUser !== false) {
      const active = this.projection.state.ofOwner(spec.owner).filter((r) => r.kind === 'user' && isUsable(r, now)).length;
      if (active >= policy.maxPerUser) {
        throw new GatewayError('token_limit_reached', 409, `${spec.owner} already has ${active} active tokens (tokens.maxPerUser is ${policy.maxPerUser}); revoke one first`);
      }
    }
    const token = generateToken();
    const id = randomBytes(8).toString('hex');
    const data: TokenIssuedData = {
      id,
      hash: hashToken(token),
      owner: spec.owner,
      name: spec.name,
      kind: spec.kind,
      groups: [...new Set(spec.groups)],
      readOnly: spec.readOnly,
      pathPrefixes: [...new Set(spec.pathPrefixes)],
      ipAllow: [...new Set(spec.ipAllow)],
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
    };
    await appendAndWait(this.store, this.projection, tokenStream(id), { type: 'TokenIssued', data }, 'no_stream', ctx);
    return { record: this.projection.state.get(id)!, token };
  }

  /** The expiry instant: the asked-for days, else `defaultExpiryDays`, capped by `maxExpiryDays`; null = never. */
  private expiry(asked: number | null | undefined, policy: TokenPolicy, now: number): number | null {
    const max = policy.maxExpiryDays === false ? null : policy.maxExpiryDays;
    const fallback = policy.defaultExpiryDays === false ? max : policy.defaultExpiryDays;
    const days = asked === undefined ? fallback : asked;
    if (days === null) {
      if (max === null) return null;
      throw new ValidationError('the token request is not valid', [
        { path: 'expiresInDays', message: `tokens must expire: at most ${max} days (tokens.maxExpiryDays)` },
      ]);
    }
    if (max !== null && days > max) {
      throw new ValidationError('the token request is not valid', [
        { path: 'expiresInDays', message: `at most ${max} days (tokens.maxExpiryDays)` },
      ]);
    }
    return now + days * DAY_MS;
  }
}

// Configuration commands: validate input, then append the event that records the change.
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConflictError, PreconditionFailedError, ServiceUnavailableError, ValidationError, NotFoundError } from './errors.js';
import { ADMIN_STREAM, SETTINGS_STREAM, providerStream, type ConfigEvent } from './events.js';
import { timeOrderedId } from './ids.js';
import type { Projection } from './projection.js';
import type { ConfigState, ProviderRecord } from './settings/config-state.js';
import { applyMergePatch, isJsonObject, type JsonObject } from './settings/merge-patch.js';
import { settingsSchema } from './settings/schema.js';
import { MASK, SecretBox, mapSecretFields } from './secrets.js';
import {
  StoreUnavailableError,
  WrongExpectedRevisionError,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type Position,
} from './store/port.js';
import { validateWith, type Issue } from './validate.js';
import type { ProviderPlugin } from './provider.js';

/** Who is acting, for the event's metadata. */
export interface CommandContext {
  readonly actor: string;
  readonly sourceIp?: string;
  readonly correlationId?: string;
}

export interface PluginLookup {
  get(kind: string): ProviderPlugin | undefined;
  kinds(): readonly string[];
}

/** Seals and opens secret config fields (core/secrets.ts). */
export interface SecretSealer {
  sealFields(config: JsonObject, paths: readonly string[]): JsonObject;
  openFields(config: JsonObject, paths: readonly string[]): JsonObject;
}

const openSecretFields = (config: JsonObject, paths: readonly string[], secrets: SecretSealer | undefined): JsonObject =>
  secrets && paths.length ? secrets.openFields(config, paths) : config;

const getPath = (obj: JsonObject, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (isJsonObject(node) ? node[key] : undefined), obj);

export const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `PUT /api/v1/providers/{id}`: the kind, its configuration (checked by the kind's own schema), and where it stands. */
export const providerBody = z
  .object({
    kind: z.string().min(1),
    config: z.record(z.string(), z.unknown()),
    enabled: z.boolean().default(true),
    order: z.number().int().min(0).max(10_000).default(0),
  })
  .strict();

export const hashAdminToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** API revisions count a stream's events; the store expects the 0-based revision of the last one. */
const expectedAfter = (count: number): ExpectedRevision => (count === 0 ? 'no_stream' : count - 1);

/** How long a command without If-Match waits for this node to catch up with the store before it reports the conflict. */
const CATCH_UP_MS = 5_000;

const prefixed = (prefix: string, issues: readonly Issue[]) =>
  issues.map((i) => ({ path: i.path ? `${prefix}.${i.path}` : prefix, message: i.message }));

export class ConfigCommands {
  constructor(
    private readonly store: EventStore,
    private readonly projection: Projection<ConfigState>,
    private readonly plugins: PluginLookup,
    private readonly secrets?: SecretSealer,
  ) {}

  /** Apply a JSON merge patch to the settings document. `ifMatch` is the revision the caller saw. */
  changeSettings(patch: unknown, ifMatch: number | undefined, ctx: CommandContext): Promise<ConfigState> {
    return this.onLatest(ifMatch, () => this.changeSettingsOnce(patch, ifMatch, ctx));
  }

  /** Create or replace a provider's configuration, validated by its plugin's schema. */
  configureProvider(id: string, body: unknown, ifMatch: number | undefined, ctx: CommandContext): Promise<ProviderRecord> {
    return this.onLatest(ifMatch, () => this.configureProviderOnce(id, body, ifMatch, ctx));
  }

  /**
   * A command without If-Match applies to the latest state. Decided on this node's state, it loses
   * the race when another node's change is in the store but not folded here yet (a few ms behind):
   * then catch up with the store's head and decide again, a few times at most. With If-Match the
   * caller named the revision, and the conflict is theirs to resolve.
   */
  private async onLatest<T>(ifMatch: number | undefined, command: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await command();
      } catch (err) {
        const lostRace = err instanceof ConflictError && err.cause instanceof WrongExpectedRevisionError;
        if (ifMatch !== undefined || !lostRace || attempt >= 3) throw err;
        const head = await this.store.headPosition().catch(() => undefined);
        if (head === undefined) throw err;
        let timer: NodeJS.Timeout | undefined;
        const caughtUp = await Promise.race([
          this.projection.waitFor(head).then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), CATCH_UP_MS))),
        ]).finally(() => clearTimeout(timer));
        if (!caughtUp) throw err;
      }
    }
  }

  private async changeSettingsOnce(patch: unknown, ifMatch: number | undefined, ctx: CommandContext): Promise<ConfigState> {
    if (!isJsonObject(patch)) throw new ValidationError('the body must be a JSON object (a JSON merge patch)');
    const state = this.projection.state;
    if (ifMatch !== undefined && ifMatch !== state.settingsRevision) {
      throw new PreconditionFailedError(`settings are at revision ${state.settingsRevision}, not ${ifMatch}`);
    }
    const document = applyMergePatch(state.document, patch);
    const checked = await validateWith(settingsSchema, document);
    if (!checked.ok) throw new ValidationError('the settings are not valid', checked.issues);
    if (JSON.stringify(document) === JSON.stringify(state.document)) return state;
    await this.append(SETTINGS_STREAM, { type: 'SettingsChanged', data: { patch } }, expectedAfter(state.settingsRevision), ifMatch, ctx);
    return this.projection.state;
  }

  private async configureProviderOnce(id: string, body: unknown, ifMatch: number | undefined, ctx: CommandContext): Promise<ProviderRecord> {
    if (!PROVIDER_ID.test(id)) {
      throw new ValidationError('invalid provider id', [{ path: 'id', message: 'lowercase letters, digits and -, at most 63' }]);
    }
    const parsed = await validateWith(providerBody, body);
    if (!parsed.ok) throw new ValidationError('the provider is not valid', parsed.issues);
    const { kind, config, enabled, order } = parsed.value;
    const plugin = this.plugins.get(kind);
    if (!plugin) {
      throw new ValidationError('unknown provider kind', [
        { path: 'kind', message: `must be one of: ${this.plugins.kinds().join(', ')}` },
      ]);
    }
    const current = this.projection.state.providers[id];
    if (ifMatch !== undefined && ifMatch !== current?.revision) {
      throw new PreconditionFailedError(`provider ${id} is at revision ${current?.revision ?? 'none'}, not ${ifMatch}`);
    }
    const secretFields = plugin.secretFields ?? [];
    const plain = this.withKeptSecrets(config as JsonObject, secretFields, current?.kind === kind ? current : undefined);
    const checked = await validateWith(plugin.configSchema, plain);
    if (!checked.ok) throw new ValidationError('the provider configuration is not valid', prefixed('config', checked.issues));

    const currentPlain = current && this.secrets ? openSecretFields(current.config, secretFields, this.secrets) : current?.config;
    const unchanged = JSON.stringify([current?.kind, currentPlain, current?.enabled, current?.order]) === JSON.stringify([kind, plain, enabled, order]);
    if (current && unchanged) return current;
    const sealed = secretFields.length ? this.seal(plain, secretFields, current?.kind === kind ? current : undefined) : plain;
    const data = { id, kind, config: sealed, enabled, order };
    await this.append(providerStream(id), { type: 'ProviderConfigured', data }, current ? expectedAfter(current.revision) : 'any', ifMatch, ctx);
    const record = this.projection.state.providers[id];
    if (!record) throw new ConflictError(`provider ${id} was removed concurrently`);
    return record;
  }

  /**
   * Secrets arrive masked when an admin re-sends what GET showed: the mask means "keep the
   * stored secret". A sealed value from elsewhere is never accepted as-is.
   */
  private withKeptSecrets(config: JsonObject, secretFields: readonly string[], current: ProviderRecord | undefined): JsonObject {
    if (secretFields.length === 0) return config;
    const secrets = this.requireSecrets();
    const stored = current ? openSecretFields(current.config, secretFields, secrets) : {};
    const issues: { path: string; message: string }[] = [];
    const result = mapSecretFields(config, secretFields, (value, path) => {
      if (value === MASK) {
        const kept = getPath(stored, path);
        if (typeof kept === 'string') return kept;
        issues.push({ path: `config.${path}`, message: 'no stored secret to keep: give the secret itself' });
      } else if (SecretBox.isSealed(value)) {
        issues.push({ path: `config.${path}`, message: 'give the secret itself, not a sealed value' });
      }
      return value;
    });
    if (issues.length) throw new ValidationError('the provider configuration is not valid', issues);
    return result;
  }

  /**
   * Seal the secret fields; one equal to the stored secret keeps its stored ciphertext, so the
   * event (and the history's diff) shows a secret as changed only when it did.
   */
  private seal(plain: JsonObject, secretFields: readonly string[], current: ProviderRecord | undefined): JsonObject {
    const secrets = this.requireSecrets();
    const sealed = secrets.sealFields(plain, secretFields);
    if (!current) return sealed;
    const stored = openSecretFields(current.config, secretFields, secrets);
    return mapSecretFields(sealed, secretFields, (value, path) => {
      const kept = getPath(current.config, path);
      return getPath(stored, path) === getPath(plain, path) && typeof kept === 'string' ? kept : value;
    });
  }

  private requireSecrets(): SecretSealer {
    if (!this.secrets) throw new TypeError('this provider kind has secret fields but no secret key is configured');
    return this.secrets;
  }

  async removeProvider(id: string, ifMatch: number | undefined, ctx: CommandContext): Promise<void> {
    const current = this.projection.state.providers[id];
    if (!current) throw new NotFoundError(`no provider ${id}`);
    if (ifMatch !== undefined && ifMatch !== current.revision) {
      throw new PreconditionFailedError(`provider ${id} is at revision ${current.revision}, not ${ifMatch}`);
    }
    await this.append(providerStream(id), { type: 'ProviderRemoved', data: { id } }, expectedAfter(current.revision), ifMatch, ctx);
  }

  /**
   * Create the admin token on first start. Returns the secret to print once, or undefined when
   * one exists already (another node may have won the race).
   */
  async createAdminToken(ctx: CommandContext): Promise<string | undefined> {
    if (this.projection.state.adminTokenSha256) return undefined;
    const token = `pca_${randomBytes(32).toString('base64url')}`;
    try {
      await this.append(ADMIN_STREAM, { type: 'AdminTokenCreated', data: { sha256: hashAdminToken(token) } }, 'no_stream', undefined, ctx);
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      throw err;
    }
    return token;
  }

  private async append(
    stream: string,
    event: ConfigEvent,
    expected: ExpectedRevision,
    ifMatch: number | undefined,
    ctx: CommandContext,
  ): Promise<void> {
    await appendAndWait(this.store, this.projection, stream, event, expected, ctx, ifMatch);
  }
}

/** The metadata a command's event carries: who acted, from where, for which request. */
export function commandMetadata(ctx: CommandContext): EventMetadata {
  return {
    actor: ctx.actor,
    ...(ctx.sourceIp ? { sourceIp: ctx.sourceIp } : {}),
    ...(ctx.correlationId ? { correlationId: ctx.correlationId } : {}),
  };
}

/**
 * Append one command event durably, then wait until `projection` has folded it (read your
 * writes). A lost race is 409 (412 when the caller sent If-Match); a store that cannot write, 503.
 */
export async function appendAndWait(
  store: EventStore,
  projection: Pick<Projection<unknown>, 'waitFor'>,
  stream: string,
  event: { readonly type: string; readonly data: unknown },
  expected: ExpectedRevision,
  ctx: CommandContext,
  ifMatch?: number,
): Promise<Position> {
  try {
    const result = await store.append(stream, [{ id: timeOrderedId(), type: event.type, data: event.data, metadata: commandMetadata(ctx) }], {
      expectedRevision: expected,
      durable: true,
    });
    await projection.waitFor(result.position);
    return result.position;
  } catch (err) {
    if (err instanceof WrongExpectedRevisionError) {
      throw ifMatch !== undefined
        ? new PreconditionFailedError(`${stream} changed concurrently; re-read and retry`)
        : new ConflictError(`${stream} changed concurrently; re-read and retry`, { cause: err });
    }
    if (err instanceof StoreUnavailableError) {
      throw new ServiceUnavailableError('store_unavailable', 'the event store cannot take writes right now', { cause: err });
    }
    throw err;
  }
}

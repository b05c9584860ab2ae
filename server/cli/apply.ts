// `apply`: the difference between the file and the current state, turned into the same commands the admin API runs.
import { PROVIDER_ID, type CommandContext, type ConfigCommands, type PluginLookup, type SecretSealer } from '../../core/commands.js';
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../../core/errors.js';
import { MASK, SecretBox, mapSecretFields } from '../../core/secrets.js';
import type { ConfigState, ProviderRecord } from '../../core/settings/config-state.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../core/settings/merge-patch.js';
import { settingsSchema } from '../../core/settings/schema.js';
import { formatIssuePath, validateWith, type FieldIssue } from '../../core/validate.js';
import { ConfigAsCodeError, type ConfigFile, type ProviderEntry } from './config-file.js';

/** What apply needs of a running configuration: a Runtime has all of it. */
export interface ConfigAccess {
  readonly projection: { readonly state: ConfigState };
  readonly commands: ConfigCommands;
  readonly plugins: PluginLookup;
}

type Segment = string | number;

/** One value that differs. Secret values are never kept here, only whether they changed. */
export interface Change {
  readonly op: 'add' | 'remove' | 'change';
  readonly path: readonly Segment[];
  readonly before?: JsonValue;
  readonly after?: JsonValue;
  readonly secret: boolean;
}

export interface ProviderChange {
  readonly id: string;
  readonly op: 'add' | 'change' | 'remove';
  readonly kind: string;
  readonly changes: readonly Change[];
  /** What to send to configureProvider (add, change). */
  readonly entry?: ProviderEntry;
  /** The stream revision the plan was computed against (change, remove). */
  readonly revision?: number;
}

export interface Plan {
  readonly settingsRevision: number;
  /** The JSON merge patch from the current settings document to the file's, when they differ. */
  readonly settingsPatch?: JsonObject;
  readonly settings: readonly Change[];
  readonly providers: readonly ProviderChange[];
}

/** Number of events executing `plan` appends. */
export const planSize = (plan: Plan): number => (plan.settingsPatch ? 1 : 0) + plan.providers.length;

/**
 * Compare the file with the current state and check the file as the commands will, so that every
 * problem is reported before anything is appended.
 *
 * @throws ConfigAsCodeError listing each problem by its path in the file.
 */
export async function planApply(file: ConfigFile, access: ConfigAccess, secrets: SecretSealer | undefined): Promise<Plan> {
  const state = access.projection.state;
  const problems: FieldIssue[] = [];
  let settingsPatch: JsonObject | undefined;
  const settings: Change[] = [];

  if (file.settings) {
    const checked = await validateWith(settingsSchema, file.settings);
    if (!checked.ok) problems.push(...checked.issues.map((i) => prefixed('settings', i)));
    diffValues(state.document, file.settings, [], () => false, settings);
    if (settings.length) settingsPatch = mergePatchBetween(state.document, file.settings);
  }

  const providers: ProviderChange[] = [];
  if (file.providers) {
    for (const [id, entry] of Object.entries(file.providers).sort(([a], [b]) => a.localeCompare(b))) {
      const change = await planProvider(id, entry, state.providers[id], access.plugins, secrets, problems);
      if (change) providers.push(change);
    }
    for (const record of Object.values(state.providers).sort((a, b) => a.id.localeCompare(b.id))) {
      if (file.providers[record.id]) continue;
      providers.push({ id: record.id, op: 'remove', kind: record.kind, changes: [], revision: record.revision });
    }
  }
  if (problems.length) throw new ConfigAsCodeError('the file is not valid', problems);
  return { settingsRevision: state.settingsRevision, ...(settingsPatch ? { settingsPatch } : {}), settings, providers };
}

async function planProvider(
  id: string,
  entry: ProviderEntry,
  current: ProviderRecord | undefined,
  plugins: PluginLookup,
  secrets: SecretSealer | undefined,
  problems: FieldIssue[],
): Promise<ProviderChange | undefined> {
  const at = (...path: Segment[]) => formatIssuePath(['providers', id, ...path]);
  if (!PROVIDER_ID.test(id)) {
    problems.push({ path: at(), message: 'invalid provider id: lowercase letters, digits and -, at most 63' });
    return undefined;
  }
  const plugin = plugins.get(entry.kind);
  if (!plugin) {
    problems.push({ path: at('kind'), message: `unknown provider kind: must be one of ${plugins.kinds().join(', ')}` });
    return undefined;
  }
  const fields = plugin.secretFields ?? [];
  if (fields.length && !secrets) {
    problems.push({ path: at('config'), message: 'this provider kind has secret fields but no secret key is configured' });
    return undefined;
  }
  // The stored configuration in clear, as the commands compare it (a kind change keeps no secret).
  const oldFields = current ? (plugins.get(current.kind)?.secretFields ?? []) : [];
  const stored = current && secrets && oldFields.length ? secrets.openFields(current.config, oldFields) : current?.config;
  const kept = current?.kind === entry.kind ? stored : undefined;

  const plain = mapSecretFields(entry.config, fields, (value, path) => {
    if (value === MASK) {
      const keep = getPath(kept, path);
      if (typeof keep === 'string') return keep;
      problems.push({ path: at('config', ...path.split('.')), message: `no stored secret to keep: give the secret itself or a \${ENV_VAR} reference instead of ${MASK}` });
    } else if (SecretBox.isSealed(value)) {
      problems.push({ path: at('config', ...path.split('.')), message: 'give the secret itself, not a sealed value' });
    }
    return value;
  });
  const checked = await validateWith(plugin.configSchema, plain);
  if (!checked.ok) problems.push(...checked.issues.map((i) => prefixed(at('config'), i)));

  const secretPaths = new Set([...fields, ...oldFields].map((f) => `config.${f}`));
  const isSecret = (path: readonly Segment[]) => secretPaths.has(path.join('.'));
  const desired: JsonObject = { kind: entry.kind, enabled: entry.enabled, order: entry.order, config: plain };
  // A new provider is listed field by field (diffed against nothing), so a secret never shows whole.
  const before: JsonObject = current ? { kind: current.kind, enabled: current.enabled, order: current.order, config: stored ?? {} } : {};
  const changes: Change[] = [];
  diffValues(before, desired, [], isSecret, changes);
  if (!current) return { id, op: 'add', kind: entry.kind, changes, entry };
  if (changes.length === 0) return undefined;
  return { id, op: 'change', kind: entry.kind, changes, entry, revision: current.revision };
}

/** Run the plan's commands: new and changed providers first, then settings, then removals. */
export async function executePlan(plan: Plan, access: ConfigAccess, ctx: CommandContext): Promise<{ applied: number; settingsRevision: number }> {
  let applied = 0;
  const run = async (where: string, command: () => Promise<unknown>) => {
    try {
      await command();
      applied += 1;
    } catch (err) {
      const done = applied ? ` (${applied} change${applied === 1 ? ' was' : 's were'} applied before this one)` : '';
      if (err instanceof ValidationError) {
        throw new ConfigAsCodeError(`${err.message}${done}`, err.fields.map((f) => prefixed(where, f)));
      }
      if (err instanceof PreconditionFailedError || err instanceof ConflictError || err instanceof NotFoundError) {
        throw new ConfigAsCodeError(`${where} changed while apply ran: run apply again${done}`);
      }
      throw err;
    }
  };
  for (const p of plan.providers) {
    if (p.op === 'remove' || !p.entry) continue;
    const { kind, config, enabled, order } = p.entry;
    await run(formatIssuePath(['providers', p.id]), () => access.commands.configureProvider(p.id, { kind, config, enabled, order }, p.revision, ctx));
  }
  if (plan.settingsPatch) {
    const patch = plan.settingsPatch;
    await run('settings', () => access.commands.changeSettings(patch, plan.settingsRevision, ctx));
  }
  for (const p of plan.providers) {
    if (p.op !== 'remove') continue;
    await run(formatIssuePath(['providers', p.id]), () => access.commands.removeProvider(p.id, p.revision, ctx));
  }
  return { applied, settingsRevision: access.projection.state.settingsRevision };
}

/** The plan as people read it: `+` added, `-` removed, `~` changed; secrets only as the mask. */
export function formatPlan(plan: Plan): string {
  if (planSize(plan) === 0) return 'no changes\n';
  const lines: string[] = [];
  if (plan.settings.length) {
    lines.push(`settings (revision ${plan.settingsRevision}):`);
    for (const c of plan.settings) lines.push(`  ${formatChange(c)}`);
  }
  if (plan.providers.length) {
    lines.push('providers:');
    const sign = { add: '+', change: '~', remove: '-' } as const;
    for (const p of plan.providers) {
      lines.push(`  ${sign[p.op]} ${p.id} (${p.kind})`);
      for (const c of p.changes) lines.push(`      ${formatChange(c)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function formatChange(c: Change): string {
  const show = (v: JsonValue | undefined) => (c.secret ? MASK : JSON.stringify(v));
  const path = formatIssuePath(c.path);
  if (c.op === 'add') return `+ ${path}: ${show(c.after)}`;
  if (c.op === 'remove') return `- ${path} (was ${show(c.before)})`;
  return `~ ${path}: ${show(c.before)} -> ${show(c.after)}${c.secret ? ' (changed)' : ''}`;
}

const prefixed = (prefix: string, issue: FieldIssue): FieldIssue => ({
  path: !issue.path ? prefix : issue.path.startsWith('[') ? `${prefix}${issue.path}` : `${prefix}.${issue.path}`,
  message: issue.message,
});

const getPath = (obj: JsonObject | undefined, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (isJsonObject(node) ? node[key] : undefined), obj);

/** Equal as JSON values, whatever the order of object keys. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Leaf differences between two JSON values (objects are walked, arrays compared whole), secret values dropped. */
function diffValues(
  before: JsonValue | undefined,
  after: JsonValue | undefined,
  path: Segment[],
  isSecret: (path: readonly Segment[]) => boolean,
  out: Change[],
): void {
  // Objects are walked, also against nothing, so that each leaf (and each secret) is its own line.
  const walkBefore = isJsonObject(before) && (isJsonObject(after) || (after === undefined && Object.keys(before).length > 0));
  const walkAfter = isJsonObject(after) && (isJsonObject(before) || (before === undefined && Object.keys(after).length > 0));
  if (walkBefore || walkAfter) {
    const b = isJsonObject(before) ? before : {};
    const a = isJsonObject(after) ? after : {};
    for (const key of Object.keys(a)) diffValues(b[key], a[key], [...path, key], isSecret, out);
    for (const key of Object.keys(b)) if (!(key in a)) diffValues(b[key], undefined, [...path, key], isSecret, out);
    return;
  }
  if (jsonEqual(before, after)) return;
  const secret = isSecret(path);
  const op = before === undefined ? 'add' : after === undefined ? 'remove' : 'change';
  if (secret) out.push({ op, path, secret });
  else out.push({ op, path, secret, ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}) });
}

/** The RFC 7396 merge patch that turns `before` into `after` (keys only in `before` become null). */
export function mergePatchBetween(before: JsonObject, after: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (isJsonObject(value) && isJsonObject(old)) {
      const inner = mergePatchBetween(old, value);
      if (Object.keys(inner).length) patch[key] = inner;
    } else if (!jsonEqual(old, value)) {
      patch[key] = value;
    }
  }
  return patch;
}

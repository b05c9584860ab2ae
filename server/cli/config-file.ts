// The configuration-as-code file (`apply`, `export`): YAML `{settings, providers}`, with `${ENV}` references resolved at read time.
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import type { PluginLookup } from '../../core/commands.js';
import { MASK, mapSecretFields, maskSecretFields } from '../../core/secrets.js';
import type { ConfigState } from '../../core/settings/config-state.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../../core/settings/merge-patch.js';
import { formatIssuePath, validateWith, type FieldIssue } from '../../core/validate.js';

/** One provider as the file describes it (defaults as the admin API applies them). */
export interface ProviderEntry {
  readonly kind: string;
  readonly config: JsonObject;
  readonly enabled: boolean;
  readonly order: number;
}

/**
 * The desired state. A section that is absent is not managed (left as it is); a section that is
 * present is the whole truth: settings keys it leaves out go back to their defaults, providers
 * it does not list are removed.
 */
export interface ConfigFile {
  readonly settings?: JsonObject;
  readonly providers?: Readonly<Record<string, ProviderEntry>>;
}

/** The file (or what the commands made of it) has problems; each names its path in the file. */
export class ConfigAsCodeError extends Error {
  override name = 'ConfigAsCodeError';
  constructor(
    message: string,
    readonly problems: readonly FieldIssue[] = [],
  ) {
    super(message);
  }
}

const providerEntry = z.strictObject({
  kind: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
  enabled: z.boolean().default(true),
  order: z.number().int().min(0).max(10_000).default(0),
});

const fileSchema = z.strictObject({
  settings: z.record(z.string(), z.unknown()).optional(),
  providers: z.record(z.string(), providerEntry).optional(),
});

/** `${NAME}` is replaced by the environment variable; `$${` stays a literal `${`. */
const ENV_REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parse and check a configuration file. Every problem is collected, so one run reports them all.
 *
 * @example parseConfigFile('settings:\n  enabled: false\n', 'gateway.yaml', process.env)
 * @throws ConfigAsCodeError with one problem per offending path (values are never echoed).
 */
export async function parseConfigFile(text: string, env: NodeJS.ProcessEnv): Promise<ConfigFile> {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    const first = (err as Error).message.split('\n')[0] ?? '';
    // An unquoted ******** is a YAML alias: say what to write instead.
    const hint = first.includes('alias') && text.includes(MASK) ? ` (write the secret mask in quotes: "${MASK}")` : '';
    throw new ConfigAsCodeError(`not valid YAML: ${first}${hint}`);
  }
  if (!isJsonObject(raw)) throw new ConfigAsCodeError('the file must be a YAML mapping with `settings` and/or `providers`');
  const checked = await validateWith(fileSchema, raw);
  if (!checked.ok) throw new ConfigAsCodeError('the file is not valid', checked.issues);

  const problems: FieldIssue[] = [];
  const resolve = (value: unknown, path: (string | number)[]): JsonValue => {
    if (typeof value === 'string') return resolveReferences(value, path, env, problems);
    if (Array.isArray(value)) return value.map((v, i) => resolve(v, [...path, i]));
    if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, [...path, k])]));
    if (value === null && path[0] === 'settings') {
      problems.push({ path: formatIssuePath(path), message: 'null is not a setting value: leave the key out to use the default' });
    }
    if (typeof value === 'number' && !Number.isFinite(value)) problems.push({ path: formatIssuePath(path), message: 'must be a finite number' });
    return value as JsonValue;
  };

  const settings = checked.value.settings ? (resolve(checked.value.settings, ['settings']) as JsonObject) : undefined;
  let providers: Record<string, ProviderEntry> | undefined;
  if (checked.value.providers) {
    providers = {};
    for (const [id, entry] of Object.entries(checked.value.providers)) {
      const config = resolve(entry.config, ['providers', id, 'config']) as JsonObject;
      providers[id] = { kind: entry.kind, config, enabled: entry.enabled, order: entry.order };
    }
  }
  if (problems.length) throw new ConfigAsCodeError('the file is not valid', problems);
  return { ...(settings ? { settings } : {}), ...(providers ? { providers } : {}) };
}

function resolveReferences(value: string, path: (string | number)[], env: NodeJS.ProcessEnv, problems: FieldIssue[]): string {
  return value.replace(ENV_REFERENCE, (whole, name: string | undefined) => {
    if (name === undefined) return '${';
    if (!ENV_NAME.test(name)) {
      problems.push({ path: formatIssuePath(path), message: `\${${name.slice(0, 40)}} is not an environment variable reference (write $\${ for a literal \${)` });
      return whole;
    }
    const found = env[name];
    if (found === undefined) {
      problems.push({ path: formatIssuePath(path), message: `environment variable ${name} is not set` });
      return whole;
    }
    return found;
  });
}

/** How `export` writes provider secrets. */
export type SecretExport = 'mask' | 'env';

/** `${PORTCULLIS_SECRET_<ID>_<FIELD>}`: the reference `export --secrets env` writes for a secret field. */
export const secretEnvName = (id: string, path: string): string =>
  `PORTCULLIS_SECRET_${id}_${path}`
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();

/**
 * The current state as a configuration file: the settings document as admins set it (defaults
 * left out) and every provider, secrets masked (or as environment references).
 */
export function renderConfigFile(state: ConfigState, plugins: PluginLookup, secrets: SecretExport = 'mask'): string {
  const providers = Object.values(state.providers)
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id))
    .map((r) => {
      const fields = plugins.get(r.kind)?.secretFields ?? [];
      const literal = escapeReferences(r.config) as JsonObject;
      const config =
        secrets === 'env' ? mapSecretFields(literal, fields, (_, path) => `\${${secretEnvName(r.id, path)}}`) : maskSecretFields(literal, fields);
      return [r.id, { kind: r.kind, enabled: r.enabled, order: r.order, config }] as const;
    });
  const header = [
    `# Portcullis configuration (settings revision ${state.settingsRevision}).`,
    '# Apply with `portcullis apply <file>`: settings keys left out take their defaults, providers not listed are removed.',
    secrets === 'env'
      ? '# Secret fields are ${ENV} references: set those variables before applying.'
      : `# Secret fields show ${MASK}: applied to the same store that keeps the stored secret; elsewhere give the secret or a \${ENV} reference.`,
  ].join('\n');
  return `${header}\n${stringifyYaml({ settings: escapeReferences(state.document), providers: Object.fromEntries(providers) }, { lineWidth: 0 })}`;
}

/** Strings that contain `${` are written as `$${`, so applying the export reads back the same text. */
function escapeReferences(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value.replaceAll('${', () => '$${');
  if (Array.isArray(value)) return value.map(escapeReferences);
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeReferences(v)]));
  return value;
}

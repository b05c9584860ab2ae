// Provider plugins by kind: the built-in ones plus third-party packages named in the configuration.
import type { ProviderPlugin } from '../core/provider.js';
import oidcPlugin from './oidc/index.js';
import cognitoPlugin from './cognito/index.js';
import entraIdPlugin from './entra-id/index.js';
import googlePlugin from './google/index.js';
import jwtKeyPlugin from './jwt-key/index.js';
import keycloakPlugin from './keycloak/index.js';
import oidcDiscoveryPlugin from './oidc-discovery/index.js';
import oktaPlugin from './okta/index.js';
import githubPlugin from './github/index.js';
import gitlabPlugin from './gitlab/index.js';
import slackPlugin from './slack/index.js';
import facebookPlugin from './facebook/index.js';
import meetupPlugin from './meetup/index.js';
import oauth2Plugin from './oauth2/index.js';
import introspectionPlugin from './introspection/index.js';

/** Provider kinds shipped with Portcullis. */
export const builtinPlugins: readonly ProviderPlugin[] = Object.freeze([
  oidcPlugin,
  oidcDiscoveryPlugin,
  jwtKeyPlugin,
  entraIdPlugin,
  oktaPlugin,
  keycloakPlugin,
  cognitoPlugin,
  googlePlugin,
  githubPlugin,
  gitlabPlugin,
  slackPlugin,
  facebookPlugin,
  meetupPlugin,
  oauth2Plugin,
  introspectionPlugin,
]);

/** Immutable lookup of plugins by `kind`. */
export class PluginRegistry {
  private readonly byKind: ReadonlyMap<string, ProviderPlugin>;

  /** @throws {TypeError} when two plugins claim the same kind. */
  constructor(plugins: Iterable<ProviderPlugin>) {
    const byKind = new Map<string, ProviderPlugin>();
    for (const plugin of plugins) {
      if (byKind.has(plugin.kind)) throw new TypeError(`provider kind '${plugin.kind}' is registered twice`);
      byKind.set(plugin.kind, plugin);
    }
    this.byKind = byKind;
  }

  /** The plugin of that kind, or undefined. */
  get(kind: string): ProviderPlugin | undefined {
    return this.byKind.get(kind);
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }
}

/** True when `value` has the shape of a {@link ProviderPlugin}. */
export function isProviderPlugin(value: unknown): value is ProviderPlugin {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const schema = v['configSchema'] as { '~standard'?: { validate?: unknown } } | null | undefined;
  return (
    typeof v['kind'] === 'string' &&
    v['kind'] !== '' &&
    typeof v['description'] === 'string' &&
    typeof schema === 'object' &&
    schema !== null &&
    typeof schema['~standard']?.validate === 'function' &&
    typeof v['create'] === 'function'
  );
}

/** npm package name, optionally scoped, optionally with a subpath export (`@acme/portcullis-x/plugin`). */
const PACKAGE_NAME = /^(?:@[a-z0-9][\w.~-]*\/)?[a-z0-9][\w.~-]*(?:\/[\w.~-]+)*$/i;

/** A plugin named in the configuration cannot be used; the message names it. */
export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
  readonly code = 'plugin_load_failed';
}

export type ModuleImporter = (specifier: string) => Promise<unknown>;

/**
 * Import third-party provider packages; each must default-export a plugin.
 *
 * @example
 * ```ts
 * const registry = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(['portcullis-ldap']))]);
 * ```
 * @throws {PluginLoadError} naming the package when it cannot be imported or exports no plugin.
 */
export async function loadPluginPackages(
  names: readonly string[],
  importer: ModuleImporter = (specifier) => import(specifier),
): Promise<ProviderPlugin[]> {
  const plugins: ProviderPlugin[] = [];
  for (const name of names) {
    if (!PACKAGE_NAME.test(name)) throw new PluginLoadError(`plugin '${name}' is not an npm package name`);
    let mod: unknown;
    try {
      mod = await importer(name);
    } catch (cause) {
      throw new PluginLoadError(`plugin package '${name}' could not be imported`, { cause });
    }
    const plugin = (mod as { default?: unknown } | null)?.default;
    if (!isProviderPlugin(plugin)) {
      throw new PluginLoadError(
        `plugin package '${name}' does not default-export a provider plugin ` +
          '({kind, description, configSchema (Standard Schema), create})',
      );
    }
    plugins.push(plugin);
  }
  return plugins;
}

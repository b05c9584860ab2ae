// Tests for the provider plugin registry and the loading of third-party plugin packages.
import { expect } from 'chai';
import { z } from 'zod';
import type { ProviderPlugin } from '../../core/provider.js';
import { builtinPlugins, isProviderPlugin, loadPluginPackages, PluginRegistry } from '../../providers/registry.js';

const demo: ProviderPlugin<{ header: string }> = {
  kind: 'static-header',
  description: 'demo',
  configSchema: z.object({ header: z.string() }),
  create: (_cfg, deps) => ({ id: deps.id, kind: 'static-header', status: () => ({ ready: true }), authenticate: async () => ({ outcome: 'not_responsible' }) }),
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof Error) return err;
  }
  throw new Error('expected a rejection');
}

describe('providers/registry', () => {
  const BUILTIN = [
    'oidc', 'oidc-discovery', 'jwt-key', 'entra-id', 'okta', 'keycloak', 'cognito', 'google',
    'github', 'gitlab', 'slack', 'facebook', 'meetup', 'oauth2', 'introspection',
  ];

  it('ships every seed provider kind, each a valid plugin', () => {
    expect(builtinPlugins.map((p) => p.kind)).to.deep.equal(BUILTIN);
    expect(builtinPlugins.every(isProviderPlugin)).to.equal(true);
  });

  it('looks plugins up by kind', () => {
    const registry = new PluginRegistry([...builtinPlugins, demo as ProviderPlugin]);
    expect(registry.kinds()).to.deep.equal([...BUILTIN, 'static-header']);
    expect(registry.get('static-header')).to.equal(demo);
    expect(registry.get('ldap')).to.equal(undefined);
  });

  it('refuses two plugins of the same kind with a TypeError', () => {
    expect(() => new PluginRegistry([...builtinPlugins, ...builtinPlugins])).to.throw(TypeError, "provider kind 'oidc' is registered twice");
  });

  it('loads packages whose default export is a plugin', async () => {
    const imported: string[] = [];
    const plugins = await loadPluginPackages(['@acme/portcullis-demo'], async (name) => {
      imported.push(name);
      return { default: demo };
    });
    expect(imported).to.deep.equal(['@acme/portcullis-demo']);
    expect(plugins).to.deep.equal([demo]);
  });

  it('names the package that cannot be imported', async () => {
    const err = await rejection(loadPluginPackages(['portcullis-plugin-that-does-not-exist']));
    expect(err.message).to.equal("plugin package 'portcullis-plugin-that-does-not-exist' could not be imported");
  });

  it('names the package whose default export is not a plugin', async () => {
    const err = await rejection(loadPluginPackages(['yaml']));
    expect(err.message).to.match(/^plugin package 'yaml' does not default-export a provider plugin/);
    const noValidate = { ...demo, configSchema: { '~standard': {} } };
    const err2 = await rejection(loadPluginPackages(['fake'], async () => ({ default: noValidate })));
    expect(err2.message).to.match(/^plugin package 'fake' does not default-export/);
  });

  it('accepts only npm package names', async () => {
    for (const name of ['./local.js', '/abs/path', 'file:///x.js', '']) {
      const err = await rejection(loadPluginPackages([name], async () => ({ default: demo })));
      expect(err.message).to.equal(`plugin '${name}' is not an npm package name`);
    }
  });
});

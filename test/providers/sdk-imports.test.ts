// Built-in provider kinds use the public provider SDK and nothing else of Portcullis, as a third-party package must.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PROVIDERS = join(ROOT, 'providers');
const SDK = join(PROVIDERS, 'sdk');
const SDK_ENTRY = join(SDK, 'index.ts');

/** The module specifiers a TypeScript source imports or re-exports (static and dynamic). */
function specifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

const inside = (folder: string, path: string): boolean => path === folder || path.startsWith(folder + sep);

/** Where a relative specifier of `file` points, as a .ts source path. */
const target = (file: string, specifier: string): string => resolve(dirname(file), specifier).replace(/\.js$/, '.ts');

/** Why `specifier` may not be imported by the provider kind source `file`, or undefined when it may. */
function kindViolation(file: string, specifier: string): string | undefined {
  if (specifier === 'portcullis/provider-sdk') return undefined;
  if (specifier.startsWith('portcullis/') || specifier === 'portcullis') return 'only portcullis/provider-sdk is public';
  if (!specifier.startsWith('.')) return undefined; // an npm package or a node: builtin
  const to = target(file, specifier);
  const kindFolder = join(PROVIDERS, relative(PROVIDERS, file).split(sep)[0]!);
  if (to === SDK_ENTRY || inside(kindFolder, to)) return undefined;
  return inside(SDK, to) ? 'import the SDK through its entry point (../sdk/index.js)' : 'outside the kind folder and the SDK';
}

/** Why `specifier` may not be imported by the SDK source `file`: the SDK stands on core/ and npm packages only. */
function sdkViolation(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return specifier.startsWith('portcullis') ? 'the SDK does not import itself by name' : undefined;
  const to = target(file, specifier);
  return inside(SDK, to) || inside(join(ROOT, 'core'), to) ? undefined : 'the SDK imports only core/ and itself';
}

function sources(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));
}

function violations(files: readonly string[], rule: (file: string, specifier: string) => string | undefined): string[] {
  return files.flatMap((file) =>
    specifiers(readFileSync(file, 'utf8')).flatMap((specifier) => {
      const why = rule(file, specifier);
      return why === undefined ? [] : [`${relative(ROOT, file)}: '${specifier}': ${why}`];
    }),
  );
}

/** A cycle among the relative imports reachable from `entry` (as paths from the root), or [] when there is none. */
function cycleFrom(entry: string): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] => {
    if (state.get(file) === 'done') return [];
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file].map((f) => relative(ROOT, f));
    state.set(file, 'open');
    path.push(file);
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const found = visit(target(file, specifier));
      if (found.length > 0) return found;
    }
    path.pop();
    state.set(file, 'done');
    return [];
  };
  return visit(entry);
}

describe('providers: built-in kinds stand on the provider SDK', () => {
  const kinds = readdirSync(PROVIDERS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'sdk')
    .map((entry) => join(PROVIDERS, entry.name));

  it('finds every kind folder', () => {
    expect(kinds.length).to.be.at.least(15);
  });

  it('every kind imports only the SDK entry point, its own folder and npm packages', () => {
    expect(violations(kinds.flatMap(sources), kindViolation)).to.deep.equal([]);
  });

  it('the SDK imports only core/, itself and npm packages', () => {
    expect(violations(sources(SDK), sdkViolation)).to.deep.equal([]);
  });

  it('the SDK and the core modules it reaches import each other in one direction only (no cycle)', () => {
    expect(cycleFrom(SDK_ENTRY)).to.deep.equal([]);
  });

  it('catches a kind reaching into core/, another kind or an SDK module', () => {
    const okta = join(PROVIDERS, 'okta', 'index.ts');
    const found = (source: string) => specifiers(source).map((s) => kindViolation(okta, s));
    expect(found("import { fetchJson } from '../../core/http.js';")).to.deep.equal(['outside the kind folder and the SDK']);
    expect(found("export { oidcConfigSchema } from '../oidc/config.js';")).to.deep.equal(['outside the kind folder and the SDK']);
    expect(found("import type { JwksVerifier } from '../sdk/jwt.js';")).to.deep.equal(['import the SDK through its entry point (../sdk/index.js)']);
    expect(found("const m = await import('portcullis/core/http');")).to.deep.equal(['only portcullis/provider-sdk is public']);
    expect(found("import { z } from 'zod';\nimport { oidcPreset } from '../sdk/index.js';\nimport { x } from './config.js';")).to.deep.equal([
      undefined, undefined, undefined,
    ]);
  });

  it('catches the SDK reaching into a kind or the server', () => {
    const base = join(SDK, 'oidc-base.ts');
    expect(sdkViolation(base, '../okta/index.js')).to.equal('the SDK imports only core/ and itself');
    expect(sdkViolation(base, '../../server/serve.js')).to.equal('the SDK imports only core/ and itself');
    expect(sdkViolation(base, '../../core/http.js')).to.equal(undefined);
  });
});

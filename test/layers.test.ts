// The house's arrows only go down: server/ → policies/, providers/ → core/, nothing sideways between policies/ and
// providers/, core/ free of Koa, and no import cycles. Reads the TypeScript sources, so it judges what is written.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAYERS = ['core', 'policies', 'providers', 'server'] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import from the others (itself always). */
const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  core: [],
  policies: ['core'],
  providers: ['core'],
  server: ['core', 'policies', 'providers'],
};

/** Packages a layer must not depend on: the kernel knows nothing of HTTP frameworks. */
const FORBIDDEN_PACKAGES: Readonly<Partial<Record<Layer, RegExp>>> = {
  core: /^(koa|koa-body|@koa\/.*)$/,
  policies: /^(koa|koa-body|@koa\/.*)$/,
};

export interface SourceImport {
  readonly from: string;
  /** Repo-relative .ts path for a relative import, else the bare specifier. */
  readonly to: string;
  readonly relative: boolean;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every import of a file (static, type-only, re-exports and dynamic), resolved to repo paths when relative. */
export function importsOf(file: string, text: string): SourceImport[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName }) => {
    if (!fileName.startsWith('.')) return { from: file, to: fileName, relative: false };
    const target = posix.normalize(posix.join(posix.dirname(file), fileName)).replace(/\.js$/, '.ts');
    return { from: file, to: target, relative: true };
  });
}

const layerOf = (path: string): Layer | undefined => LAYERS.find((l) => path === l || path.startsWith(`${l}/`));

/** The imports that break the layering rules, as `from → to` lines. */
export function violations(imports: readonly SourceImport[]): string[] {
  const bad: string[] = [];
  for (const i of imports) {
    const from = layerOf(i.from);
    if (!from) continue;
    if (!i.relative) {
      const pkg = i.to.startsWith('@') ? i.to.split('/').slice(0, 2).join('/') : i.to.split('/')[0]!;
      if (FORBIDDEN_PACKAGES[from]?.test(pkg)) bad.push(`${i.from} → ${i.to} (${from}/ must not depend on it)`);
      continue;
    }
    const to = layerOf(i.to);
    if (!to) bad.push(`${i.from} → ${i.to} (outside the product's layers)`);
    else if (to !== from && !MAY_IMPORT[from].includes(to)) bad.push(`${i.from} → ${i.to} (${from}/ may import ${[from, ...MAY_IMPORT[from]].join(', ')} only)`);
  }
  return bad;
}

/** Import cycles among the given files, each as the path that closes it (Tarjan's strongly connected components). */
export function cycles(imports: readonly SourceImport[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const i of imports) {
    if (!i.relative) continue;
    const list = edges.get(i.from) ?? [];
    list.push(i.to);
    edges.set(i.from, list);
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('layers: imports only go down', () => {
  const imports = LAYERS.flatMap((layer) => sourceFiles(layer).map((f) => importsOf(f, readFileSync(join(ROOT, f), 'utf8')))).flat();

  it('reads the sources of every layer', () => {
    for (const layer of LAYERS) expect(imports.some((i) => i.from.startsWith(`${layer}/`)), layer).to.equal(true);
  });

  it('core/ imports no layer above it, policies/ and providers/ only core/, and core/ no HTTP framework', () => {
    expect(violations(imports)).to.deep.equal([]);
  });

  it('has no import cycles', () => {
    expect(cycles(imports).map((c) => c.join(' ↔ '))).to.deep.equal([]);
  });

  describe('the rules themselves', () => {
    const parse = (file: string, text: string) => importsOf(file, text);

    it('refuses core/ importing server/, policies/ or providers/, at any depth and as a type only', () => {
      expect(violations(parse('core/store/x.ts', "import { y } from '../../server/serve.js';"))).to.have.length(1);
      expect(violations(parse('core/x.ts', "import type { S } from '../policies/paths.js';"))).to.have.length(1);
      expect(violations(parse('core/x.ts', "export { p } from '../providers/oidc/index.js';"))).to.have.length(1);
      expect(violations(parse('core/x.ts', "const m = await import('../server/cli.js');"))).to.have.length(1);
    });

    it('refuses policies/ and providers/ importing each other, or server/', () => {
      expect(violations(parse('policies/a.ts', "import { p } from '../providers/oidc/index.js';"))).to.have.length(1);
      expect(violations(parse('providers/oidc/a.ts', "import { p } from '../../policies/paths.js';"))).to.have.length(1);
      expect(violations(parse('providers/oidc/a.ts', "import { p } from '../../server/serve.js';"))).to.have.length(1);
    });

    it('refuses Koa in core/', () => {
      expect(violations(parse('core/x.ts', "import Koa from 'koa';"))).to.have.length(1);
      expect(violations(parse('core/x.ts', "import Router from '@koa/router';"))).to.have.length(1);
    });

    it('accepts the arrows that go down', () => {
      const ok = [
        ...parse('server/gateway/app.ts', "import { a } from '../../core/access.js'; import { p } from '../../policies/paths.js';"),
        ...parse('policies/paths.ts', "import { a } from '../core/access.js'; import { b } from './routes.js';"),
        ...parse('core/store/sqlite.ts', "import Database from 'better-sqlite3'; import { h } from './hash.js';"),
      ];
      expect(violations(ok)).to.deep.equal([]);
    });

    it('finds a cycle, including through type-only imports', () => {
      const found = cycles([
        ...parse('core/a.ts', "import type { B } from './b.js';"),
        ...parse('core/b.ts', "import { c } from './c.js';"),
        ...parse('core/c.ts', "import type { A } from './a.js';"),
        ...parse('core/d.ts', "import { a } from './a.js';"),
      ]);
      expect(found).to.deep.equal([['core/a.ts', 'core/b.ts', 'core/c.ts']]);
    });
  });
});

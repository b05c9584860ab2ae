// The suite's own rules, so that it fails only for bugs: no port picked for a child to bind later, no duration
// asserted, no fixed sleep waiting for something, one `eventually`. Reads the TypeScript sources of test/ and bench/.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = 'test/suite-rules.test.ts';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && path !== SELF) out.push(path);
  }
  return out;
}

/** Where a pause is the behaviour under test, not a wait for something to happen, and why. */
const PAUSES_ALLOWED: Readonly<Record<string, string>> = {
  'test/support/eventually.ts': 'the pause between two tries',
  'test/support/processes.ts': 'a bound on reading a dead child\'s last words',
  'test/core/http.test.ts': 'time passing beyond a timeout that must not fire',
  'test/faults/kill9.faults.test.ts': 'the random moment of the crash',
};

/** Where a measured duration is the requirement under test, and why. */
const DURATIONS_ALLOWED: Readonly<Record<string, string>> = {
  'test/e2e/scale-out.e2e.test.ts': 'issue 17 asks for the p99 of propagation across nodes to be measured in the test (within 1 s)',
};

interface Rule {
  readonly name: string;
  readonly pattern: RegExp;
  readonly scope: readonly string[];
  readonly allowed?: (file: string) => boolean;
}

/** Each rule with the `file:line` of every line that breaks it. */
export function breaches(files: ReadonlyMap<string, string>, rules: readonly Rule[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const rule of rules) {
    const found: string[] = [];
    for (const [file, text] of files) {
      if (!rule.scope.some((dir) => file.startsWith(`${dir}/`)) || rule.allowed?.(file)) continue;
      text.split('\n').forEach((line, i) => {
        if (rule.pattern.test(line)) found.push(`${file}:${i + 1}`);
      });
    }
    out[rule.name] = found;
  }
  return out;
}

export const RULES: readonly Rule[] = [
  // Picking a free port and handing it to a child to bind later races every other socket of the machine.
  { name: 'no freePort (pick, then bind)', pattern: /\bfreePort\b/, scope: ['test', 'bench'] },
  { name: 'no duration measured in a test', pattern: /performance\.now\(\)/, scope: ['test'], allowed: (file) => file in DURATIONS_ALLOWED },
  { name: 'no duration asserted', pattern: /expect\(.*Date\.now\(\) - /, scope: ['test'] },
  {
    name: 'one eventually (test/support/eventually.ts)',
    pattern: /(function|const|let)\s+eventually\b/,
    scope: ['test'],
    allowed: (file) => file === 'test/support/eventually.ts',
  },
  { name: 'no sleep helper', pattern: /export\s+(const|function|async function)\s+sleep\b/, scope: ['test', 'bench'] },
  {
    name: 'no fixed pause (wait for a sign with eventually)',
    pattern: /setTimeout\((r|res|resolve)\s*,|\bsleep\(/,
    scope: ['test'],
    allowed: (file) => file in PAUSES_ALLOWED,
  },
];

describe('the suite fails only for bugs', () => {
  const files = new Map([...sourceFiles('test'), ...sourceFiles('bench')].map((f) => [f, readFileSync(join(ROOT, f), 'utf8')] as const));

  it('reads the sources of test/ and bench/', () => {
    expect([...files.keys()]).to.include.members(['test/support/eventually.ts', 'bench/run.ts']);
  });

  it('has no pick-then-bind port, no duration assertion, no fixed pause and one eventually', () => {
    const found = breaches(files, RULES);
    expect(found).to.deep.equal(Object.fromEntries(RULES.map((r) => [r.name, []])));
  });

  it('catches each of them (the rules themselves)', () => {
    const bad = new Map([
      ['test/e2e/x.test.ts', 'const port = await freePort();\nconst t0 = performance.now();\nexpect(Date.now() - started).to.be.below(250);'],
      ['bench/lib/y.ts', 'export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));'],
      ['test/core/z.test.ts', 'const eventually = async () => {};\nawait new Promise((r) => setTimeout(r, 50));\nawait sleep(100);'],
    ]);
    expect(breaches(bad, RULES)).to.deep.equal({
      'no freePort (pick, then bind)': ['test/e2e/x.test.ts:1'],
      'no duration measured in a test': ['test/e2e/x.test.ts:2'],
      'no duration asserted': ['test/e2e/x.test.ts:3'],
      'one eventually (test/support/eventually.ts)': ['test/core/z.test.ts:1'],
      'no sleep helper': ['bench/lib/y.ts:1'],
      'no fixed pause (wait for a sign with eventually)': ['test/core/z.test.ts:2', 'test/core/z.test.ts:3'],
    });
  });
});

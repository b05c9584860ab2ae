// Root hooks for mutation testing only (stryker.config.json requires this file after setup.js; `npm test` does not).
//
// Stryker's mocha runner learns which tests cover a mutant from the test id it sets before each test,
// and never clears. Code that runs between two tests (a suite's `before` hook: a harness starting, a
// pipeline compiled from settings) is then booked to the previous test, often in another file. A mutant
// in a stage factory would be tried against that unrelated test only, and "survive". These hooks book
// what runs between two tests to every test of the suites being entered, which are the tests that code
// serves. Module-load code stays static (Stryker runs it against every test, in a fresh process).
import type { Context, Suite } from 'mocha';

/** The part of Stryker's instrumenter context these hooks read and write. */
interface CoverageContext {
  activeMutant?: string;
  currentTestId?: string;
  mutantCoverage?: { static: Record<string, number>; perTest: Record<string, Record<string, number>> };
}

const BETWEEN_TESTS = '\u0000between tests';
/** Stryker's context during its initial (dry) run, the only run whose coverage it reads; else undefined. */
function dryRun(): CoverageContext | undefined {
  const ns = (globalThis as { __stryker__?: CoverageContext }).__stryker__;
  return ns && ns.activeMutant === undefined ? ns : undefined;
}
let previousChain: readonly Suite[] = [];

/** The suites from the root down to the test. */
function chainOf(suite: Suite | undefined): Suite[] {
  const chain: Suite[] = [];
  for (let s = suite; s; s = s.parent) chain.unshift(s);
  return chain;
}

function allTitles(suite: Suite, into: string[]): string[] {
  for (const test of suite.tests) into.push(test.fullTitle());
  for (const child of suite.suites) allTitles(child, into);
  return into;
}

export const mochaHooks = {
  beforeAll(): void {
    const ns = dryRun();
    if (ns) ns.currentTestId = BETWEEN_TESTS;
  },
  beforeEach(this: Context): void {
    const ns = dryRun();
    const test = this.currentTest;
    const perTest = ns?.mutantCoverage?.perTest;
    if (!ns || !test || !perTest) return;
    const chain = chainOf(test.parent);
    const pending = perTest[BETWEEN_TESTS];
    delete perTest[BETWEEN_TESTS];
    if (pending) {
      // The outermost suite entered since the previous test (never the root, which holds every file).
      const entered = chain.find((s, i) => !s.root && previousChain[i] !== s);
      const owners = entered ? allTitles(entered, []) : [test.fullTitle()];
      for (const id of owners) perTest[id] = { ...perTest[id], ...pending };
    }
    previousChain = chain;
  },
  afterEach(): void {
    const ns = dryRun();
    if (ns) ns.currentTestId = BETWEEN_TESTS;
  },
  afterAll(): void {
    // What ran after the last test (teardown) serves no test.
    const ns = dryRun();
    if (ns?.mutantCoverage) delete ns.mutantCoverage.perTest[BETWEEN_TESTS];
    if (ns) delete ns.currentTestId;
  },
};

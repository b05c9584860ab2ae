// Method-qualified path globs (`GET /rest/api/*/serverInfo`, `/rest/**`), compiled once per settings change.
import { matchForm, normalisePath } from './path.js';

const METHOD = /^[A-Z][A-Z-]{0,19}$/;
const SEGMENT_CHARS = /^[A-Za-z0-9\-._~!$&'()+,=:@%*]+$/;

/** A compiled pattern list: index of the first pattern that matches, or -1. */
export interface PatternList {
  readonly size: number;
  match(method: string, path: string): number;
}

interface Compiled {
  /** Leading segments without wildcards: where the pattern sits in a {@link SegmentIndex}. */
  readonly literalSegments: readonly string[];
  /** Methods the pattern names; undefined = any method. */
  readonly methods: ReadonlySet<string> | undefined;
  /** A pattern without wildcards is compared as a string. */
  readonly exact: string | undefined;
  /** Literal text every matching path starts with: a cheap filter before the RegExp. */
  readonly prefix: string;
  readonly re: RegExp | undefined;
}

const escape = (text: string) => text.replace(/[.+^${}()|[\]\\?]/g, '\\$&');

/** Why a pattern is not valid, or undefined when it is. Used by the settings schema. */
export function patternProblem(pattern: string): string | undefined {
  try {
    compilePattern(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Grammar: `[METHOD[,METHOD…] ]PATH`. PATH is a normalised path whose segments are literal
 * text, `*` (exactly one non-empty segment), text with `*` inside (`*.json`: any characters
 * but `/`), or `**` (zero or more whole segments, only as a whole segment). `GET` also
 * matches `HEAD`. A trailing slash is not significant, on either side.
 *
 * @throws {TypeError} for anything else, naming the problem.
 */
export function compilePattern(pattern: string): Compiled {
  const space = pattern.indexOf(' ');
  const methodPart = space === -1 ? undefined : pattern.slice(0, space);
  const pathPart = space === -1 ? pattern : pattern.slice(space + 1);
  let methods: Set<string> | undefined;
  if (methodPart !== undefined) {
    const names = methodPart.split(',');
    if (names.some((m) => !METHOD.test(m))) throw new TypeError('methods must be upper-case names separated by commas, e.g. GET,HEAD');
    methods = new Set(names);
    if (methods.has('GET')) methods.add('HEAD');
  }
  if (!pathPart.startsWith('/')) throw new TypeError('the path must start with /');
  const form = matchForm(pathPart);
  const segments = form === '/' ? [] : form.slice(1).split('/');
  for (const s of segments) {
    if (!SEGMENT_CHARS.test(s)) throw new TypeError(`segment '${s}' is empty or has characters not allowed in a path pattern`);
    if (s.includes('**') && s !== '**') throw new TypeError(`'**' must be a whole segment (in '${s}')`);
  }
  const normal = normalisePath(form.replace(/\*/g, 'x'));
  if (!normal.ok || matchForm(normal.path) !== form.replace(/\*/g, 'x')) {
    throw new TypeError(`'${pathPart}' is not a normalised path (no dot segments, double slashes or encoded unreserved characters)`);
  }

  const firstWild = segments.findIndex((seg) => seg.includes('*'));
  const literalSegments = firstWild === -1 ? segments : segments.slice(0, firstWild);
  const star = form.indexOf('*');
  if (star === -1) return { literalSegments, methods, exact: form, prefix: form, re: undefined };
  let prefix = form.slice(0, star);
  if (prefix.endsWith('/') && prefix.length > 1) prefix = prefix.slice(0, -1);
  let source = '';
  for (const s of segments) {
    if (s === '**') source += '(?:/.*)?';
    else if (s === '*') source += '/[^/]+';
    else source += `/${s.split('*').map(escape).join('[^/]*')}`;
  }
  return { literalSegments, methods, exact: undefined, prefix: prefix === '/' ? '' : prefix, re: new RegExp(`^${source || '/'}$`) };
}

interface IndexNode {
  readonly children: Map<string, IndexNode>;
  /** Patterns whose literal segments end here, by position in the list (ascending). */
  readonly ids: number[];
}

/**
 * A trie over the patterns' leading literal segments. A lookup walks the path's segments and
 * collects only the patterns whose literal start the path shares, in list order: with 200
 * rules the RegExps run for a handful of candidates, not for all of them.
 */
export class SegmentIndex {
  private readonly root: IndexNode = { children: new Map(), ids: [] };

  constructor(patterns: readonly CompiledPattern[]) {
    patterns.forEach((p, id) => {
      let node = this.root;
      for (const segment of p.literalSegments) {
        let child = node.children.get(segment);
        if (!child) node.children.set(segment, (child = { children: new Map(), ids: [] }));
        node = child;
      }
      node.ids.push(id);
    });
  }

  /** Positions of the patterns that may match `form` (a path in match form), ascending. */
  candidates(form: string): number[] {
    let node: IndexNode | undefined = this.root;
    let found: number[] = node.ids;
    let merged = false;
    let start = 1;
    while (start < form.length) {
      const slash = form.indexOf('/', start);
      const end = slash === -1 ? form.length : slash;
      node = node.children.get(form.slice(start, end));
      if (!node) break;
      if (node.ids.length > 0) {
        if (found.length === 0) found = node.ids;
        else {
          found = found.concat(node.ids);
          merged = true;
        }
      }
      start = end + 1;
    }
    return merged ? found.sort((a, b) => a - b) : found;
  }
}

/** Compile a list of patterns (validated earlier by the settings schema; throws TypeError otherwise). */
export function compilePatternList(patterns: readonly string[]): PatternList {
  const compiled = patterns.map(compilePattern);
  if (compiled.length === 0) return { size: 0, match: () => -1 };
  const index = new SegmentIndex(compiled);
  return {
    size: compiled.length,
    match(method, path) {
      const form = matchForm(path);
      for (const i of index.candidates(form)) if (patternMatches(compiled[i]!, method, form)) return i;
      return -1;
    },
  };
}

/** Test one compiled pattern (for route tables that keep their own order). */
export function patternMatches(p: Compiled, method: string, form: string): boolean {
  if (p.methods && !p.methods.has(method)) return false;
  if (p.exact !== undefined) return p.exact === form;
  return form.startsWith(p.prefix) && p.re!.test(form);
}

export type CompiledPattern = Compiled;

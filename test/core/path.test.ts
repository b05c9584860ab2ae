// Path normalisation and the path-pattern grammar.
import { expect } from 'chai';
import { normalisePath } from '../../core/path.js';
import { compilePatternList, patternProblem } from '../../core/path-pattern.js';
import { PATH_CORPUS } from '../policies/path-corpus.js';

const norm = (raw: string) => {
  const r = normalisePath(raw);
  return r.ok ? r.path : 'reject';
};

describe('core/path', () => {
  describe('normalisePath', () => {
    it('keeps a plain path as it is', () => {
      expect(norm('/')).to.equal('/');
      expect(norm('/rest/api/2/issue/ABC-1')).to.equal('/rest/api/2/issue/ABC-1');
      expect(norm("/a/b:c@d!$&'()*+,=-._~")).to.equal("/a/b:c@d!$&'()*+,=-._~");
    });

    it('agrees with RFC 3986 dot-segment removal on every short path of /, a, . and ~ (plain paths are answered without the full pass)', () => {
      // Reference: collapse empty segments, resolve `.` and `..`, keep a trailing slash, refuse a segment ending in a dot.
      const reference = (raw: string): string | undefined => {
        const parts = raw.split('/').slice(1);
        const last = parts[parts.length - 1];
        const trailing = parts.length > 0 && (last === '' || last === '.' || last === '..');
        const out: string[] = [];
        for (const part of parts) {
          if (part === '' || part === '.') continue;
          if (part === '..') out.pop();
          else if (part.endsWith('.')) return undefined;
          else out.push(part);
        }
        return `/${out.join('/')}${trailing && out.length > 0 ? '/' : ''}`;
      };
      const alphabet = ['/', 'a', '.', '~'];
      let paths = ['/'];
      for (let length = 2; length <= 7; length++) {
        paths = paths.flatMap((p) => alphabet.map((c) => p + c));
        for (const path of paths) {
          const result = normalisePath(path);
          expect(result.ok ? result.path : undefined, path).to.equal(reference(path));
        }
      }
    });

    it('decodes unreserved escapes and upper-cases the others', () => {
      expect(norm('/%7euser/%41%2d')).to.equal('/~user/A-');
      expect(norm('/caf%c3%a9/%20x')).to.equal('/caf%C3%A9/%20x');
      expect(norm('/%f0%9f%98%80')).to.equal('/%F0%9F%98%80');
      expect(norm('/a%3Fb%23c%26')).to.equal('/a%3Fb%23c%26');
    });

    it('removes dot segments and collapses slashes, keeping a trailing slash', () => {
      expect(norm('/a/b/../c/./d')).to.equal('/a/c/d');
      expect(norm('/a//b///')).to.equal('/a/b/');
      expect(norm('/a/b/.')).to.equal('/a/b/');
      expect(norm('/..')).to.equal('/');
    });

    it('refuses what is not an origin-form path or is too long', () => {
      for (const raw of ['', 'a/b', '*', 'http://x/y', `/${'a'.repeat(9000)}`, '/a b', '/a"b', '/é', '/a|b', '/a{b}']) {
        expect(norm(raw), raw).to.equal('reject');
      }
    });

    describe(`bypass corpus (${PATH_CORPUS.length} payloads)`, () => {
      for (const [target, expected] of PATH_CORPUS) {
        it(`${target} → ${expected}`, () => {
          const q = target.indexOf('?');
          expect(norm(q === -1 ? target : target.slice(0, q))).to.equal(expected);
        });
      }
    });

    it('is idempotent on everything it accepts', () => {
      for (const [target] of PATH_CORPUS) {
        const first = normalisePath(target.split('?')[0]!);
        if (first.ok) expect(norm(first.path), target).to.equal(first.path);
      }
    });
  });

  describe('path patterns', () => {
    const first = (patterns: string[], method: string, path: string) => compilePatternList(patterns).match(method, path);

    it('matches literal paths, ignoring one trailing slash on either side', () => {
      expect(first(['/status'], 'GET', '/status')).to.equal(0);
      expect(first(['/status'], 'GET', '/status/')).to.equal(0);
      expect(first(['/status/'], 'GET', '/status')).to.equal(0);
      expect(first(['/status'], 'GET', '/status/x')).to.equal(-1);
      expect(first(['/status'], 'GET', '/Status')).to.equal(-1);
    });

    it('* is one non-empty segment, or any characters but / inside a segment', () => {
      const p = ['GET /rest/api/*/serverInfo'];
      expect(first(p, 'GET', '/rest/api/2/serverInfo')).to.equal(0);
      expect(first(p, 'GET', '/rest/api/latest/serverInfo')).to.equal(0);
      expect(first(p, 'GET', '/rest/api/serverInfo')).to.equal(-1);
      expect(first(p, 'GET', '/rest/api/2/3/serverInfo')).to.equal(-1);
      expect(first(['/files/*.json'], 'GET', '/files/a.json')).to.equal(0);
      expect(first(['/files/*.json'], 'GET', '/files/a/b.json')).to.equal(-1);
      expect(first(['/files/v*'], 'GET', '/files/v')).to.equal(0);
    });

    it('** is zero or more whole segments', () => {
      const p = ['/rest/**'];
      for (const path of ['/rest', '/rest/', '/rest/a', '/rest/a/b/c']) expect(first(p, 'POST', path), path).to.equal(0);
      for (const path of ['/restx', '/re', '/', '/other/rest']) expect(first(p, 'POST', path), path).to.equal(-1);
      expect(first(['/**'], 'GET', '/')).to.equal(0);
      expect(first(['/**'], 'GET', '/a/b')).to.equal(0);
      expect(first(['/a/**/z'], 'GET', '/a/z')).to.equal(0);
      expect(first(['/a/**/z'], 'GET', '/a/b/c/z')).to.equal(0);
      expect(first(['/a/**/z'], 'GET', '/a/bz')).to.equal(-1);
    });

    it('method-qualified patterns match only their methods; GET covers HEAD', () => {
      const p = ['GET,OPTIONS /a', 'DELETE /b'];
      expect(first(p, 'GET', '/a')).to.equal(0);
      expect(first(p, 'HEAD', '/a')).to.equal(0);
      expect(first(p, 'OPTIONS', '/a')).to.equal(0);
      expect(first(p, 'POST', '/a')).to.equal(-1);
      expect(first(p, 'DELETE', '/b')).to.equal(1);
      expect(first(p, 'GET', '/b')).to.equal(-1);
    });

    it('answers the first matching pattern, and escapes RegExp characters in literals', () => {
      expect(first(['/a/*', '/a/b'], 'GET', '/a/b')).to.equal(0);
      expect(first(['/a/(x)+$'], 'GET', '/a/(x)+$')).to.equal(0);
      expect(first(['/a/(x)+$'], 'GET', '/a/xx')).to.equal(-1);
      expect(first(['/v1.*'], 'GET', '/v1x2')).to.equal(-1);
      expect(first(['/v1.*'], 'GET', '/v1.2')).to.equal(0);
    });

    it('refuses patterns that are not in normal form or break the grammar', () => {
      for (const bad of ['rest/**', '/a/../b', '/a//b', '/a/./b', '/%7euser', '/a**', '/**x/y', 'get /a', 'GET  /a', 'GET /a?x', '/a;b', '/a b', '/a#b', 'GET, /a', '/a.']) {
        expect(patternProblem(bad), bad).to.be.a('string');
      }
      for (const good of ['/', '/**', 'GET /rest/api/*/serverInfo', 'GET,HEAD /x/**/y', '/files/*.json', '/caf%C3%A9']) {
        expect(patternProblem(good), good).to.equal(undefined);
      }
    });
  });
});

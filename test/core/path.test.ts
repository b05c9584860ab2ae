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

    it('takes exactly 8 KiB and no more', () => {
      const at = '/' + 'a'.repeat(8191);
      expect(norm(at)).to.equal(at);
      expect(normalisePath(at + 'a')).to.deep.equal({ ok: false, error: 'the path is too long' });
    });

    it('accepts shortest-form UTF-8 at every boundary of RFC 3629, refusing overlong, surrogate, out-of-range and broken sequences', () => {
      // Valid: the first and last character of each length, and the edges next to what is refused.
      for (const good of ['%C2%80', '%DF%BF', '%E0%A0%80', '%E1%80%80', '%ED%9F%BF', '%EE%80%80', '%EF%BF%BF', '%F0%90%80%80', '%F1%80%80%80', '%F4%8F%BF%BF']) {
        expect(norm(`/x/${good.toLowerCase()}`), good).to.equal(`/x/${good}`);
      }
      const refusals: [string, string][] = [
        ['%80', 'a lone continuation byte'],
        ['%80%80%80', 'continuation bytes only'],
        ['%80%80%80%80', 'four continuation bytes'],
        ['%C0%80%80%80', 'an overlong lead with three continuations'],
        ['%C0%80', 'overlong NUL'],
        ['%C1%BF', 'overlong two-byte'],
        ['%E0%9F%BF', 'overlong three-byte'],
        ['%ED%A0%80', 'a surrogate'],
        ['%F0%8F%BF%BF', 'overlong four-byte'],
        ['%F4%90%80%80', 'beyond U+10FFFF'],
        ['%F5%80%80%80', 'a lead byte past F4'],
        ['%FF', 'never a lead byte'],
        ['%C3', 'cut short'],
        ['%E2%82', 'cut short after two bytes'],
        ['%C3%28', 'an ASCII escape where a continuation belongs'],
        ['%E2%82%28', 'an ASCII escape as the third byte'],
        ['%F0%90%80%28', 'an ASCII escape as the fourth byte'],
        ['%E2%82x', 'a raw character where an escape belongs'],
      ];
      for (const [bad, what] of refusals) expect(normalisePath(`/x/${bad}`), what).to.deep.equal({ ok: false, error: 'invalid UTF-8 in the path' });
    });

    it('says which rule refused a path', () => {
      const cases: [string, string][] = [
        ['x', 'the path must start with /'],
        ['', 'the path must start with /'],
        ['/a b', 'the path contains characters that are not allowed'],
        ['/a%zz', 'malformed percent-encoding'],
        ['/a%2', 'malformed percent-encoding'],
        ['/a%00', 'encoded control character'],
        ['/a%7f', 'encoded control character'],
        ['/a%2fb', 'encoded slash or backslash'],
        ['/a%5cb', 'encoded slash or backslash'],
        ['/a%3bb', 'encoded path parameter'],
        ['/a%252e', 'double percent-encoding'],
        ['/a.', 'a path segment ends with a dot'],
      ];
      for (const [raw, error] of cases) expect(normalisePath(raw), raw).to.deep.equal({ ok: false, error });
      // One hex digit after an encoded `%` is not double encoding.
      expect(norm('/a%25Az')).to.equal('/a%25Az');
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

// Path-normalisation bypasses against the public, restrictPublic and bypass lists: the existing path corpus plus attacks on each list.
import { PATH_CORPUS } from '../../policies/path-corpus.js';
import type { AttackCase, AttackCategory, Expectation } from './types.js';

/**
 * How the canonical path is judged under BASE_SETTINGS for an anonymous caller:
 * bypass `/alive`, `/assets/**`, `GET /status`; public `/public/**` except `/public/private/**`.
 */
function anonymousVerdict(canonical: string, query = '', method = 'GET'): Expectation {
  const form = canonical.length > 1 && canonical.endsWith('/') ? canonical.slice(0, -1) : canonical;
  const under = (p: string) => form === p || form.startsWith(`${p}/`);
  const upstreamPath = canonical + query;
  if (form === '/alive' || under('/assets') || (form === '/status' && (method === 'GET' || method === 'HEAD'))) {
    return { status: 200, error: 'bypass', upstreamPath };
  }
  if (under('/public') && !under('/public/private')) return { status: 200, error: 'anonymous', upstreamPath };
  return { status: 401, error: 'missing_credential' };
}

const INVALID: Expectation = { status: 400, error: 'invalid_path' };
const PARSER: Expectation = { status: 400, error: 'parser' };

const fromCorpus: AttackCase[] = PATH_CORPUS.map(([target, canonical]) => {
  const q = target.indexOf('?');
  return {
    name: `path corpus: ${target}`,
    request: { path: target },
    expect: canonical === 'reject' ? INVALID : anonymousVerdict(canonical, q === -1 ? '' : target.slice(q)),
  };
});

/** [target, canonical path | 'reject' | 'parser', method]. */
const LIST_ATTACKS: readonly (readonly [string, string, string?])[] = [
  // out of the bypass list
  ['/assets/../admin/secret', '/admin/secret'],
  ['/assets/%2e%2e/admin/secret', '/admin/secret'],
  ['/assets/%2E%2E/%2E%2E/admin', '/admin'],
  ['/assets/..%2fadmin', 'reject'],
  ['/assets/..%5cadmin', 'reject'],
  ['/assets/..;/admin', 'reject'],
  ['/assets;/../admin', 'reject'],
  ['/assets/%252e%252e/admin', 'reject'],
  ['/assets/%c0%ae%c0%ae/admin', 'reject'],
  ['/assets/..%00/admin', 'reject'],
  ['/assets./admin', 'reject'],
  ['/assets%2f../admin', 'reject'],
  ['//assets/../admin', '/admin'],
  ['/ASSETS/x', '/ASSETS/x'],
  ['/%61ssets/../admin', '/admin'],
  ['/assetsx/y', '/assetsx/y'],
  ['/status/../admin', '/admin'],
  ['/status/x', '/status/x'],
  ['/status;x', 'reject'],
  ['/status%3bx', 'reject'],
  ['/status.', 'reject'],
  ['/status/', '/status/'],
  ['/status', '/status', 'POST'],
  ['/status', '/status', 'DELETE'],
  ['/alive/../admin', '/admin'],
  ['/alive%2f..%2fadmin', 'reject'],
  // into the restricted part of the public list
  ['/public/private/x', '/public/private/x'],
  ['/public/./private/x', '/public/private/x'],
  ['/public//private/x', '/public/private/x'],
  ['/public/x/../private/x', '/public/private/x'],
  ['/public/%70rivate/x', '/public/private/x'],
  ['/public/PRIVATE/x', '/public/PRIVATE/x'],
  ['/public/private./x', 'reject'],
  ['/public/private;/x', 'reject'],
  ['/public/private%2fx', 'reject'],
  ['/public/private%252fx', 'reject'],
  ['/public/private', '/public/private'],
  ['/public/private/', '/public/private/'],
  // characters outside pchar and request-line tricks
  ['/public/x"y/../../admin', 'reject'],
  ['/public/x{y}/../../admin', 'reject'],
  ['/public/x|y/../../admin', 'reject'],
  ['/public/x<script>', 'reject'],
  ['/public/x`y', 'reject'],
  ['/public/x^y', 'reject'],
  ['/public/x%20/../../admin', '/admin'],
  ['/public/x y', 'parser'],
  ['/public/\u00e9/../../admin', 'parser'],
  ['/public/x\u007f/../../admin', 'parser'],
  ['/public/x\t/../../admin', 'parser'],
  ['/public/%', 'reject'],
  ['/public/%%32%65', 'reject'],
  ['/public/%2', 'reject'],
  ['/public/..%ef%bc%8fadmin', '/public/..%EF%BC%8Fadmin'],
  ['/public/%ef%bc%8e%ef%bc%8e/admin', '/public/%EF%BC%8E%EF%BC%8E/admin'],
  [`/public/${'a/'.repeat(4200)}`, 'reject'],
];

const fromLists: AttackCase[] = LIST_ATTACKS.map(([target, canonical, method = 'GET']) => ({
  name: `list attack: ${method} ${target.length > 80 ? `${target.slice(0, 40)}… (${target.length} chars)` : target}`,
  request: { method, path: target },
  expect: canonical === 'reject' ? INVALID : canonical === 'parser' ? PARSER : anonymousVerdict(canonical, '', method),
}));

export const pathAttacks: AttackCategory = {
  name: 'path-normalisation bypasses',
  cases: [...fromCorpus, ...fromLists],
};

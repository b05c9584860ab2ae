// Forward auth (/_portcullis/decide) fed hostile X-Forwarded-* / X-Original-* values by a trusted proxy.
import type { AttackCase, AttackCategory } from './types.js';

const decide = (name: string, headers: readonly (readonly [string, string])[], status: number, error: string): AttackCase => ({
  name,
  request: { path: '/_portcullis/decide', headers },
  expect: { status, error },
});

export const forwardAuth: AttackCategory = {
  name: 'forward auth with hostile forwarded request lines',
  cases: [
    decide('X-Forwarded-Uri as an absolute URL', [['X-Forwarded-Uri', 'http://evil.example/public/x']], 400, 'invalid_path'),
    decide('X-Forwarded-Uri without a leading slash', [['X-Forwarded-Uri', 'public/x']], 400, 'invalid_path'),
    decide('X-Forwarded-Uri protocol-relative', [['X-Forwarded-Uri', '//evil.example/public/x']], 401, 'missing_credential'),
    decide('X-Forwarded-Uri climbing out of a public path', [['X-Forwarded-Uri', '/public/../admin']], 401, 'missing_credential'),
    decide('X-Forwarded-Uri with an encoded slash', [['X-Forwarded-Uri', '/public/..%2fadmin']], 400, 'invalid_path'),
    decide('X-Forwarded-Uri with a fragment', [['X-Forwarded-Uri', '/admin#/../public/x']], 400, 'invalid_path'),
    decide('X-Forwarded-Uri with a path parameter', [['X-Forwarded-Uri', '/public/..;/admin']], 400, 'invalid_path'),
    decide('X-Forwarded-Uri empty', [['X-Forwarded-Uri', '']], 400, 'invalid_path'),
    decide('X-Original-URI climbing out of a public path (nginx)', [['X-Original-URI', '/public/%2e%2e/admin']], 401, 'missing_credential'),
    decide('X-Forwarded-Uri public, X-Original-URI private: the first one read wins, both judged', [['X-Forwarded-Uri', '/admin'], ['X-Original-URI', '/public/x']], 401, 'missing_credential'),
    decide('GET-only bypass asked for DELETE', [['X-Forwarded-Method', 'DELETE'], ['X-Forwarded-Uri', '/status']], 401, 'missing_credential'),
    decide('a method list instead of a method', [['X-Forwarded-Method', 'GET, POST'], ['X-Forwarded-Uri', '/status']], 401, 'missing_credential'),
    decide('an unknown token via forward auth', [['X-Forwarded-Uri', '/api/x'], ['Authorization', 'Bearer not-a-known-token-0123456789']], 401, 'invalid_token'),
  ],
};

// Deeply nested JSON bodies: handlers walk some bodies recursively (the settings merge patch), so thousands of levels
// overflowed the stack (500). Every JSON body is refused past the nesting limit with 400 invalid_request, before any handler.
import type { AttackCase, AttackCategory } from './types.js';

const objects = (depth: number, leaf = '1'): string => `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;

const ADMIN = ['Authorization', 'Bearer {{ADMIN}}'] as const;
const JSON_TYPE = ['Content-Type', 'application/json'] as const;

const admin = (name: string, method: string, path: string, body: string, type: readonly [string, string] = JSON_TYPE, ...more: (readonly [string, string])[]): AttackCase => ({
  name,
  request: { target: 'admin', method, path, headers: [ADMIN, type, ...more], body },
  expect: { status: 400, error: 'invalid_request' },
});

export const deepJson: AttackCategory = {
  name: 'deeply nested JSON bodies',
  cases: [
    admin('settings merge patch nested 5,000 objects deep', 'PATCH', '/api/v1/settings', objects(5000)),
    admin('settings merge patch (merge-patch+json) nested 5,000 deep', 'PATCH', '/api/v1/settings', objects(5000), ['Content-Type', 'application/merge-patch+json']),
    admin('settings merge patch nested 100,000 deep', 'PATCH', '/api/v1/settings', objects(100_000)),
    admin('settings merge patch nested 5,000 deep under a real key', 'PATCH', '/api/v1/settings', `{"paths":${objects(5000)}}`),
    admin('settings merge patch nested 5,000 deep under two real keys', 'PATCH', '/api/v1/settings', `{"credentials":{"pat":${objects(5000)}}}`),
    admin('settings merge patch nested 5,000 deep, with an If-Match', 'PATCH', '/api/v1/settings', objects(5000), JSON_TYPE, ['If-Match', '*']),
    admin('settings merge patch with a deep string-keyed chain and a null leaf', 'PATCH', '/api/v1/settings', objects(5000, 'null')),
  ],
};

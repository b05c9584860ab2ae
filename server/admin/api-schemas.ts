// The admin API's answers as zod schemas: what the OpenAPI document describes and what the route test checks answers against.
import { z } from 'zod';
import { TOKEN_STATES } from '../../core/tokens/token-index.js';
import type { QueryShape } from './query.js';

/** The query parameters a route checks with `strictQuery`, as a schema: one value, or several (repeated or comma-separated). */
export function queryOf(shape: QueryShape, descriptions: Readonly<Record<string, string>> = {}) {
  const fields: Record<string, z.ZodType> = {};
  for (const [name, kind] of Object.entries(shape)) {
    const base = kind === 'one' ? z.string() : z.array(z.string());
    fields[name] = (descriptions[name] ? base.meta({ description: descriptions[name] }) : base).optional();
  }
  return z.object(fields);
}

const json = z.unknown();
const jsonObject = z.record(z.string(), json);
const isoTime = z.string().meta({ description: 'ISO 8601 time', format: 'date-time' });
const position = z.string().regex(/^\d+$/).meta({ description: 'A position in the global event order (decimal)' });

export const errorBody = z
  .object({
    error: z.string().meta({ description: 'Stable, snake_case error code (invalid_request, not_found, precondition_failed …)' }),
    error_description: z.string(),
    request_id: z.string(),
    fields: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Error', description: 'Every error answer of the admin API' });

export const traceEntry = z
  .object({ stage: z.string(), outcome: z.enum(['pass', 'allow', 'deny']), reason: z.string().optional(), detail: z.string().optional() })
  .meta({ id: 'TraceEntry' });

export const identity = z
  .object({
    subject: z.string(),
    username: z.string(),
    email: z.string().optional(),
    groups: z.array(z.string()),
    provider: z.string(),
    tokenId: z.string().optional(),
    scopes: z.array(z.string()),
    expiresAt: z.number().optional(),
    claims: jsonObject.optional(),
  })
  .meta({ id: 'Identity' });

const status = z.object({ ready: z.boolean(), degraded: z.boolean().optional(), detail: z.string().optional() });

export const readiness = z.object({ status: z.enum(['ready', 'degraded', 'not_ready']), checks: z.record(z.string(), status) });

export const settingsAnswer = z
  .object({ revision: z.number().int(), settings: jsonObject, document: jsonObject })
  .meta({ id: 'SettingsAnswer', description: 'The settings with defaults filled in (`settings`) and as given (`document`)' });

export const providerView = z
  .object({
    id: z.string(),
    kind: z.string(),
    enabled: z.boolean(),
    order: z.number().int(),
    config: jsonObject.meta({ description: 'Secret fields as ********' }),
    revision: z.number().int(),
    updatedAt: isoTime,
    status,
  })
  .meta({ id: 'Provider' });

export const providerKind = z
  .object({
    kind: z.string(),
    description: z.string(),
    secretFields: z.array(z.string()),
    configSchema: jsonObject.nullable().meta({ description: "The kind's configuration as JSON Schema (input form), null when its schema cannot say" }),
  })
  .meta({ id: 'ProviderKind' });

export const authResult = z.union([
  z.object({ outcome: z.literal('identity'), identity }),
  z.object({ outcome: z.literal('not_responsible') }),
  z.object({ outcome: z.literal('failure'), code: z.string(), description: z.string() }),
]);

export const testAnswer = z.object({
  provider: z.string(),
  result: authResult,
  decision: z.object({
    allow: z.boolean(),
    status: z.number().int(),
    reason: z.string(),
    stage: z.string(),
    description: z.string().optional(),
    trace: z.array(traceEntry),
    identity: identity.optional(),
  }),
});

export const userinfoAnswer = z.object({
  provider: z.string(),
  raw: json,
  attributes: z.array(z.object({ path: z.string(), type: z.enum(['string', 'number', 'boolean', 'array']), value: json })),
});

/** `GET`, `POST /api/v1/session`: who is signed in; a cookie session also gives its expiry and CSRF token. */
export const sessionAnswer = z
  .object({
    actor: z.string().meta({ description: 'Recorded as the actor of changes: admin, or oidc:<provider>:<username>' }),
    method: z.enum(['admin_token', 'oidc']),
    username: z.string().optional(),
    provider: z.string().optional(),
    expiresAt: isoTime.optional(),
    csrfToken: z.string().optional().meta({ description: 'Send it in X-CSRF-Token with every change made with the session cookie' }),
  })
  .meta({ id: 'Session' });

export const signInOptions = z.object({
  adminToken: z.literal(true),
  oidc: z.object({ provider: z.string(), signInUrl: z.string() }).nullable().meta({ description: 'Sign in with this provider (settings console.signInProvider); null: not configured' }),
});

export const authorizeAnswer = z.object({ authorizationUrl: z.string(), redirectUri: z.string(), state: z.string(), expiresAt: isoTime });

export const tokenAnswer = z.object({
  access_token: z.string(),
  token_type: z.string().optional(),
  expires_in: z.number().optional(),
  scope: z.string().optional(),
  id_token: z.string().optional(),
  refresh_token: z.string().optional(),
});

export const tokenView = z
  .object({
    id: z.string(),
    owner: z.string(),
    name: z.string(),
    kind: z.enum(['user', 'service']),
    groups: z.array(z.string()),
    readOnly: z.boolean(),
    pathPrefixes: z.array(z.string()),
    ipAllow: z.array(z.string()),
    expiresAt: isoTime.nullable(),
    state: z.enum(TOKEN_STATES as readonly ['active', 'expiring_soon', 'expired', 'revoked']),
    createdAt: isoTime,
    createdBy: z.string(),
    revokedAt: isoTime.optional(),
    revokedBy: z.string().optional(),
    revokeReason: z.string().optional(),
    lastUsedAt: isoTime.nullable(),
    useCount: z.number().int(),
  })
  .meta({ id: 'Token' });

export const issuedToken = tokenView.extend({ token: z.string().meta({ description: 'The secret: in this answer only, never again' }) });

export const tokenListQuery = z.object({
  owner: z.string().optional(),
  state: z.enum(TOKEN_STATES as readonly ['active', 'expiring_soon', 'expired', 'revoked']).optional(),
});

export const checkpointsQuery = z.object({
  from: z.string().regex(/^\d+$/).optional().meta({ description: 'Checkpoints to skip (0-based); `next` of the previous page' }),
  limit: z.string().regex(/^\d+$/).optional().meta({ description: '1 to 10000, default 1000' }),
});

export const checkpointsAnswer = z.object({ checkpoints: z.array(jsonObject), next: z.number().int().nullable() });

const change = z.object({ path: z.string(), old: json.optional(), new: json.optional() });

export const historyAnswer = z.object({
  entries: z.array(
    z.object({
      position,
      time: isoTime,
      type: z.string(),
      stream: z.string(),
      actor: z.string().nullable(),
      sourceIp: z.string().nullable(),
      correlationId: z.string().nullable(),
      summary: z.string(),
      changes: z.array(change),
      token: z.object({ id: z.string(), owner: z.string().optional(), name: z.string().optional() }).optional(),
    }),
  ),
  next: position.nullable(),
});

export const stateAnswer = z.object({
  asOf: z
    .object({ requested: z.string(), at: isoTime, lastChange: z.object({ position, time: isoTime }).nullable() })
    .nullable(),
  hash: z.string(),
  settings: settingsAnswer,
  providers: z.array(providerView.omit({ status: true })),
  tokens: z.array(tokenView.omit({ lastUsedAt: true, useCount: true })),
});

export const eventsAnswer = z.object({ events: z.array(jsonObject), next: position.nullable() });

export const auditRow = z.object({
  cursor: z.string(),
  time: isoTime,
  requestId: z.string(),
  method: z.string(),
  host: z.string(),
  path: z.string(),
  clientIp: z.string(),
  peerIp: z.string(),
  credential: z.string().nullable(),
  allow: z.boolean(),
  status: z.number().int(),
  reason: z.string(),
  stage: z.string(),
  username: z.string().nullable(),
  provider: z.string().nullable(),
  subject: z.string().nullable(),
  tokenId: z.string().nullable(),
  groups: z.string().nullable(),
  trace: z.array(traceEntry),
});

export const auditAnswer = z.object({ from: isoTime, to: isoTime, decisions: z.array(auditRow), next: z.string().nullable() });

export const auditStats = z.object({
  from: isoTime,
  to: isoTime,
  bucketMs: z.number().int(),
  total: z.object({ allow: z.number().int(), deny: z.number().int() }),
  buckets: z.array(z.object({ start: isoTime, allow: z.number().int(), deny: z.number().int() })),
  topDenialReasons: z.array(z.object({ reason: z.string(), count: z.number().int() })),
  topCallers: z.array(z.object({ username: z.string(), count: z.number().int() })),
  topPaths: z.array(z.object({ path: z.string(), count: z.number().int() })),
  truncated: z.boolean(),
});

const checkpointSource = z.union([z.object({ kind: z.literal('stored'), eventPosition: position }), z.object({ kind: z.literal('file'), entry: z.number().int() })]);

export const verification = z.object({
  ok: z.boolean(),
  events: z.number().int().meta({ description: 'Events checked (up to the one where a problem was found)' }),
  head: z.string().optional(),
  checkpoints: z.object({
    stored: z.number().int(),
    file: z.number().int(),
    matched: z.number().int(),
    retired: z.number().int().optional(),
    keyIds: z.array(z.string()),
    anchoredThrough: position.optional(),
  }),
  problem: z
    .union([
      z.object({ kind: z.literal('chain'), position, reason: z.string() }),
      z.object({ kind: z.literal('bad_signature'), source: checkpointSource, reason: z.string() }),
      z.object({
        kind: z.literal('checkpoint_mismatch'),
        source: checkpointSource,
        checkpoint: jsonObject,
        found: z.object({ hash: z.string(), count: z.number().int() }).optional(),
        since: position.optional(),
      }),
    ])
    .optional(),
});

export const simulationResult = z.object({
  from: isoTime,
  to: isoTime,
  decisions: z.number().int(),
  changed: z.number().int(),
  transitions: z.array(z.object({ from: z.string(), to: z.string(), count: z.number().int() })),
  samples: z.array(
    z.object({
      requestId: z.string(),
      time: isoTime,
      username: z.string().optional(),
      path: z.string(),
      old: z.object({ allow: z.boolean(), reason: z.string() }),
      new: z.object({ allow: z.boolean(), status: z.number().int(), reason: z.string(), stage: z.string() }),
      trace: z.array(traceEntry),
    }),
  ),
});

// Decision tests (`portcullis test`): declared cases, each a request, an identity and the expected outcome, run offline through a candidate pipeline (the simulation's runner).
import { z } from 'zod';
import type { AccessRequest, Credential, TraceEntry } from '../access.js';
import type { DecisionRecord } from '../decision-log/record.js';
import { normaliseHost } from '../host.js';
import { canonicalAddress, parseIp } from '../net.js';
import { normalisePath } from '../path.js';
import { candidateRunner, type CompileCandidate } from './simulate.js';

const REASON = /^[a-z][a-z0-9_]{0,63}$/;
const reason = z.string().regex(REASON, 'a reason code in snake_case, like ip_not_allowed');
const name = z.string().min(1).max(200);
const CREDENTIALS = ['bearer', 'basic', 'api_key'] as const;

/** Every case is decided at this time unless it names its own (a Monday, 09:00 UTC). */
export const DEFAULT_CASE_TIME = '2026-01-05T09:00:00Z';

const requestSchema = z
  .object({
    method: z.string().regex(/^[A-Z][A-Z-]{0,19}$/, 'an upper-case HTTP method').default('GET'),
    /** Path and optional query, as the client sends it: normalised like a live request. */
    path: z.string().startsWith('/', 'must start with /').max(8192),
    host: z
      .string()
      .max(255)
      .transform((h, ctx) => {
        const n = normaliseHost(h);
        if (n.ok) return n.host;
        ctx.addIssue({ code: 'custom', message: `not a host name: ${n.error}` });
        return z.NEVER;
      })
      .default('gateway.test'),
    /** The client address after trusted-proxy resolution. */
    clientIp: z
      .string()
      .refine((ip) => parseIp(ip) !== undefined, 'an IPv4 or IPv6 address')
      .transform(canonicalAddress)
      .default('192.0.2.10'),
    /** ISO 8601 with a zone. */
    time: z.iso.datetime({ offset: true }).default(DEFAULT_CASE_TIME),
  })
  .strict();

/**
 * Who calls: `anonymous`; an identity a provider established (`user`, with `groups`, `provider`,
 * `scopes`, `tokenId`); a credential authentication refuses (`refused`: its reason, 401); or a
 * Basic or Bearer credential passed through to the upstream (`passThrough`).
 */
const identitySchema = z.preprocess(
  (v) => (v === 'anonymous' ? { anonymous: true } : v),
  z
    .object(
      {
        anonymous: z.literal(true).optional(),
        user: name.optional(),
        groups: z.array(name).max(1000).optional(),
        provider: name.optional(),
        scopes: z.array(name).max(100).optional(),
        tokenId: name.optional(),
        subject: name.optional(),
        /** The credential's kind (default bearer). */
        credential: z.enum(CREDENTIALS).optional(),
        refused: reason.optional(),
        passThrough: z.literal(true).optional(),
      },
      { error: 'write `anonymous`, or an object with user, refused or passThrough' },
    )
    .strict()
    .superRefine((id, ctx) => {
      const kinds = (['anonymous', 'user', 'refused', 'passThrough'] as const).filter((k) => id[k] !== undefined);
      if (kinds.length !== 1) {
        ctx.addIssue({ code: 'custom', message: 'give exactly one of anonymous, user, refused, passThrough (or write identity: anonymous)' });
        return;
      }
      const kind = kinds[0]!;
      const userOnly = (['groups', 'provider', 'scopes', 'tokenId', 'subject'] as const).filter((k) => id[k] !== undefined);
      if (kind !== 'user') for (const k of userOnly) ctx.addIssue({ code: 'custom', path: [k], message: 'only an identity with user has this' });
      if (kind === 'anonymous' && id.credential !== undefined) ctx.addIssue({ code: 'custom', path: ['credential'], message: 'an anonymous caller sends no credential' });
      if (kind === 'passThrough' && id.credential === 'api_key') ctx.addIssue({ code: 'custom', path: ['credential'], message: 'only basic or bearer credentials pass through' });
    }),
);

const expectSchema = z.preprocess(
  (v) => (v === 'allow' ? { allow: true } : v),
  z
    .object(
      {
        allow: z.literal(true).optional(),
        deny: reason.optional(),
        /** The status too, when it matters (a deny's reason usually fixes it). */
        status: z.number().int().min(100).max(599).optional(),
      },
      { error: 'write `allow`, or `deny: <reason code>`' },
    )
    .strict()
    .refine((e) => (e.allow === undefined) !== (e.deny === undefined), 'write `allow`, or `deny: <reason code>`'),
);

const caseSchema = z
  .object({
    name,
    request: requestSchema,
    identity: identitySchema,
    expect: expectSchema,
  })
  .strict();

/** The cases file: `cases:` with at least one case; names unique so a failure is found by its name. */
export const casesFileSchema = z
  .object({ cases: z.array(caseSchema).min(1).max(10_000) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.cases.forEach((c, i) => {
      if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: ['cases', i, 'name'], message: `another case is named ${JSON.stringify(c.name)}` });
      seen.add(c.name);
    });
  });

export type CasesFile = z.output<typeof casesFileSchema>;
export type DecisionCase = CasesFile['cases'][number];

export interface CaseResult {
  readonly name: string;
  readonly passed: boolean;
  readonly expected: { readonly allow: boolean; readonly reason?: string; readonly status?: number };
  readonly actual: { readonly allow: boolean; readonly status: number; readonly reason: string; readonly stage: string };
  readonly trace: readonly TraceEntry[];
}

export interface DecisionTestReport {
  readonly passed: number;
  readonly failed: number;
  readonly results: readonly CaseResult[];
}

/** A stand-in secret: stages route on the scheme only, and the authenticate stand-in never reads it. */
const credentialOf = (scheme: Credential['scheme']): Credential =>
  scheme === 'basic' ? { scheme, secret: '', username: '' } : { scheme, secret: '' };

/** The request a case stands for, built as the gateway builds a live one: path normalised (or refused), query apart. */
function requestOf(c: DecisionCase, id: string, time: number): AccessRequest {
  const q = c.request.path.indexOf('?');
  const rawPath = q === -1 ? c.request.path : c.request.path.slice(0, q);
  const normalised = normalisePath(rawPath);
  const credential = c.identity.anonymous ? undefined : credentialOf(c.identity.credential ?? 'bearer');
  return {
    id,
    method: c.request.method,
    rawPath,
    path: normalised.ok ? normalised.path : rawPath,
    ...(normalised.ok ? {} : { pathError: normalised.error }),
    query: q === -1 ? '' : c.request.path.slice(q + 1),
    host: c.request.host,
    clientIp: c.request.clientIp,
    peerIp: c.request.clientIp,
    time,
    ...(credential ? { credential } : {}),
  };
}

/** The record the authenticate stand-in reads: the case's identity as a provider would have established it. */
function recordOf(c: DecisionCase, request: AccessRequest): DecisionRecord {
  const id = c.identity;
  const base = { time: request.time, requestId: request.id, method: request.method, host: request.host, path: request.path, clientIp: request.clientIp, peerIp: request.peerIp, trace: [] };
  if (id.anonymous) return { ...base, allow: true, status: 200, reason: 'anonymous', stage: 'pipeline' };
  const credential = id.credential ?? 'bearer';
  if (id.refused !== undefined) return { ...base, credential, allow: false, status: 401, reason: id.refused, stage: 'authenticate' };
  if (id.passThrough) return { ...base, credential, allow: true, status: 200, reason: 'pass_through', stage: 'pipeline' };
  return {
    ...base,
    credential,
    allow: true,
    status: 200,
    reason: 'authenticated',
    stage: 'pipeline',
    identity: {
      subject: id.subject ?? id.user!,
      username: id.user!,
      groups: id.groups ?? [],
      provider: id.provider ?? 'test',
      ...(id.tokenId !== undefined ? { tokenId: id.tokenId } : {}),
    },
  };
}

/**
 * Run every case, in file order, through one candidate pipeline (the simulation's runner: the live
 * stages compiled from the candidate settings, the case's identity standing for authentication).
 * Rate limits count across the cases, in that order, at each case's time.
 */
export async function runDecisionTests(file: CasesFile, compile: CompileCandidate): Promise<DecisionTestReport> {
  const runner = candidateRunner(compile);
  const results: CaseResult[] = [];
  for (const [i, c] of file.cases.entries()) {
    const request = requestOf(c, `case-${i + 1}`, Date.parse(c.request.time));
    const decision = await runner.decide(recordOf(c, request), request, c.identity.scopes ?? []);
    const expected = c.expect.allow ? { allow: true } : { allow: false, reason: c.expect.deny! };
    const withStatus = c.expect.status !== undefined ? { ...expected, status: c.expect.status } : expected;
    const passed =
      decision.allow === expected.allow &&
      (expected.allow || decision.reason === c.expect.deny) &&
      (c.expect.status === undefined || decision.status === c.expect.status);
    results.push({
      name: c.name,
      passed,
      expected: withStatus,
      actual: { allow: decision.allow, status: decision.status, reason: decision.reason, stage: decision.stage },
      trace: decision.trace,
    });
  }
  const failed = results.filter((r) => !r.passed).length;
  return { passed: results.length - failed, failed, results };
}

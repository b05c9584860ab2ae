// Portcullis under test: `portcullis serve` (the built CLI) on a fresh or prepared data dir, configured over its admin API as the bench needs.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

import { listeningEntry, listeningLine } from '../../test/support/listening.js';
import { startNode, type ProcessHandle } from '../../test/support/processes.js';

const CLI = fileURLToPath(new URL('../../server/cli.js', import.meta.url));

/** The gateway's SQLite store file in `dataDir`. */
export const storeFile = (dataDir: string): string => join(dataDir, 'portcullis.db');

export interface Portcullis {
  readonly child: ProcessHandle;
  readonly url: string;
  readonly adminUrl: string;
  readonly adminToken: string;
  readonly dataDir: string;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }>;
  stop(): Promise<void>;
}

export interface PortcullisOptions {
  readonly upstream: string;
  readonly workers?: number;
  /** Extra node flags for the gateway process (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /**
   * An existing data dir whose store ({@link storeFile}) was prepared beforehand (e.g. seeded
   * with tokens); the caller owns it and removes it. Default: a fresh one, removed at stop.
   */
  readonly dataDir?: string;
  /** How long the start may take (replaying a large store takes a while); default 30 s. */
  readonly readyTimeoutMs?: number;
  /** Another build's `dist/server/cli.js` (to compare two builds in one run); default: this build's. */
  readonly cli?: string;
  /** PORTCULLIS_STORE (a postgres:// URL, say); default: the SQLite file in the data dir. */
  readonly store?: string;
}

export async function startPortcullis(options: PortcullisOptions): Promise<Portcullis> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const adminToken = `pca_bench_${randomUUID()}`;
  const child = await startNode(options.cli ?? CLI, ['serve', ...(options.workers ? ['--workers', String(options.workers)] : [])], {
    name: options.workers && options.workers > 1 ? `portcullis (${options.workers} workers)` : 'portcullis',
    nodeArgs: options.nodeArgs ?? [],
    cwd: dataDir,
    env: {
      PORTCULLIS_STORE: options.store ?? `sqlite:${storeFile(dataDir)}`,
      // Port 0: the listening line says which ports the gateway got.
      PORTCULLIS_LISTEN: '127.0.0.1:0',
      PORTCULLIS_ADMIN_LISTEN: '127.0.0.1:0',
      PORTCULLIS_UPSTREAM: options.upstream,
      PORTCULLIS_ADMIN_TOKEN: adminToken,
      // info: the level of the listening line; nothing else is logged per request at it.
      PORTCULLIS_LOG_LEVEL: 'info',
      PORTCULLIS_REDIS: '',
    },
    timeoutMs: options.readyTimeoutMs ?? 30_000,
    readyLine: (line) => listeningLine(line) !== undefined,
    maxLines: 2_000,
  });
  const { gateway: url, admin: adminUrl } = listeningEntry(child.ready)!;
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await request(`${adminUrl}/api/v1${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? (JSON.parse(text) as unknown) : undefined };
  };
  return {
    child,
    url,
    adminUrl,
    adminToken,
    dataDir,
    admin,
    stop: async () => {
      // Shutdown drains requests (up to 10 s) and flushes the audit (up to 5 s).
      await child.stop('SIGTERM', 20_000);
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface FullPathOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  readonly userinfoUri: string;
}

/**
 * The "full path" of the issue: JWT RS256 via cached JWKS (provider `bench-jwt`), opaque tokens
 * via userinfo (`bench-opaque`), an IP allow-list, a group allow-list, a rate limit high enough
 * never to refuse, and the audit event of every decision (on by default).
 */
export async function configureFullPath(gateway: Portcullis, options: FullPathOptions): Promise<void> {
  const must = async (method: string, path: string, body: unknown) => {
    const res = await gateway.admin(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
  };
  await must('PUT', '/providers/bench-jwt', {
    kind: 'oidc',
    config: { issuer: options.issuer, audience: options.audience, jwksUri: options.jwksUri, algorithms: ['RS256'], groupsClaim: 'groups' },
    enabled: true,
    order: 0,
  });
  await must('PUT', '/providers/bench-opaque', {
    kind: 'oauth2',
    config: { userinfoEndpoint: options.userinfoUri, groupsClaim: 'groups' },
    enabled: true,
    order: 1,
  });
  const allow = ['127.0.0.0/8', '::1/128'];
  for (let i = 0; i < 98; i++) allow.push(`10.${i}.0.0/16`);
  await must('PATCH', '/settings', {
    ip: { allow },
    groups: { allowed: ['developers'] },
    rateLimit: { enabled: true, limit: 10_000_000, windowSeconds: 60, key: 'user' },
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await request(`${gateway.adminUrl}/readyz`);
    await res.body.dump();
    if (res.statusCode === 200) return;
    if (Date.now() > deadline) throw new Error('portcullis not ready 15 s after configuration');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Process configuration: portcullis.yaml (or --config) with each key overridable by environment.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:8080 or [::1]:8080')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

export const processConfigSchema = z
  .object({
    store: z.string().min(1).default('sqlite:./data/portcullis.db'),
    listen: hostPort.default('0.0.0.0:8080'),
    adminListen: hostPort.default('127.0.0.1:8081'),
    upstream: z.url({ protocol: /^https?$/ }).optional(),
    adminToken: z.string().min(24, 'must be at least 24 characters').optional(),
    /** Redis shared by the nodes (`redis://host:port`): rate-limit counts live there. Absent: counts per node. */
    redis: z.url({ protocol: /^rediss?$/ }).optional(),
    /** Prefix of every Redis key this node writes; nodes that share limits share it. */
    redisKeyPrefix: z.string().min(1).max(100).default('portcullis:'),
    /** 32 random bytes, base64: seals provider secrets. Default: generated into the data directory. */
    secretKey: z.string().optional(),
    /** Path of the Ed25519 key (PEM) that signs checkpoints. Default: checkpoint.key in the data directory, generated on first start. */
    checkpointKey: z.string().min(1).optional(),
    /** Path of the keys (JSON) that sign identity assertions. Default: assertion-keys.json in the data directory, generated on first start. */
    assertionKeys: z.string().min(1).optional(),
    /** Sign a checkpoint once this many events were appended since the last one... */
    checkpointEveryEvents: z.number().int().min(1).max(100_000_000).default(100_000),
    /** ...or once this many seconds have passed since the last one, if anything was appended. */
    checkpointEverySeconds: z.number().int().min(1).max(86_400).default(60),
    plugins: z.array(z.string().min(1)).default([]),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    /** Upstream answer deadline before the gateway gives up with 504. */
    upstreamTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /** Longest a userinfo/introspection answer is reused (never beyond the token's expiry). */
    identityCacheSeconds: z.number().int().min(0).max(3600).default(60),
    /** How long a refused token's answer is reused. */
    identityFailureCacheSeconds: z.number().int().min(0).max(300).default(5),
    /** Most answers the identity cache holds; past it, tokens are checked at the provider uncached. */
    identityCacheMaxEntries: z.number().int().min(100).max(10_000_000).default(100_000),
    /** Audit events held in memory while the store cannot take them; past it, new ones are dropped and counted. */
    auditMaxBuffered: z.number().int().min(1000).max(10_000_000).default(100_000),
    /** Warn (log, /readyz) once the store takes more than this many bytes on disk; absent: never. */
    storeSizeWarnBytes: z.number().int().min(1_000_000).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

export type ProcessConfig = z.output<typeof processConfigSchema>;

const ENV: Record<string, keyof ProcessConfig> = {
  PORTCULLIS_STORE: 'store',
  PORTCULLIS_LISTEN: 'listen',
  PORTCULLIS_ADMIN_LISTEN: 'adminListen',
  PORTCULLIS_UPSTREAM: 'upstream',
  PORTCULLIS_ADMIN_TOKEN: 'adminToken',
  PORTCULLIS_REDIS: 'redis',
  PORTCULLIS_SECRET_KEY: 'secretKey',
  PORTCULLIS_CHECKPOINT_KEY: 'checkpointKey',
  PORTCULLIS_ASSERTION_KEYS: 'assertionKeys',
  PORTCULLIS_LOG_LEVEL: 'logLevel',
};

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** Read the file (if any), apply environment overrides, validate. Errors name the key, never its value. */
export function loadProcessConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): ProcessConfig {
  const path = resolve(cwd, file ?? 'portcullis.yaml');
  let raw: unknown = {};
  if (existsSync(path)) {
    try {
      raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
    } catch (err) {
      throw new ConfigFileError(`${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigFileError(`${path}: must be a YAML mapping`);
  } else if (file) {
    throw new ConfigFileError(`${path}: no such file`);
  }
  const merged: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [name, key] of Object.entries(ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const parsed = processConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigFileError(`invalid process configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** Split `host:port` (IPv6 in brackets) for net.Server.listen. */
export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  return { host: value.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(value.slice(i + 1)) };
}

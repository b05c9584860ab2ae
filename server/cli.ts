#!/usr/bin/env node
// The `portcullis` command: serve, verify, apply, export, tokens.
import { parseArgs } from 'node:util';
import { verifyChain } from '../core/store/hash.js';
import { openEventStore } from '../core/store/open.js';
import { SecretKeyError } from '../core/secrets.js';
import { ConfigFileError, loadProcessConfig } from './config.js';
import { runApply, runExport, SECRET_EXPORT_MODES } from './cli/config-as-code.js';
import type { SecretExport } from './cli/config-file.js';
import { createLogger } from './logger.js';
import { serveCluster } from './cluster/primary.js';
import { serve, type RunningGateway } from './serve.js';
import { parseTokensArgs, runTokens, TOKENS_USAGE } from './cli/tokens.js';
import { UsageError } from './cli/usage-error.js';

const USAGE = `usage: portcullis <command> [--config portcullis.yaml]

commands:
  serve                 run the gateway and admin listeners
      --workers <n>       run the gateway listener in n processes (node:cluster; default 1)
  verify                check the event store's hash chain from the first event to the last
  apply <file.yaml>     bring settings and providers to what the file says (appends only the changes)
      --dry-run           print the changes, append nothing
  export                write the current settings and providers in the format apply reads
      --output <file>     write to a file instead of stdout
      --secrets mask|env  secret fields as ******** (default) or as \${ENV_VAR} references
${TOKENS_USAGE}`;

/** `--workers`: a whole number from 1 to 64. */
function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) throw new TypeError('--workers must be a whole number from 1 to 64');
  return n;
}

async function runServe(configFile: string | undefined, workers: number): Promise<void> {
  const config = loadProcessConfig(configFile);
  const logger = createLogger(config.logLevel);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));
  let running: RunningGateway | undefined;
  const onFatal = () => {
    void (running?.close() ?? Promise.resolve()).finally(() => process.exit(1));
  };
  const gateway = workers > 1 ? await serveCluster(config, logger, { workers, onFatal }) : await serve(config, logger);
  running = gateway;
  const stop = (signal: string) => {
    logger.info({ signal }, 'signal received');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

async function runVerify(configFile: string | undefined): Promise<number> {
  const config = loadProcessConfig(configFile);
  // Read-only: verifying must never create or change a store (a wrong directory is an error, not "0 events").
  const store = await openEventStore(config.store, { readonly: true });
  try {
    let last = 0;
    const result = await verifyChain(store, {
      onProgress: (checked) => {
        if (checked - last >= 10_000) {
          last = checked;
          process.stderr.write(`verified ${checked} events...\n`);
        }
      },
    });
    if (result.ok) {
      process.stdout.write(`hash chain intact: ${result.count} events checked\n`);
      return 0;
    }
    process.stdout.write(`hash chain BROKEN at position ${result.position} (event ${result.count}; the ${result.count - 1} before it check out): ${result.reason}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

/** The command word (the first positional argument), found before the options are known: `tokens` has its own. */
function commandOf(argv: readonly string[]): string | undefined {
  return parseArgs({ args: [...argv], allowPositionals: true, strict: false, options: { config: { type: 'string', short: 'c' } } }).positionals[0];
}

async function runTokensCommand(argv: readonly string[]): Promise<number> {
  const { config, command } = await parseTokensArgs(argv);
  if (!command) {
    process.stdout.write(
      `usage: portcullis tokens create|list|revoke [options] [--config portcullis.yaml]\n\n${TOKENS_USAGE}\n` +
        'exit status: 0 done; 1 refused (unknown id, token policy) or failed, the reason on stderr; 2 a command line it cannot act on\n',
    );
    return 0;
  }
  return runTokens(loadProcessConfig(config), command);
}

async function main(argv: string[]): Promise<number> {
  if (commandOf(argv) === 'tokens') return runTokensCommand(argv);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      'dry-run': { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      secrets: { type: 'string' },
      workers: { type: 'string', short: 'w' },
    },
  });
  const [command, ...rest] = positionals;
  const misplaced = (
    [
      ['dry-run', 'apply'],
      ['output', 'export'],
      ['secrets', 'export'],
      ['workers', 'serve'],
    ] as const
  ).find(([option, only]) => values[option] !== undefined && command !== only);
  if (misplaced) throw new TypeError(`--${misplaced[0]} is an option of \`${misplaced[1]}\` only`);
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'serve':
      await runServe(values.config, parseWorkers(values.workers));
      return -1; // keeps running
    case 'verify':
      return runVerify(values.config);
    case 'apply': {
      if (rest.length !== 1) throw new TypeError('usage: portcullis apply <file.yaml> [--dry-run]');
      return runApply(loadProcessConfig(values.config), rest[0]!, { dryRun: values['dry-run'] === true });
    }
    case 'export': {
      const secrets = values.secrets ?? 'mask';
      if (!SECRET_EXPORT_MODES.includes(secrets as SecretExport)) throw new TypeError(`--secrets must be one of: ${SECRET_EXPORT_MODES.join(', ')}`);
      return runExport(loadProcessConfig(values.config), { secrets: secrets as SecretExport, ...(values.output ? { output: values.output } : {}) });
    }
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

/** Errors an operator fixes (a port in use, an unreadable store), shown as one line without a stack. */
const OPERATOR_ERRORS = new Set(['store_unavailable', 'plugin_load_failed', 'EADDRINUSE', 'EADDRNOTAVAIL', 'EACCES', 'ENOTFOUND', 'EEXIST']);

/**
 * process.exit() drops what a pipe has not taken yet (`portcullis tokens list | less` would end
 * after a few hundred lines): exit once stdout and stderr have flushed what was written to them.
 */
function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exitWhenFlushed(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      process.exit(2);
    }
    // Operator-facing errors are one line; anything else is a bug worth its stack.
    const code = (err as { code?: unknown }).code;
    const known =
      err instanceof ConfigFileError ||
      err instanceof TypeError ||
      err instanceof SecretKeyError ||
      (typeof code === 'string' && OPERATOR_ERRORS.has(code));
    process.stderr.write(known ? `portcullis: ${(err as Error).message}\n` : `portcullis: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

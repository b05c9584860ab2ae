// `portcullis serve`: run the listeners until a signal, in one process or with --workers in several.
import { serveCluster } from '../cluster/primary.js';
import type { CommandSpec } from './command-line.js';
import { loadProcessConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { serve, type RunningGateway } from '../serve.js';
import { UsageError } from './usage-error.js';

/** `--workers`: a whole number from 1 to 64. */
export function parseWorkers(value: string | undefined): number {
  if (value === undefined) return 1;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 64) throw new UsageError(`serve: --workers ${JSON.stringify(value)}: must be a whole number from 1 to 64`);
  return n;
}

async function runServe(configFile: string | undefined, workers: number): Promise<'running'> {
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
  return 'running';
}

export const SERVE_COMMAND: CommandSpec = {
  words: ['serve'],
  summary: 'run the gateway and admin listeners (until SIGTERM or Ctrl-C)',
  options: {
    workers: { type: 'string', short: 'w', value: '<n>', help: 'run the gateway listener in n processes (node:cluster; 1 to 64, default 1)' },
  },
  details:
    'The listeners bind first; on a first start the admin token is then created and printed once, on stderr.\n' +
    'Process configuration: portcullis.yaml or --config, each key overridable by PORTCULLIS_* variables (docs/configuration.md).',
  run: ({ values, config }) => runServe(config, parseWorkers(values.workers as string | undefined)),
};

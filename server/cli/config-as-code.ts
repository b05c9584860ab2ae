// `portcullis apply <file>` and `portcullis export`: configuration as code against the store the process configuration names.
import { readFileSync, writeFileSync } from 'node:fs';
import { pino } from 'pino';
import { systemClock } from '../../core/clock.js';
import { CONFIG_STREAM_PREFIXES } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import { Runtime } from '../runtime/runtime.js';
import { evolve, initialConfigState, type ConfigState } from '../../core/settings/config-state.js';
import { openEventStore } from '../../core/store/open.js';
import type { EventStore, Position } from '../../core/store/port.js';
import { builtinPlugins, loadPluginPackages, PluginRegistry } from '../../providers/registry.js';
import { executePlan, formatPlan, planApply, planSize } from './apply.js';
import { ConfigAsCodeError, parseConfigFile, renderConfigFile, type SecretExport } from './config-file.js';
import type { ProcessConfig } from '../config.js';
import { loadSecretBox } from '../secret-key.js';

/** The actor recorded in the metadata of every event `apply` appends. */
export const APPLY_ACTOR = 'cli:apply';

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Problems one per line, each with its path in the file; never a stack, never a value. */
export function reportProblems(error: ConfigAsCodeError, source: string, output: Output): void {
  output.err(`portcullis: ${source}: ${error.message}\n`);
  for (const p of error.problems) output.err(`  ${p.path || '(file)'}: ${p.message}\n`);
}

/** stdout carries the diff or the YAML: the few log lines a one-shot command writes go to stderr. */
export const stderrLogger = (level: string): Logger =>
  pino({ level, base: { service: 'portcullis' } }, pino.destination(2)) as unknown as Logger;

/** apply never authenticates anyone: the pipeline it compiles must not reach out to identity providers. */
const noProviderCalls: typeof globalThis.fetch = () => Promise.reject(new TypeError('portcullis apply does not call identity providers'));

/**
 * Bring settings and providers to what `file` says: print the diff, then append only the changes
 * (nothing with `dryRun`). Returns the exit code.
 */
export async function runApply(config: ProcessConfig, file: string, options: { dryRun: boolean }, output: Output = processOutput): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    output.err(`portcullis: ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})\n`);
    return 1;
  }
  // The runtime's own log (provider warm-up, compilation) is noise for a one-shot command: what
  // apply has to say comes back as errors, and is printed below.
  const logger = stderrLogger(config.logLevel === 'debug' ? 'debug' : 'fatal');
  try {
    const desired = await parseConfigFile(text, process.env);
    const plugins = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(config.plugins))]);
    const store = await openEventStore(config.store);
    try {
      const secrets = loadSecretBox(config.secretKey, config.store, logger);
      // The same runtime `serve` builds, so commands validate and record exactly as the admin API does.
      const runtime = await Runtime.start({ store, plugins, fetch: noProviderCalls, clock: systemClock, logger, secrets });
      try {
        const plan = await planApply(desired, runtime, secrets);
        output.out(formatPlan(plan));
        const size = planSize(plan);
        if (size === 0) return 0;
        if (options.dryRun) {
          output.out(`dry run: ${size} change${size === 1 ? '' : 's'} not applied\n`);
          return 0;
        }
        const { applied, settingsRevision } = await executePlan(plan, runtime, { actor: APPLY_ACTOR });
        output.out(`${applied} change${applied === 1 ? '' : 's'} applied, settings at revision ${settingsRevision}\n`);
        return 0;
      } finally {
        await runtime.close();
      }
    } finally {
      await store.close();
    }
  } catch (err) {
    if (err instanceof ConfigAsCodeError) {
      reportProblems(err, file, output);
      return 1;
    }
    throw err;
  }
}

/** Write the current state in the file format `apply` reads (stdout unless `output` names a file). */
export async function runExport(
  config: ProcessConfig,
  options: { output?: string; secrets: SecretExport },
  output: Output = processOutput,
): Promise<number> {
  const plugins = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(config.plugins))]);
  // Read-only: exporting never creates a store or writes a checkpoint.
  const store = await openEventStore(config.store, { readonly: true });
  try {
    const yaml = renderConfigFile(await readConfigState(store), plugins, options.secrets);
    if (options.output) writeFileSync(options.output, yaml, { mode: 0o600 });
    else output.out(yaml);
    return 0;
  } finally {
    await store.close();
  }
}

/** The configuration state folded from the config streams, from the first event (the fold `serve` uses). */
export async function readConfigState(store: EventStore): Promise<ConfigState> {
  let state = initialConfigState;
  let after: Position | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), streamPrefixes: CONFIG_STREAM_PREFIXES, maxCount: 1000 });
    for (const event of page) state = evolve(state, event);
    after = page.at(-1)?.position ?? after;
    if (page.length < 1000) return state;
  }
}

export const SECRET_EXPORT_MODES: readonly SecretExport[] = ['mask', 'env'];

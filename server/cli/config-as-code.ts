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
import type { CommandSpec } from './command-line.js';
import { processOutput, type Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { loadSecretBox } from '../secret-key.js';
import { FileAccessError } from '../system-error.js';
import { checkDecisions, readCasesFile } from './decision-cases.js';
import type { CasesFile } from '../../core/simulation/decision-tests.js';
import { settingsSchema } from '../../core/settings/schema.js';

/** The actor recorded in the metadata of every event `apply` appends. */
export const APPLY_ACTOR = 'cli:apply';


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
export async function runApply(config: ProcessConfig, file: string, options: { dryRun: boolean; test?: string }, output: Output = processOutput): Promise<number> {
  // The cases are read and checked first: a bad cases file stops apply before the store is opened.
  let cases: CasesFile | undefined;
  if (options.test !== undefined) {
    try {
      cases = await readCasesFile(options.test);
    } catch (err) {
      if (err instanceof ConfigAsCodeError) {
        reportProblems(err, options.test, output);
        return 1;
      }
      throw err;
    }
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    output.err(`portcullis: ${new FileAccessError('read', file, err).message}\n`);
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
        if (cases) {
          // The settings the file would leave in place (planApply has validated them): the live ones when it has none.
          const candidate = desired.settings ? settingsSchema.parse(desired.settings) : runtime.projection.state.settings;
          output.out(`decision tests (${options.test}):\n`);
          if (!(await checkDecisions(cases, candidate, false, output))) {
            output.err(`portcullis: ${file}: not applied: decision tests in ${options.test} fail\n`);
            return 1;
          }
        }
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
    if (options.output) writeOutput(options.output, yaml);
    else output.out(yaml);
    return 0;
  } finally {
    await store.close();
  }
}

function writeOutput(file: string, text: string): void {
  try {
    writeFileSync(file, text, { mode: 0o600 });
  } catch (err) {
    throw new FileAccessError('write', file, err);
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

export const APPLY_COMMAND: CommandSpec = {
  words: ['apply'],
  args: ['<file.yaml>'],
  summary: 'bring settings and providers to what the file says (appends only the changes)',
  options: {
    'dry-run': { type: 'boolean', help: 'print the changes, append nothing' },
    test: { type: 'string', value: '<cases.yaml>', help: 'run these decision cases against the settings the file would apply; apply nothing if one fails' },
  },
  details: 'Prints the changes on stdout; an invalid file is reported one problem a line on stderr (exit 1). docs/config-as-code.md',
  run: ({ values, positionals, config, output }) => {
    const test = values.test as string | undefined;
    return runApply(loadProcessConfig(config), positionals[0]!, { dryRun: values['dry-run'] === true, ...(test !== undefined ? { test } : {}) }, output);
  },
};

export const EXPORT_COMMAND: CommandSpec = {
  words: ['export'],
  summary: 'write the current settings and providers in the format apply reads',
  options: {
    output: { type: 'string', short: 'o', value: '<file>', help: 'write to this file (created with mode 0600) instead of stdout' },
    secrets: { type: 'string', choices: SECRET_EXPORT_MODES, help: 'secret fields as ******** (mask, the default) or as ${ENV_VAR} references (env)' },
  },
  details: 'Opens the store read-only. docs/config-as-code.md',
  run: ({ values, config, output }) => {
    const file = values.output as string | undefined;
    const secrets = (values.secrets as SecretExport | undefined) ?? 'mask';
    return runExport(loadProcessConfig(config), { secrets, ...(file !== undefined ? { output: file } : {}) }, output);
  },
};

// `portcullis replay [--as-of <time|position>]`: settings, providers and tokens as they were, replayed read-only from the store.
import { AsOfError, parseAsOf, type AsOf } from '../../core/as-of.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { replayState } from '../../core/replay.js';
import { openEventStore } from '../../core/store/open.js';
import { builtinPlugins, loadPluginPackages, PluginRegistry } from '../../providers/registry.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { replayAnswer } from '../state-answer.js';
import { formatState } from './state-text.js';
import { UsageError } from './usage-error.js';

export interface ReplayCommand {
  /** As given; absent: the whole history. */
  readonly asOf?: string;
  readonly json: boolean;
}

/** 0, or 1 when the store has no such point (before its first event, past its head); the reason on one line of stderr. */
export async function runReplay(config: ProcessConfig, command: ReplayCommand, output: Output, clock: Clock = systemClock): Promise<number> {
  let asOf: AsOf | undefined;
  try {
    asOf = command.asOf === undefined ? undefined : parseAsOf(command.asOf);
  } catch (err) {
    if (err instanceof AsOfError) throw new UsageError(`replay: --as-of: ${err.message.replace(/^asOf: /, '')}`);
    throw err;
  }
  const plugins = new PluginRegistry([...builtinPlugins, ...(await loadPluginPackages(config.plugins))]);
  const secretFieldsOf = (kind: string): readonly string[] => plugins.get(kind)?.secretFields ?? [];
  // Read-only: a replay never creates a store or writes a checkpoint.
  const store = await openEventStore(config.store, { readonly: true });
  try {
    const answer = replayAnswer(await replayState(store, asOf, clock.now()), command.asOf, secretFieldsOf);
    output.out(command.json ? `${JSON.stringify(answer, null, 2)}\n` : formatState(answer));
    return 0;
  } catch (err) {
    if (err instanceof AsOfError) {
      output.err(`portcullis: replay: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

export const REPLAY_COMMAND: CommandSpec = {
  words: ['replay'],
  summary: 'show settings, providers and tokens as they were at a time or store position (secrets masked)',
  options: {
    'as-of': { type: 'string', value: '<time|position>', help: 'an ISO 8601 time with a zone (2024-05-01T10:00:00Z) or a store position; default: the last event' },
    json: { type: 'boolean', help: 'print JSON, in the shape of GET /api/v1/state' },
  },
  details:
    'Opens the store read-only and folds every configuration and token event up to that point.\n' +
    'Exit 1: the point is before the first event or past the last one (or in the future). docs/replay-and-simulation.md',
  run: ({ values, config, output }) => {
    const asOf = values['as-of'] as string | undefined;
    return runReplay(loadProcessConfig(config), { json: values.json === true, ...(asOf !== undefined ? { asOf } : {}) }, output);
  },
};

// `portcullis simulate --settings <file> --from <t1> --to <t2>`: the recorded decisions of a range re-run through candidate settings, read-only.
import { readFile } from 'node:fs/promises';
import type { SimulationResult } from '../../core/simulation/simulate.js';
import { openEventStore } from '../../core/store/open.js';
import type { CommandSpec } from './command-line.js';
import { ConfigAsCodeError } from './config-file.js';
import { reportProblems } from './config-as-code.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { simulateRange } from '../runtime/simulate.js';
import { FileAccessError } from '../system-error.js';
import { parseSimulationTime } from '../../core/simulation/range.js';
import { UsageError } from './usage-error.js';
import { parseCandidate } from './simulate-candidate.js';
import type { Settings } from '../../core/settings/schema.js';

export interface SimulateCommand {
  readonly settings: string;
  readonly from: string;
  readonly to: string;
  readonly json: boolean;
  /** Draw a progress line on stderr (a terminal). */
  readonly progress: boolean;
}

function time(option: string, text: string): number {
  const ms = parseSimulationTime(text);
  if (ms === undefined) throw new UsageError(`simulate: --${option}: expected an ISO 8601 time with a zone, like 2026-12-01T00:00:00Z`);
  return ms;
}

/** 0 once simulated (changed or not); 1 when the candidate file cannot be read or is not valid settings. */
export async function runSimulate(config: ProcessConfig, command: SimulateCommand, output: Output): Promise<number> {
  const from = time('from', command.from);
  const to = time('to', command.to);
  if (from >= to) throw new UsageError('simulate: --from must be before --to');
  let text: string;
  try {
    text = await readFile(command.settings, 'utf8');
  } catch (err) {
    throw new FileAccessError('read', command.settings, err);
  }
  let settings: Settings;
  try {
    settings = await parseCandidate(text, process.env);
  } catch (err) {
    if (err instanceof ConfigAsCodeError) {
      reportProblems(err, command.settings, output);
      return 1;
    }
    throw err;
  }
  const store = await openEventStore(config.store, { readonly: true });
  try {
    const result = await simulateRange(store, settings, { from, to }, command.progress ? { onProgress: (n) => output.err(`\rsimulating… ${n} decisions`) } : {});
    if (command.progress) output.err(`\rsimulated ${result.decisions} decisions\n`);
    output.out(command.json ? `${JSON.stringify({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...result }, null, 2)}\n` : formatResult(result));
    return 0;
  } finally {
    await store.close();
  }
}

function formatResult(result: SimulationResult): string {
  const lines = [`${result.decisions} decisions simulated, ${result.changed} changed`];
  for (const t of result.transitions) lines.push(`  ${t.from} → ${t.to}: ${t.count}`);
  if (result.samples.length) lines.push('', 'changed decisions (first ones):');
  for (const s of result.samples) {
    lines.push(`  ${s.time} ${s.requestId} ${s.username ?? '-'} ${s.path}: ${s.old.allow ? 'allow' : 'deny'}/${s.old.reason} → ${s.new.allow ? 'allow' : 'deny'}/${s.new.reason}`);
    lines.push(`    trace: ${s.trace.map((t) => `${t.stage} ${t.outcome}`).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export const SIMULATE_COMMAND: CommandSpec = {
  words: ['simulate'],
  summary: 're-run the recorded decisions of a time range through candidate settings, read-only',
  options: {
    settings: { type: 'string', value: '<file>', help: 'the candidate: a file `apply` reads (its settings section) or a bare settings document (YAML or JSON)' },
    from: { type: 'string', value: '<time>', help: 'ISO 8601 time with a zone, inclusive' },
    to: { type: 'string', value: '<time>', help: 'ISO 8601 time with a zone, exclusive' },
    json: { type: 'boolean', help: 'print JSON, in the shape of POST /api/v1/simulate' },
  },
  details:
    'Opens the store read-only; time, rate limits and identities come from the records.\n' +
    'Exit 1: the candidate cannot be read or is not valid settings. docs/replay-and-simulation.md',
  run: ({ values, config, output }) => {
    const need = (name: string): string => {
      const v = values[name];
      if (typeof v !== 'string') throw new UsageError(`simulate: --${name} is required`);
      return v;
    };
    return runSimulate(
      loadProcessConfig(config),
      { settings: need('settings'), from: need('from'), to: need('to'), json: values.json === true, progress: values.json !== true && process.stderr.isTTY === true },
      output,
    );
  },
};

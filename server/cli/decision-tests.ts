// `portcullis test <cases.yaml> [--settings <file>]`: declared decision cases run offline through the pipeline compiled from candidate (or live) settings.
import type { Settings } from '../../core/settings/schema.js';
import { openEventStore } from '../../core/store/open.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import type { CommandSpec } from './command-line.js';
import { ConfigAsCodeError } from './config-file.js';
import { readConfigState, reportProblems } from './config-as-code.js';
import { checkDecisions, readCasesFile, readText } from './decision-cases.js';
import type { Output } from './output.js';
import { parseCandidate } from './simulate-candidate.js';
import { UsageError } from './usage-error.js';

/** 0 when every case passes, 1 when one fails or a file is not valid. Opens the store (read-only) only without --settings. */
export async function runDecisionTestCommand(config: () => ProcessConfig, command: { cases: string; settings?: string; json: boolean }, output: Output): Promise<number> {
  let source = command.cases;
  try {
    const cases = await readCasesFile(command.cases);
    let settings: Settings;
    if (command.settings !== undefined) {
      source = command.settings;
      settings = await parseCandidate(await readText(command.settings), process.env);
    } else {
      const store = await openEventStore(config().store, { readonly: true });
      try {
        settings = (await readConfigState(store)).settings;
      } finally {
        await store.close();
      }
    }
    return (await checkDecisions(cases, settings, command.json, output)) ? 0 : 1;
  } catch (err) {
    if (err instanceof ConfigAsCodeError) {
      reportProblems(err, source, output);
      return 1;
    }
    throw err;
  }
}

export const TEST_COMMAND: CommandSpec = {
  words: ['test'],
  args: ['<cases.yaml>'],
  summary: 'run declared decision cases offline through candidate (or live) settings',
  options: {
    settings: { type: 'string', value: '<file>', help: 'the candidate: a file `apply` reads or a bare settings document; default: the live settings from the store' },
    json: { type: 'boolean', help: 'print the results as JSON' },
  },
  details:
    'With --settings no store and no network are touched. Exit 1 when a case fails or a file is not valid (each problem by its path). docs/config-as-code.md#decision-tests',
  run: ({ values, positionals, config, output }) => {
    const settings = values.settings;
    if (settings !== undefined && typeof settings !== 'string') throw new UsageError('test: --settings takes a file');
    return runDecisionTestCommand(() => loadProcessConfig(config), { cases: positionals[0]!, json: values.json === true, ...(settings !== undefined ? { settings } : {}) }, output);
  },
};

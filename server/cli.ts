#!/usr/bin/env node
// The `portcullis` executable: run the command line, then exit with its status (`serve` keeps running).
import { PORTCULLIS } from './cli/commands.js';
import { runCommandLine } from './cli/command-line.js';
import { processOutput } from './cli/output.js';

/**
 * process.exit() drops what a pipe has not taken yet (`portcullis tokens list | less` would end
 * after a few hundred lines): exit once stdout and stderr have flushed what was written to them.
 */
function exitWhenFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const debug = process.env.PORTCULLIS_LOG_LEVEL === 'debug';
void runCommandLine(PORTCULLIS, process.argv.slice(2), processOutput, debug).then((status) => {
  if (status !== 'running') exitWhenFlushed(status);
});

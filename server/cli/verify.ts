// `portcullis verify`: check the event history, read-only: the hash chain from the first event to the last, and the signed checkpoints, stored and exported.
import { readFileSync } from 'node:fs';

import type { SignedCheckpoint } from '../../core/checkpoints/checkpoint.js';
import { verifyHistory, type CheckpointSource, type HistoryProblem, type HistoryVerification } from '../../core/checkpoints/verify-history.js';
import { retentionBridge } from '../../core/retention/bridge.js';
import { openEventStore } from '../../core/store/open.js';
import { CheckpointFileError, parseCheckpointFile } from './checkpoint-file.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { describeSystemError } from '../system-error.js';
import { UsageError } from './usage-error.js';

export interface VerifyOptions {
  /** A file of exported checkpoints (`portcullis checkpoints export`), kept outside the store. */
  readonly checkpoints?: string;
  readonly json?: boolean;
}

/** The exported checkpoints in `file`. A file that cannot be read or holds something else is a usage error (exit 2). */
function readExported(file: string): SignedCheckpoint[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`verify: --checkpoints ${file}: cannot read it: ${describeSystemError(err)}`);
  }
  try {
    return parseCheckpointFile(text);
  } catch (err) {
    if (err instanceof CheckpointFileError) throw new UsageError(`verify: --checkpoints ${file}: ${err.message}`);
    throw err;
  }
}

/** 0 when the history is intact, 1 when it is not (what and where, on stdout); progress on stderr. */
export async function runVerify(config: ProcessConfig, output: Output, options: VerifyOptions = {}): Promise<number> {
  const exported = options.checkpoints === undefined ? undefined : readExported(options.checkpoints);
  // Read-only: verifying must never create or change a store (a wrong directory is an error, not "0 events").
  const store = await openEventStore(config.store, { readonly: true });
  let result: HistoryVerification;
  try {
    let last = 0;
    result = await verifyHistory(store, {
      ...(exported ? { exported } : {}),
      // Holes retention left (each named by a RetentionApplied event) pass; any other is a break.
      acceptGap: await retentionBridge(store),
      onProgress: (checked) => {
        if (checked - last >= 10_000) {
          last = checked;
          output.err(`verified ${checked} events...\n`);
        }
      },
    });
  } finally {
    await store.close();
  }
  output.out(options.json ? `${JSON.stringify(result, null, 2)}\n` : describe(result, options.checkpoints));
  return result.ok ? 0 : 1;
}

function describe(result: HistoryVerification, file: string | undefined): string {
  const { problem, checkpoints } = result;
  if (problem) return `${describeProblem(problem, result.events, file)}\n`;
  const lines = [`hash chain intact: ${result.events} events checked`];
  const keys = checkpoints.keyIds.length === 0 ? '' : ` (key${checkpoints.keyIds.length === 1 ? '' : 's'} ${checkpoints.keyIds.join(', ')})`;
  const through = checkpoints.anchoredThrough === undefined ? '' : `, the last at position ${checkpoints.anchoredThrough}`;
  lines.push(
    checkpoints.stored === 0
      ? 'signed checkpoints: none in the store yet (a rewrite of the whole chain would go unnoticed here; see docs/audit.md#tamper-evidence)'
      : `signed checkpoints: ${checkpoints.stored} in the store${keys}, signatures valid, all match${through}`,
  );
  if (checkpoints.retired !== undefined) lines.push(`${checkpoints.retired} checkpoint(s) name events retention dropped: their counts still hold, their events are gone`);
  if (file !== undefined) lines.push(`exported checkpoints: ${checkpoints.file} in ${file}, all match the store`);
  return `${lines.join('\n')}\n`;
}

function describeSource(source: CheckpointSource, file: string | undefined): string {
  return source.kind === 'stored' ? `the stored checkpoint at position ${source.eventPosition}` : `the exported checkpoint ${source.entry} of ${file ?? 'the file'}`;
}

function describeProblem(problem: HistoryProblem, events: number, file: string | undefined): string {
  switch (problem.kind) {
    case 'chain':
      return `hash chain BROKEN at position ${problem.position} (event ${events}; the ${events - 1} before it check out): ${problem.reason}`;
    case 'bad_signature':
      return problem.source.kind === 'stored'
        ? `checkpoint BROKEN at position ${problem.source.eventPosition}: ${problem.reason}`
        : `${describeSource(problem.source, file)} does not verify (${problem.reason}): that file cannot vouch for the store`;
    case 'checkpoint_mismatch': {
      const { checkpoint: c, found, since } = problem;
      const what = found
        ? found.hash !== c.hash
          ? `the event there has hash ${found.hash}, the checkpoint says ${c.hash}`
          : `the event there is event ${found.count} of the chain, the checkpoint says ${c.count}`
        : 'the store holds no event there any more';
      const where = since === undefined ? `at or before position ${c.position}` : `after position ${since} and at or before ${c.position}`;
      return `history does NOT MATCH ${describeSource(problem.source, file)}, which anchors position ${c.position} (signed ${c.time} by key ${c.keyId}): ${what}; the history was changed ${where}`;
    }
  }
}

export const VERIFY_COMMAND: CommandSpec = {
  words: ['verify'],
  summary: 'check the event history: the hash chain from first event to last, and the signed checkpoints',
  options: {
    checkpoints: { type: 'string', value: '<file>', help: 'also check the store against these exported checkpoints (portcullis checkpoints export)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  details:
    'Opens the store read-only and leaves no file behind; a store that does not exist is an error (exit 1).\n' +
    'Checks every link and hash, the signature of every stored checkpoint (with the public key it carries), and that\n' +
    'the store still holds, at the same place in the chain, the event each checkpoint names (stored ones, and with\n' +
    '--checkpoints those of the file). Prints `hash chain intact: N events checked` and a line on the checkpoints (exit 0),\n' +
    'or the first bad position, or the checkpoint the history no longer matches (exit 1). Progress on stderr.\n' +
    'Exit 2 also when the --checkpoints file cannot be read or holds something else. docs/audit.md#tamper-evidence',
  run: ({ values, config, output }) => {
    const file = values.checkpoints as string | undefined;
    return runVerify(loadProcessConfig(config), output, { json: values.json === true, ...(file !== undefined ? { checkpoints: file } : {}) });
  },
};

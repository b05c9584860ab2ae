// `portcullis checkpoints export`: the signed checkpoints, to keep where whoever can write the store cannot reach.
import { closeSync, openSync, writeSync } from 'node:fs';

import { readCheckpoints } from '../../core/checkpoints/stored.js';
import { openEventStore } from '../../core/store/open.js';
import { checkpointLines } from './checkpoint-file.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import { FileAccessError } from '../system-error.js';

const PAGE = 1000;

/**
 * Write every stored checkpoint, oldest first: one a line, or with `json` the admin API's
 * document. Page by page, so a long history never sits in memory at once.
 */
export async function runCheckpointsExport(config: ProcessConfig, options: { output?: string; json: boolean }, output: Output): Promise<number> {
  // Read-only: exporting never creates a store.
  const store = await openEventStore(config.store, { readonly: true });
  let sink: Sink | undefined;
  let count = 0;
  let last: string | undefined;
  try {
    sink = options.output === undefined ? { write: (text) => output.out(text), close: () => {} } : fileSink(options.output);
    if (options.json) sink.write('{"checkpoints":[');
    for (let from: number | undefined = 0; from !== undefined; ) {
      const page = await readCheckpoints(store, from, PAGE);
      if (options.json) {
        sink.write(page.checkpoints.map((c, i) => `${count + i === 0 ? '' : ','}\n${JSON.stringify(c)}`).join(''));
      } else {
        sink.write(checkpointLines(page.checkpoints));
      }
      count += page.checkpoints.length;
      last = page.checkpoints.at(-1)?.position ?? last;
      from = page.next;
    }
    if (options.json) sink.write('\n]}\n');
  } finally {
    sink?.close();
    await store.close();
  }
  if (options.output !== undefined) {
    output.err(count === 0 ? `no checkpoints in the store yet; wrote an empty ${options.output}\n` : `exported ${count} checkpoint${count === 1 ? '' : 's'}, the last at position ${last}, to ${options.output}\n`);
  }
  return 0;
}

/** A file written as the pages come (mode 0600, like every file the CLI writes). */
interface Sink {
  write(text: string): void;
  close(): void;
}

function fileSink(file: string): Sink {
  let fd: number;
  try {
    fd = openSync(file, 'w', 0o600);
  } catch (err) {
    throw new FileAccessError('write', file, err);
  }
  return {
    write: (text) => {
      try {
        writeSync(fd, text);
      } catch (err) {
        throw new FileAccessError('write', file, err);
      }
    },
    close: () => closeSync(fd),
  };
}

export const CHECKPOINTS_COMMANDS: readonly CommandSpec[] = [
  {
    words: ['checkpoints', 'export'],
    summary: 'write the signed checkpoints, to keep where the store\'s writers cannot reach',
    options: {
      output: { type: 'string', short: 'o', value: '<file>', help: 'write to this file (created with mode 0600) instead of stdout' },
      json: { type: 'boolean', help: 'one JSON document {"checkpoints": [...]}, the shape of GET /api/v1/checkpoints' },
    },
    details:
      'Oldest first, one signed checkpoint a line (NDJSON) unless --json. `portcullis verify --checkpoints <file>` reads either form.\n' +
      'Opens the store read-only. docs/audit.md#tamper-evidence',
    run: ({ values, config, output }) => {
      const file = values.output as string | undefined;
      return runCheckpointsExport(loadProcessConfig(config), { json: values.json === true, ...(file !== undefined ? { output: file } : {}) }, output);
    },
  },
];

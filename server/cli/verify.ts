// `portcullis verify`: check the event store's hash chain, read-only, from the first event to the last.
import { verifyChain } from '../../core/store/hash.js';
import { openEventStore } from '../../core/store/open.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';

/** 0 when the chain is intact, 1 when it is broken (where, on stdout). */
export async function runVerify(config: ProcessConfig, output: Output): Promise<number> {
  // Read-only: verifying must never create or change a store (a wrong directory is an error, not "0 events").
  const store = await openEventStore(config.store, { readonly: true });
  try {
    let last = 0;
    const result = await verifyChain(store, {
      onProgress: (checked) => {
        if (checked - last >= 10_000) {
          last = checked;
          output.err(`verified ${checked} events...\n`);
        }
      },
    });
    if (result.ok) {
      output.out(`hash chain intact: ${result.count} events checked\n`);
      return 0;
    }
    output.out(`hash chain BROKEN at position ${result.position} (event ${result.count}; the ${result.count - 1} before it check out): ${result.reason}\n`);
    return 1;
  } finally {
    await store.close();
  }
}

export const VERIFY_COMMAND: CommandSpec = {
  words: ['verify'],
  summary: "check the event store's hash chain from the first event to the last",
  details: 'Opens the store read-only and leaves no file behind; a store that does not exist is an error (exit 1).\nPrints `hash chain intact: N events checked` (exit 0) or where the chain breaks (exit 1).',
  run: ({ config, output }) => runVerify(loadProcessConfig(config), output),
};

// `portcullis store migrate`: copy a whole history into another store (SQLite to PostgreSQL), hash chain intact, then verify the copy.
import { verifyChain } from '../../core/store/hash.js';
import { canImport, HistoryImportError, type HistoryImport } from '../../core/store/import.js';
import { openEventStore } from '../../core/store/open.js';
import type { EventStore, Position } from '../../core/store/port.js';
import { isPostgresUrl } from '../../core/store/postgres-url.js';
import { withoutCredentials } from '../../core/store/redact.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

export interface StoreMigration {
  readonly from: string;
  readonly to: string;
  /** Continue an interrupted copy: the target must hold the start of this same history. */
  readonly resume: boolean;
  readonly json: boolean;
}

const PAGE = 1000;
/** A progress line every this many events. */
const PROGRESS_EVERY = 10_000;

/** 0 when every event is copied and the target's chain verifies; 1 when the copy was refused or failed (why, on stderr). */
export async function runStoreMigrate(migration: StoreMigration, output: Output): Promise<number> {
  const { from, to } = migration;
  if (from === to) throw new UsageError('store migrate: --from and --to name the same store');
  if (!isPostgresUrl(to)) throw new UsageError('store migrate: --to must be a postgres:// store (the one adapter that takes a history in this version)');
  const source = await openStore(from, 'from', { readonly: true });
  try {
    const target = await openStore(to, 'to', {});
    try {
      if (!canImport(target)) throw new UsageError(`store migrate: ${withoutCredentials(to)} cannot take a history`);
      return await migrate(source, target, migration, output);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function migrate(source: EventStore, target: EventStore & HistoryImport, migration: StoreMigration, output: Output): Promise<number> {
  let after: Position | undefined;
  let kept = 0;
  if ((await target.headPosition()) !== undefined) {
    if (!migration.resume) {
      output.err(`portcullis: store migrate: ${withoutCredentials(migration.to)} already holds events: nothing copied (--resume continues an interrupted copy of this same history)\n`);
      return 1;
    }
    const prefix = await matchingPrefix(source, target);
    if (!prefix.ok) {
      output.err(`portcullis: store migrate: the target's history is not the start of the source's (its event ${prefix.count} differs): nothing copied\n`);
      return 1;
    }
    ({ after, count: kept } = prefix);
    output.err(`the target already holds the first ${kept} events: continuing after them\n`);
  }

  let copied = 0;
  for (;;) {
    const page = await source.readAll({ after, maxCount: PAGE });
    if (page.length === 0) break;
    try {
      // A decision block's decisions travel with it: the target's blocks must still match their digests.
      await target.importRecorded(page, async (block) => (await source.decisions.read({ block: block.position })).map((d) => d.decision));
    } catch (err) {
      if (!(err instanceof HistoryImportError)) throw err;
      output.err(`portcullis: store migrate: at source position ${err.position}: ${err.message}; the ${kept + copied} events before it are copied (portcullis verify on the source shows the break)\n`);
      return 1;
    }
    copied += page.length;
    after = page.at(-1)!.position;
    if (Math.floor((kept + copied) / PROGRESS_EVERY) > Math.floor((kept + copied - page.length) / PROGRESS_EVERY)) {
      output.err(`copied ${kept + copied} events...\n`);
    }
  }
  output.err(`copied ${copied} events; verifying the target...\n`);

  let reported = 0;
  const verified = await verifyChain(target, {
    onProgress: (checked) => {
      if (checked - reported >= PROGRESS_EVERY) {
        reported = checked;
        output.err(`verified ${checked} events...\n`);
      }
    },
  });
  const events = kept + copied;
  if (!verified.ok || verified.count !== events) {
    const why = verified.ok ? `it holds ${verified.count} events, ${events} were copied` : `broken at its position ${verified.position}: ${verified.reason}`;
    output.err(`portcullis: store migrate: the copy does not verify (${why})\n`);
    return 1;
  }
  const summary = { from: withoutCredentials(migration.from), to: withoutCredentials(migration.to), copied, kept, events, head: verified.head ?? null, verified: true };
  if (migration.json) output.out(`${JSON.stringify(summary, null, 2)}\n`);
  else output.out(`copied ${copied} events to ${summary.to}${kept ? ` (after the ${kept} it held)` : ''}; hash chain intact: ${events} events checked\n`);
  return 0;
}

/** How far the target's history is the source's, event by event (ids and hashes); positions may differ. */
async function matchingPrefix(source: EventStore, target: EventStore): Promise<{ ok: true; count: number; after: Position | undefined } | { ok: false; count: number }> {
  let count = 0;
  let sourceAfter: Position | undefined;
  let targetAfter: Position | undefined;
  for (;;) {
    const theirs = await target.readAll({ after: targetAfter, maxCount: PAGE });
    if (theirs.length === 0) return { ok: true, count, after: sourceAfter };
    const ours = await source.readAll({ after: sourceAfter, maxCount: theirs.length });
    for (const [i, t] of theirs.entries()) {
      const s = ours[i];
      count += 1;
      if (s === undefined || s.id !== t.id || s.hash !== t.hash) return { ok: false, count };
      sourceAfter = s.position;
      targetAfter = t.position;
    }
  }
}

/** A URL no adapter takes is a command line to fix (exit 2); a store that cannot be opened, a failure (exit 1). */
async function openStore(url: string, option: string, options: { readonly?: boolean }): Promise<EventStore> {
  try {
    return await openEventStore(url, options);
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`store migrate: --${option}: ${err.message}`);
    throw err;
  }
}

export const STORE_MIGRATE_COMMAND: CommandSpec = {
  words: ['store', 'migrate'],
  summary: 'copy the whole event history into another store (SQLite to PostgreSQL), hash chain intact, and verify the copy',
  options: {
    from: { type: 'string', value: '<url>', required: true, help: 'the store to copy from, opened read-only (e.g. sqlite:./data/portcullis.db)' },
    to: { type: 'string', value: '<url>', required: true, help: 'the store to copy into (postgres://…); it must hold no events' },
    resume: { type: 'boolean', help: 'continue an interrupted copy: the target must hold the start of this same history' },
    json: { type: 'boolean', help: 'print a JSON summary {from, to, copied, kept, events, head, verified}' },
  },
  details: [
    'Stop the gateway first. Every event keeps its id, stream, revision, time, data, metadata and hashes;',
    'positions are the target\'s own, which the hash chain does not cover, so `portcullis verify` passes on',
    'the copy. Projection checkpoints are not copied: the gateway rebuilds them at its first start there.',
    'A source whose chain is broken is refused at the break. Progress goes to stderr, the summary to stdout.',
    'Provider secrets stay sealed with the same key: keep PORTCULLIS_SECRET_KEY (or data/secret.key).',
  ].join('\n'),
  run: ({ values, output }) =>
    runStoreMigrate({ from: values.from as string, to: values.to as string, resume: values.resume === true, json: values.json === true }, output),
};

// `portcullis audit query|export|stats`: the audit views of the admin API, read-only from the store the process configuration names.
import { createWriteStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decodeCursor, encodeCursor } from '../../core/audit/cursor.js';
import { auditRow, exportLines, type ExportFormat } from '../../core/audit/export.js';
import type { AuditFilter } from '../../core/audit/filter.js';
import { readAuditPage, scanAudit } from '../../core/audit/page.js';
import { auditStats } from '../../core/audit/stats.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { openEventStore } from '../../core/store/open.js';
import type { EventStore } from '../../core/store/port.js';
import { AUDIT_FILTER_QUERY, parseAuditFilter, parseBucket, type AuditFilterValues } from '../admin/audit-params.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';
import type { CommandSpec, OptionSpec, OptionValue } from './command-line.js';
import { processOutput, type Output } from './output.js';
import { formatDecisions, formatStats } from './audit-text.js';
import { UsageError } from './usage-error.js';

/** The filter options, named as the admin API's parameters (docs/audit.md "Querying"). */
const FILTER_OPTIONS: Readonly<Record<keyof typeof AUDIT_FILTER_QUERY, OptionSpec>> = {
  from: { type: 'string', value: '<time>', help: 'start, ISO 8601 with a zone, inclusive (default: 24 hours before --to)' },
  to: { type: 'string', value: '<time>', help: 'end, exclusive (default: now)' },
  user: { type: 'string', value: '<name>', help: 'the caller’s username' },
  token: { type: 'string', value: '<id>', help: 'a gateway token’s id' },
  provider: { type: 'string', value: '<id>', help: 'the provider that authenticated the caller' },
  ip: { type: 'string', value: '<address|cidr>', help: 'the client address, or a CIDR it falls in' },
  method: { type: 'string', value: '<method>', help: 'the HTTP method' },
  path: { type: 'string', value: '<prefix>', help: 'paths starting with this (starts with /)' },
  status: { type: 'string', value: '<code>', help: 'the answer’s HTTP status' },
  decision: { type: 'string', value: 'allow|deny', help: 'the verdict' },
  reason: { type: 'string', value: '<reason>', help: 'the decision’s reason (such as path_denied)' },
};
const JSON_OPTION: OptionSpec = { type: 'boolean', help: 'print JSON, in the shape of the admin API’s answer' };

type Values = Readonly<Record<string, OptionValue>>;

/** The filter options given, as the admin API's parameters; a bad one is a usage error naming its option. */
function filterOf(command: string, values: Values, now: number, extra: (filter: AuditFilter) => void = () => undefined): AuditFilter {
  const given: Record<string, string> = {};
  for (const name of Object.keys(FILTER_OPTIONS)) if (typeof values[name] === 'string') given[name] = values[name];
  return usage(command, () => {
    const filter = parseAuditFilter(given as AuditFilterValues, now);
    extra(filter);
    return filter;
  });
}

function usage<T>(command: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`audit ${command}: --${err.fields[0]?.path ?? 'option'}: ${err.message}`);
    throw err;
  }
}

async function withStore<T>(config: ProcessConfig, work: (store: EventStore) => Promise<T>): Promise<T> {
  // Read-only, like replay: an audit view never creates a store or writes to it.
  const store = await openEventStore(config.store, { readonly: true });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export async function runAuditQuery(config: ProcessConfig, values: Values, output: Output, clock: Clock = systemClock): Promise<number> {
  const filter = filterOf('query', values, clock.now());
  const limit = usage('query', () => {
    const text = values.limit as string | undefined;
    if (text === undefined) return 50;
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new ValidationError('must be an integer from 1 to 1000', [{ path: 'limit', message: 'out of range' }]);
    return Number(text);
  });
  const cursor = values.cursor as string | undefined;
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (cursor !== undefined && after === undefined) throw new UsageError('audit query: --cursor: not the cursor of an earlier page');
  const page = await withStore(config, (store) => readAuditPage(store, filter, { limit, ...(after ? { after } : {}) }));
  const decisions = page.decisions.map((stored) => ({ cursor: encodeCursor(stored), ...auditRow(stored), trace: stored.decision.trace }));
  const next = page.next ? encodeCursor(page.next) : null;
  if (values.json === true) {
    output.out(`${JSON.stringify({ from: new Date(filter.from).toISOString(), to: new Date(filter.to).toISOString(), decisions, next }, null, 2)}\n`);
  } else output.out(formatDecisions(decisions, next));
  return 0;
}

export async function runAuditExport(config: ProcessConfig, values: Values, output: Output, clock: Clock = systemClock): Promise<number> {
  const filter = filterOf('export', values, clock.now());
  const format = (values.format as ExportFormat | undefined) ?? 'ndjson';
  const file = values.output as string | undefined;
  await withStore(config, async (store) => {
    const lines = Readable.from(exportLines(format, scanAudit(store, filter)), { objectMode: false });
    // Each destination pulls at its own pace: a file or process.stdout through a pipeline (backpressure), a test's Output line by line.
    if (file !== undefined) await pipeline(lines, createWriteStream(file, { mode: 0o600 }));
    else if (output === processOutput) await pipeline(lines, process.stdout, { end: false });
    else await pipeline(lines, new Writable({ write: (chunk: Buffer, _enc, done) => (output.out(chunk.toString('utf8')), done()) }));
  });
  return 0;
}

export async function runAuditStats(config: ProcessConfig, values: Values, output: Output, clock: Clock = systemClock): Promise<number> {
  let bucketMs = 0;
  const filter = filterOf('stats', values, clock.now(), (f) => {
    bucketMs = parseBucket(values.bucket as string | undefined, f.to - f.from);
  });
  const stats = await withStore(config, (store) => auditStats(scanAudit(store, filter), filter.from, filter.to, bucketMs));
  output.out(values.json === true ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(stats));
  return 0;
}

const DOCS = 'docs/audit.md';

export const AUDIT_QUERY_COMMAND: CommandSpec = {
  words: ['audit', 'query'],
  summary: 'list recorded access decisions, newest first, filtered',
  options: {
    ...FILTER_OPTIONS,
    limit: { type: 'string', value: '<n>', help: 'decisions per page, 1 to 1000 (default 50)' },
    cursor: { type: 'string', value: '<cursor>', help: 'the next page: the cursor the previous page printed' },
    json: JSON_OPTION,
  },
  details: `Opens the store read-only. Shows the last 24 hours unless --from/--to say otherwise;\nthe last line names the next page's --cursor when there is one. ${DOCS} "Querying"`,
  run: ({ values, config, output }) => runAuditQuery(loadProcessConfig(config), values, output),
};

export const AUDIT_EXPORT_COMMAND: CommandSpec = {
  words: ['audit', 'export'],
  summary: 'write recorded access decisions as CSV or NDJSON, newest first',
  options: {
    ...FILTER_OPTIONS,
    format: { type: 'string', value: 'csv|ndjson', choices: ['csv', 'ndjson'], help: 'the format (default ndjson)' },
    output: { type: 'string', value: '<file>', help: 'write to this file (mode 0600) instead of stdout' },
  },
  details: `Opens the store read-only and streams the range page by page. ${DOCS} "Export"`,
  run: ({ values, config, output }) => runAuditExport(loadProcessConfig(config), values, output),
};

export const AUDIT_STATS_COMMAND: CommandSpec = {
  words: ['audit', 'stats'],
  summary: 'count recorded access decisions per time bucket, with top denial reasons, callers and paths',
  options: {
    from: FILTER_OPTIONS.from,
    to: FILTER_OPTIONS.to,
    bucket: { type: 'string', value: '<width>', help: 'bucket width such as 5m, 1h or 1d (default: at most 100 buckets)' },
    json: JSON_OPTION,
  },
  details: `Opens the store read-only and reads the range once. ${DOCS} "Statistics"`,
  run: ({ values, config, output }) => runAuditStats(loadProcessConfig(config), values, output),
};

// `portcullis audit prune`: apply audit.retention once, as the server's scheduler does, or (--dry-run) show what it would drop.
import { systemClock, type Clock } from '../../core/clock.js';
import { applyRetention, planRetention, type PlannedDrop, type RetentionPlan, type RetentionSettings } from '../../core/retention/apply.js';
import { storedRetentionSettings } from '../../core/retention/stored-settings.js';
import { openEventStore } from '../../core/store/open.js';
import type { CommandSpec } from './command-line.js';
import type { Output } from './output.js';
import { loadProcessConfig, type ProcessConfig } from '../config.js';

export interface PruneOptions {
  readonly dryRun: boolean;
  readonly json: boolean;
}

/** 0 once applied (or planned, with --dry-run); a store that cannot be opened or written fails (exit 1). */
export async function runAuditPrune(config: ProcessConfig, options: PruneOptions, output: Output, clock: Clock = systemClock): Promise<number> {
  // A dry run changes nothing: the store is opened read-only.
  const store = await openEventStore(config.store, { readonly: options.dryRun });
  try {
    const retention = await storedRetentionSettings(store);
    const now = clock.now();
    let plan: RetentionPlan;
    let dropped: readonly PlannedDrop[];
    if (options.dryRun) {
      plan = await planRetention(store, retention, now);
      dropped = plan.drop;
    } else {
      const result = await applyRetention(store, retention, now);
      ({ dropped } = result);
      plan = result;
    }
    output.out(options.json ? `${JSON.stringify(answer(retention, plan, dropped, options.dryRun), null, 2)}\n` : describe(retention, plan, dropped, options.dryRun));
    return 0;
  } finally {
    await store.close();
  }
}

const partition = (p: PlannedDrop) => ({ stream: p.stream, rule: p.rule, events: p.events, decisions: p.decisions, first: p.first, last: p.last });

function answer(retention: RetentionSettings, plan: RetentionPlan, dropped: readonly PlannedDrop[], dryRun: boolean) {
  return {
    dryRun,
    retention,
    [dryRun ? 'wouldDrop' : 'dropped']: dropped.map(partition),
    decisions: plan.decisions,
    keptDecisions: dropped.reduce((kept, p) => kept - p.decisions, plan.decisions),
    ...(plan.heldBack ? { heldBack: plan.heldBack } : {}),
  };
}

const HELD_BACK = {
  today: 'today’s partition is never dropped',
  head: 'it holds the last event of the store; it goes once another event follows it',
  unsigned: 'it has events no signed checkpoint covers yet; it goes once one does',
} as const;

function describe(retention: RetentionSettings, plan: RetentionPlan, dropped: readonly PlannedDrop[], dryRun: boolean): string {
  if (retention.maxDays === false && retention.maxEntries === false) {
    return `audit.retention sets no limit: every day is kept (${plan.decisions} decisions stored)\n`;
  }
  const lines = dropped.map((p) => `${dryRun ? 'would drop' : 'dropped'} ${p.stream}: ${p.decisions} decisions in ${p.events} events (${p.rule})`);
  if (dropped.length === 0) lines.push('nothing to drop');
  const kept = dropped.reduce((n, p) => n - p.decisions, plan.decisions);
  lines.push(`${dryRun ? 'would keep' : 'kept'} ${kept} of ${plan.decisions} decisions`);
  if (plan.heldBack) lines.push(`kept for now: ${plan.heldBack.stream} (${HELD_BACK[plan.heldBack.reason]})`);
  return `${lines.join('\n')}\n`;
}

export const AUDIT_PRUNE_COMMAND: CommandSpec = {
  words: ['audit', 'prune'],
  summary: 'apply audit.retention now: drop the decision log’s oldest days beyond maxDays or maxEntries',
  options: {
    'dry-run': { type: 'boolean', help: 'show what would be dropped, change nothing (opens the store read-only)' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
  details:
    'Reads audit.retention from the store’s settings and drops whole day partitions (access-YYYY-MM-DD), oldest\n' +
    'first, each recorded by a RetentionApplied event so that `portcullis verify` still passes. Configuration and\n' +
    'token events are never dropped. A running server does the same every hour. docs/audit.md#retention',
  run: ({ values, config, output }) => runAuditPrune(loadProcessConfig(config), { dryRun: values['dry-run'] === true, json: values.json === true }, output),
};

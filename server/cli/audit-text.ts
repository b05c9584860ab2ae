// `portcullis audit query|stats` as tables for people: one line per decision, the minute-precise buckets and the top lists.
import type { AuditStats } from '../../core/audit/stats.js';

const MAX_CELL = 48;
const cell = (text: string): string => (text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text);

function table(titles: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = titles.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(titles), ...rows.map(line)].join('\n')}\n`;
}

export interface DecisionLine {
  readonly time: string;
  readonly allow: boolean;
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly username: string | null;
  readonly clientIp: string;
  readonly reason: string;
}

export function formatDecisions(decisions: readonly DecisionLine[], next: string | null): string {
  if (decisions.length === 0) return next === null ? 'no decisions\n' : `no decisions on this page; more: --cursor ${next}\n`;
  const rows = decisions.map((d) => [d.time, d.allow ? 'allow' : 'deny', String(d.status), d.method, cell(d.path), cell(d.username ?? '-'), d.clientIp, cell(d.reason)]);
  const text = table(['TIME', 'DECISION', 'STATUS', 'METHOD', 'PATH', 'USER', 'CLIENT IP', 'REASON'], rows);
  return next === null ? text : `${text}more: --cursor ${next}\n`;
}

export function formatStats(stats: AuditStats): string {
  const parts = [
    `${stats.from} to ${stats.to}: ${stats.total.allow} allowed, ${stats.total.deny} denied\n`,
    table(['BUCKET START', 'ALLOW', 'DENY'], stats.buckets.map((b) => [b.start, String(b.allow), String(b.deny)])),
    table(['TOP DENIAL REASON', 'COUNT'], stats.topDenialReasons.map((r) => [cell(r.reason), String(r.count)])),
    table(['TOP CALLER', 'COUNT'], stats.topCallers.map((c) => [cell(c.username), String(c.count)])),
    table(['TOP PATH', 'COUNT'], stats.topPaths.map((p) => [cell(p.path), String(p.count)])),
  ];
  if (stats.truncated) parts.push('(some top lists met more distinct values than they count: their counts leave the later ones out)\n');
  return parts.join('\n');
}

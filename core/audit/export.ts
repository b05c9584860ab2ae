// Audit export formats: one decision per line as NDJSON or CSV, the same flat shape in both.
import type { StoredDecision } from '../decision-log/record.js';

export type ExportFormat = 'csv' | 'ndjson';

export const CSV_COLUMNS = [
  'time', 'requestId', 'method', 'host', 'path', 'clientIp', 'peerIp', 'credential', 'allow', 'status', 'reason', 'stage',
  'username', 'provider', 'subject', 'tokenId', 'groups',
] as const;

/** A decision as the views show it: flat, time in ISO 8601. */
export interface AuditRow {
  readonly time: string;
  readonly requestId: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly clientIp: string;
  readonly peerIp: string;
  readonly credential: string | null;
  readonly allow: boolean;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly username: string | null;
  readonly provider: string | null;
  readonly subject: string | null;
  readonly tokenId: string | null;
  readonly groups: string | null;
}

export function auditRow({ decision: d }: StoredDecision): AuditRow {
  return {
    time: new Date(d.time).toISOString(),
    requestId: d.requestId,
    method: d.method,
    host: d.host,
    path: d.path,
    clientIp: d.clientIp,
    peerIp: d.peerIp,
    credential: d.credential ?? null,
    allow: d.allow,
    status: d.status,
    reason: d.reason,
    stage: d.stage,
    username: d.identity?.username ?? null,
    provider: d.identity?.provider ?? null,
    subject: d.identity?.subject ?? null,
    tokenId: d.identity?.tokenId ?? null,
    groups: d.identity ? d.identity.groups.join(' ') : null,
  };
}

/**
 * One CSV field (RFC 4180). A value a spreadsheet would run as a formula (= + - @ tab CR first)
 * is prefixed with `'`: recorded paths and hosts come from callers.
 */
function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvHeader = (): string => `${CSV_COLUMNS.join(',')}\r\n`;

export function exportLine(format: ExportFormat, stored: StoredDecision): string {
  const row = auditRow(stored);
  return format === 'ndjson' ? `${JSON.stringify(row)}\n` : `${CSV_COLUMNS.map((c) => csvField(row[c])).join(',')}\r\n`;
}

/** The export's lines, a header first for CSV; pulled one at a time, so a slow reader slows the store reads. */
export async function* exportLines(format: ExportFormat, decisions: AsyncIterable<StoredDecision>): AsyncGenerator<string> {
  if (format === 'csv') yield csvHeader();
  for await (const stored of decisions) yield exportLine(format, stored);
}

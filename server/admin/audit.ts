// GET /api/v1/audit, /audit/export and /audit/stats: the decision log filtered, newest first with cursor paging, streamed out, or counted.
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Clock } from '../../core/clock.js';
import { decodeCursor, encodeCursor } from '../../core/audit/cursor.js';
import { auditRow, exportLines, type ExportFormat } from '../../core/audit/export.js';
import { readAuditPage, scanAudit } from '../../core/audit/page.js';
import { auditStats } from '../../core/audit/stats.js';
import { ValidationError } from '../../core/errors.js';
import type { EventStore } from '../../core/store/port.js';
import { AUDIT_FILTER_QUERY, parseAuditFilter, parseBucket } from './audit-params.js';
import type { AdminState } from './context.js';
import { limitParam, strictQuery } from './query.js';

export interface AuditRoutesDeps {
  readonly store: EventStore;
  readonly clock: Clock;
}

const QUERY = { ...AUDIT_FILTER_QUERY, cursor: 'one', limit: 'one' } as const;
const EXPORT = { ...AUDIT_FILTER_QUERY, format: 'one' } as const;
const STATS = { from: 'one', to: 'one', bucket: 'one' } as const;

const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = { csv: 'text/csv; charset=utf-8', ndjson: 'application/x-ndjson; charset=utf-8' };

/** A file-name-safe stamp: 2026-01-05T09-00-00Z. */
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');

export function registerAuditRoutes(api: Router<AdminState>, { store, clock }: AuditRoutesDeps): void {
  api.get('/audit', async (ctx) => {
    const query = strictQuery(ctx.query, QUERY);
    const filter = parseAuditFilter(query, clock.now());
    const limit = limitParam(query.limit, 50, 1000);
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && after === undefined) {
      throw new ValidationError('cursor must be the next cursor of an earlier page', [{ path: 'cursor', message: 'not a cursor' }]);
    }
    const page = await readAuditPage(store, filter, { limit, ...(after ? { after } : {}) });
    ctx.body = {
      from: new Date(filter.from).toISOString(),
      to: new Date(filter.to).toISOString(),
      decisions: page.decisions.map((stored) => ({ cursor: encodeCursor(stored), ...auditRow(stored), trace: stored.decision.trace })),
      next: page.next ? encodeCursor(page.next) : null,
    };
  });

  api.get('/audit/export', (ctx) => {
    const query = strictQuery(ctx.query, EXPORT);
    const filter = parseAuditFilter(query, clock.now());
    const format = query.format ?? 'ndjson';
    if (format !== 'csv' && format !== 'ndjson') throw new ValidationError('format must be csv or ndjson', [{ path: 'format', message: 'one of: csv, ndjson' }]);
    ctx.set('content-type', CONTENT_TYPES[format]);
    ctx.set('content-disposition', `attachment; filename="portcullis-audit-${stamp(filter.from)}-${stamp(filter.to)}.${format}"`);
    // Readable.from pulls the next line only when the socket drains: a month of decisions streams, never sits in memory.
    ctx.body = Readable.from(exportLines(format, scanAudit(store, filter)), { objectMode: false });
  });

  api.get('/audit/stats', async (ctx) => {
    const query = strictQuery(ctx.query, STATS);
    const filter = parseAuditFilter(query, clock.now());
    const bucketMs = parseBucket(query.bucket, filter.to - filter.from);
    ctx.body = await auditStats(scanAudit(store, filter), filter.from, filter.to, bucketMs);
  });
}

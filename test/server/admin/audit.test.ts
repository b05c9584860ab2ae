// GET /api/v1/audit, /audit/export and /audit/stats: filters, newest first, cursor paging, strict parameters with stable 400s.
import { expect } from 'chai';
import type request from 'supertest';

import { readAuditPage, scanAudit } from '../../../core/audit/page.js';
import type { DecisionQuery } from '../../../core/decision-log/record.js';
import { parseAuditFilter } from '../../../server/admin/audit-params.js';
import { at, DECISIONS, NOW, startAuditKit, type AuditKit } from './audit-kit.js';

const ids = (res: request.Response): string[] => {
  expect(res.status, res.text).to.equal(200);
  return (res.body.decisions as { requestId: string }[]).map((d) => d.requestId);
};
const iso = (ms: number): string => new Date(ms).toISOString();

describe('server/admin audit', () => {
  let kit: AuditKit;
  beforeEach(async () => {
    kit = await startAuditKit();
  });
  afterEach(async () => {
    await kit.close();
  });

  describe('GET /api/v1/audit', () => {
    it('lists the last 24 hours newest first by default, never an older decision', async () => {
      const res = await kit.get('/api/v1/audit');
      expect(ids(res)).to.deep.equal(['x2', 'b2', 'a2', 'x1', 'b1', 'a1']);
      expect(res.body.from).to.equal(iso(NOW - 24 * 3_600_000));
      expect(res.body.to).to.equal(iso(NOW));
      expect(res.body.next).to.equal(null);
      const first = res.body.decisions.at(-1);
      expect(first).to.include({ time: iso(at(9)), username: 'ann', provider: 'corp', tokenId: 'jti-1', allow: true, status: 200 });
    });

    it('reads an older range when asked for it', async () => {
      expect(ids(await kit.get('/api/v1/audit?from=2026-01-03T00:00:00Z&to=2026-01-04T00:00:00Z'))).to.deep.equal(['old']);
      expect(ids(await kit.get(`/api/v1/audit?from=${iso(at(9, 5))}&to=${iso(at(10, 30))}`))).to.deep.equal(['a2', 'x1', 'b1']);
    });

    it('filters by user, token, provider, address or CIDR, method, path prefix, status, verdict and reason', async () => {
      const cases: [string, string[]][] = [
        ['user=ann', ['a2', 'a1']],
        ['token=jti-2', ['b2', 'b1']],
        ['provider=keys', ['b2', 'b1']],
        ['ip=10.1.0.0/16', ['b2', 'b1']],
        ['ip=203.0.113.9', ['x1']],
        ['ip=2001:db8::/32', ['x2']],
        ['method=post', ['b1']],
        ['path=/rest/api/2/issue/', ['x2', 'a1']],
        ['status=401', ['x2', 'x1']],
        ['decision=deny', ['x2', 'a2', 'x1']],
        ['decision=allow&user=bob&status=201', ['b1']],
        ['reason=path_denied', ['a2']],
        ['user=nobody', []],
      ];
      for (const [query, expected] of cases) expect(ids(await kit.get(`/api/v1/audit?${query}`)), query).to.deep.equal(expected);
    });

    it('pages with an opaque cursor until next is null, with scan filters too', async () => {
      for (const filter of ['', '&decision=deny']) {
        const seen: string[] = [];
        let cursor: string | null = '';
        while (cursor !== null) {
          const res = await kit.get(`/api/v1/audit?limit=2${filter}${cursor ? `&cursor=${cursor}` : ''}`);
          seen.push(...ids(res));
          cursor = res.body.next as string | null;
        }
        expect(seen).to.deep.equal(filter ? ['x2', 'a2', 'x1'] : ['x2', 'b2', 'a2', 'x1', 'b1', 'a1']);
      }
    });

    it('refuses bad parameters with 400 invalid_request naming the parameter', async () => {
      const cases: [string, string][] = [
        ['from=yesterday', 'from'],
        ['to=2026-01-05T10:00:00', 'to'],
        ['from=2026-01-05T10:00:00Z&to=2026-01-05T09:00:00Z', 'from'],
        ['ip=10.0.0.0/33', 'ip'],
        ['ip=not-an-ip', 'ip'],
        ['method=GE T', 'method'],
        ['path=rest', 'path'],
        ['status=99', 'status'],
        ['status=abc', 'status'],
        ['decision=maybe', 'decision'],
        ['cursor=%%%', 'cursor'],
        ['cursor=bm9wZQ', 'cursor'],
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['user=a&user=b', 'user'],
        [`user=${'u'.repeat(257)}`, 'user'],
        ['secret-token-abc=1', 'query'],
      ];
      for (const [query, field] of cases) {
        const res = await kit.get(`/api/v1/audit?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.body.error, query).to.equal('invalid_request');
        expect(res.body.fields?.[0]?.path, query).to.equal(field);
        expect(res.text).not.to.include('secret-token-abc');
      }
    });

    it('needs the admin token', async () => {
      expect((await kit.get('/api/v1/audit', null)).status).to.equal(401);
      expect((await kit.get('/api/v1/audit/export', 'wrong')).status).to.equal(401);
      expect((await kit.get('/api/v1/audit/stats', null)).status).to.equal(401);
    });
  });

  describe('readAuditPage', () => {
    it('ends a page early at its scan budget, with a cursor, and never reads outside the range', async () => {
      const filter = parseAuditFilter({ decision: 'deny' }, NOW);
      const first = await readAuditPage(kit.store, filter, { limit: 10, scanBudget: 2 });
      expect(first.decisions.map((s) => s.decision.requestId)).to.deep.equal(['x2']);
      expect(first.next).to.not.equal(undefined);
      const rest = await readAuditPage(kit.store, filter, { limit: 10, after: first.next!, scanBudget: 100 });
      expect(rest.decisions.map((s) => s.decision.requestId)).to.deep.equal(['a2', 'x1']);
      expect(rest.next).to.equal(undefined);
      expect(DECISIONS).to.have.length(6);
    });

    it('scans for an export page by page, reading the next store page only when the reader asks', async () => {
      const reads: DecisionQuery[] = [];
      const counting = { decisions: { read: (q?: DecisionQuery) => (reads.push(q ?? {}), kit.store.decisions.read(q)), appendBlocks: () => Promise.reject(new Error('read only')) } };
      const scan = scanAudit(counting, parseAuditFilter({}, NOW), 2);
      const first = await scan.next();
      expect(first.value?.decision.requestId).to.equal('x2');
      expect(reads).to.have.length(1);
      expect(reads[0]).to.include({ limit: 2, direction: 'backwards', from: NOW - 24 * 3_600_000, to: NOW });
      const rest: string[] = [];
      for await (const stored of scan) rest.push(stored.decision.requestId);
      expect(rest).to.deep.equal(['b2', 'a2', 'x1', 'b1', 'a1']);
      expect(reads.map((q) => q.limit)).to.deep.equal([2, 2, 2, 2]);
    });
  });

  describe('GET /api/v1/audit/export', () => {
    it('streams NDJSON by default, newest first, as an attachment', async () => {
      const res = await kit.get('/api/v1/audit/export?user=ann').buffer(true).parse((r, done) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString('utf8')));
        r.on('end', () => done(null, text));
      });
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('application/x-ndjson; charset=utf-8');
      expect(res.headers['content-disposition']).to.equal('attachment; filename="portcullis-audit-2026-01-04T12-00-00Z-2026-01-05T12-00-00Z.ndjson"');
      const lines = (res.body as string).trim().split('\n').map((l) => JSON.parse(l) as { requestId: string });
      expect(lines.map((l) => l.requestId)).to.deep.equal(['a2', 'a1']);
    });

    it('writes CSV with a header, quoting and no formula a spreadsheet would run', async () => {
      const res = await kit.get('/api/v1/audit/export?format=csv&decision=deny');
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.equal('text/csv; charset=utf-8');
      expect(res.headers['content-disposition']).to.match(/^attachment; filename="portcullis-audit-.*\.csv"$/);
      const lines = res.text.split('\r\n');
      expect(lines[0]).to.match(/^time,requestId,method,host,path,clientIp,/);
      expect(lines).to.have.length(5);
      expect(lines[2]).to.include(',"/admin, ""x""",');
      expect(lines[3]).to.include(",'=cmd|x,");
    });

    it('refuses an unknown format or filter before streaming', async () => {
      for (const query of ['format=xml', 'format=csv&format=ndjson', 'cursor=abc', 'status=700']) {
        const res = await kit.get(`/api/v1/audit/export?${query}`);
        expect(res.status, query).to.equal(400);
        expect(res.body.error, query).to.equal('invalid_request');
      }
    });
  });

  describe('GET /api/v1/audit/stats', () => {
    it('counts per bucket by verdict, and the top denial reasons, callers and paths', async () => {
      const res = await kit.get(`/api/v1/audit/stats?from=${iso(at(9))}&to=${iso(at(12))}&bucket=1h`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.bucketMs).to.equal(3_600_000);
      expect(res.body.buckets).to.deep.equal([
        { start: iso(at(9)), allow: 2, deny: 1 },
        { start: iso(at(10)), allow: 1, deny: 1 },
        { start: iso(at(11)), allow: 0, deny: 1 },
      ]);
      expect(res.body.total).to.deep.equal({ allow: 3, deny: 3 });
      expect(res.body.topDenialReasons).to.deep.equal([{ reason: 'unauthenticated', count: 2 }, { reason: 'path_denied', count: 1 }]);
      expect(res.body.topCallers).to.deep.equal([{ username: 'ann', count: 2 }, { username: 'bob', count: 2 }]);
      expect(res.body.topPaths).to.have.length(6);
      expect(res.body.topPaths[0]).to.deep.equal({ path: '/admin, "x"', count: 1 });
      expect(res.body.truncated).to.equal(false);
    });

    it('picks a bucket when none is given, and refuses a bad or too narrow one', async () => {
      const res = await kit.get('/api/v1/audit/stats');
      expect(res.status).to.equal(200);
      expect(res.body.bucketMs).to.equal(15 * 60_000);
      for (const query of ['bucket=1x', 'bucket=0m', 'bucket=1m&from=2025-01-01T00:00:00Z', 'user=ann']) {
        const bad = await kit.get(`/api/v1/audit/stats?${query}`);
        expect(bad.status, query).to.equal(400);
        expect(bad.body.error, query).to.equal('invalid_request');
      }
    });
  });
});

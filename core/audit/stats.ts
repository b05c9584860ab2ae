// Audit statistics over a range: decisions per time bucket by verdict, and the top denial reasons, callers and paths.
import type { StoredDecision } from '../decision-log/record.js';

/** Distinct values a top list counts at most: a flood of distinct paths costs bounded memory (later ones go uncounted). */
export const MAX_DISTINCT = 10_000;
export const TOP = 10;

export interface AuditBucket {
  /** ISO 8601 start of the bucket. */
  readonly start: string;
  readonly allow: number;
  readonly deny: number;
}

export interface AuditStats {
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
  readonly total: { readonly allow: number; readonly deny: number };
  readonly buckets: AuditBucket[];
  readonly topDenialReasons: { readonly reason: string; readonly count: number }[];
  readonly topCallers: { readonly username: string; readonly count: number }[];
  readonly topPaths: { readonly path: string; readonly count: number }[];
  /** True when some top list met more than MAX_DISTINCT distinct values: its counts leave the later ones out. */
  readonly truncated: boolean;
}

class Counter {
  readonly counts = new Map<string, number>();
  truncated = false;
  add(key: string): void {
    const n = this.counts.get(key);
    if (n !== undefined) this.counts.set(key, n + 1);
    else if (this.counts.size < MAX_DISTINCT) this.counts.set(key, 1);
    else this.truncated = true;
  }
  top(): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP);
  }
}

/** Counts over [from, to) in buckets of `bucketMs` aligned on `from`; reads `decisions` once, as they come. */
export async function auditStats(decisions: AsyncIterable<StoredDecision>, from: number, to: number, bucketMs: number): Promise<AuditStats> {
  const count = Math.ceil((to - from) / bucketMs);
  const allow = new Array<number>(count).fill(0);
  const deny = new Array<number>(count).fill(0);
  const reasons = new Counter();
  const callers = new Counter();
  const paths = new Counter();
  for await (const { decision } of decisions) {
    const i = Math.floor((decision.time - from) / bucketMs);
    if (i < 0 || i >= count) continue;
    if (decision.allow) allow[i]! += 1;
    else {
      deny[i]! += 1;
      reasons.add(decision.reason);
    }
    if (decision.identity?.username) callers.add(decision.identity.username);
    paths.add(decision.path);
  }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    bucketMs,
    total: { allow: sum(allow), deny: sum(deny) },
    buckets: allow.map((a, i) => ({ start: new Date(from + i * bucketMs).toISOString(), allow: a, deny: deny[i]! })),
    topDenialReasons: reasons.top().map(([reason, n]) => ({ reason, count: n })),
    topCallers: callers.top().map(([username, n]) => ({ username, count: n })),
    topPaths: paths.top().map(([path, n]) => ({ path, count: n })),
    truncated: reasons.truncated || callers.truncated || paths.truncated,
  };
}

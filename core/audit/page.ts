// Reading audit views from the decision log: one page newest first, or every match page by page for an export.
import { readDecisions } from '../decision-log/reader.js';
import type { DecisionAddress, StoredDecision } from '../decision-log/record.js';
import type { EventStore } from '../store/port.js';
import { indexedQuery, scanPredicate, type AuditFilter } from './filter.js';

/** Decisions one page may examine: a sparse scan filter ends the page early with a cursor, never a long stall. */
export const SCAN_BUDGET = 20_000;
/** Decisions read from the store at a time. */
const STORE_PAGE = 500;

export interface AuditPage {
  readonly decisions: StoredDecision[];
  /** Where the next page starts; undefined when the range is exhausted. */
  readonly next?: DecisionAddress;
}

/**
 * Up to `limit` matching decisions, newest first, after `after`. Reads store pages of the indexed
 * query (time, user, token) and checks the rest on each; stops at `scanBudget` examined decisions,
 * returning what it found and a cursor at the last one examined.
 */
export async function readAuditPage(
  store: Pick<EventStore, 'decisions'>,
  filter: AuditFilter,
  options: { readonly after?: DecisionAddress; readonly limit: number; readonly scanBudget?: number },
): Promise<AuditPage> {
  const matches = scanPredicate(filter);
  const budget = options.scanBudget ?? SCAN_BUDGET;
  const decisions: StoredDecision[] = [];
  let after = options.after;
  let scanned = 0;
  for (;;) {
    // Without a scan filter every stored decision matches: ask for exactly what is missing.
    const want = matches ? Math.min(STORE_PAGE, budget - scanned) : options.limit - decisions.length;
    const page = await store.decisions.read({ ...indexedQuery(filter), direction: 'backwards', limit: want, ...(after ? { after } : {}) });
    for (const stored of page) {
      scanned += 1;
      after = { block: stored.block, index: stored.index };
      if (matches && !matches(stored.decision)) continue;
      decisions.push(stored);
      if (decisions.length === options.limit) return { decisions, next: after };
    }
    if (page.length < want) return { decisions };
    if (scanned >= budget) return after ? { decisions, next: after } : { decisions };
  }
}

/** Every matching decision, newest first, read from the store a page at a time (never the whole range in memory). */
export async function* scanAudit(store: Pick<EventStore, 'decisions'>, filter: AuditFilter, pageSize = STORE_PAGE): AsyncGenerator<StoredDecision> {
  const matches = scanPredicate(filter);
  for await (const stored of readDecisions(store, { ...indexedQuery(filter), direction: 'backwards' }, pageSize)) {
    if (!matches || matches(stored.decision)) yield stored;
  }
}

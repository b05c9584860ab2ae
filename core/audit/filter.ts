// Which decisions an audit view selects: the indexed part goes to the store's query, the rest is a predicate applied while scanning that range only.
import type { DecisionQuery, DecisionRecord } from '../decision-log/record.js';
import type { AddressList } from '../net.js';

/** An audit filter. `from`/`to` are always set: a view never scans outside the range asked for. */
export interface AuditFilter {
  /** Milliseconds since the epoch, inclusive. */
  readonly from: number;
  /** Milliseconds since the epoch, exclusive. */
  readonly to: number;
  readonly username?: string;
  readonly tokenId?: string;
  readonly provider?: string;
  /** Client addresses and CIDRs, compiled (core/net.ts). */
  readonly clientIp?: AddressList;
  /** Upper case, as recorded. */
  readonly method?: string;
  readonly pathPrefix?: string;
  readonly status?: number;
  readonly allow?: boolean;
  readonly reason?: string;
}

/** The part of a filter the store answers from its indexes (time, user, token) and within them (provider). */
export function indexedQuery(filter: AuditFilter): DecisionQuery {
  return {
    from: filter.from,
    to: filter.to,
    ...(filter.username !== undefined ? { username: filter.username } : {}),
    ...(filter.tokenId !== undefined ? { tokenId: filter.tokenId } : {}),
    ...(filter.provider !== undefined ? { provider: filter.provider } : {}),
  };
}

/** The rest of the filter, checked on each decision the indexed query yields; undefined when nothing is left to check. */
export function scanPredicate(filter: AuditFilter): ((d: DecisionRecord) => boolean) | undefined {
  const checks: ((d: DecisionRecord) => boolean)[] = [];
  const { clientIp, method, pathPrefix, status, allow, reason } = filter;
  if (clientIp !== undefined) checks.push((d) => clientIp.matches(d.clientIp));
  if (method !== undefined) checks.push((d) => d.method === method);
  if (pathPrefix !== undefined) checks.push((d) => d.path.startsWith(pathPrefix));
  if (status !== undefined) checks.push((d) => d.status === status);
  if (allow !== undefined) checks.push((d) => d.allow === allow);
  if (reason !== undefined) checks.push((d) => d.reason === reason);
  if (checks.length === 0) return undefined;
  return (d) => checks.every((check) => check(d));
}

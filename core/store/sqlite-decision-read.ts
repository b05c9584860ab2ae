// A decision row back as a plain StoredDecision: strings resolved through the intern table, lists and traces parsed once each.
import { unpackIpHex } from '../decision-log/compact.js';
import { MAX_BLOCK_DECISIONS, type DecisionIdentity, type DecisionRecord, type StoredDecision, type TraceOutcome, type TraceStep } from '../decision-log/record.js';
import { toPosition } from './checks.js';
import { readDetailHex } from './sqlite-decision-detail.js';
import type { DecisionReadRow } from './sqlite-decision-schema.js';
import type { SqliteStrings } from './sqlite-strings.js';

const OUTCOMES: readonly (TraceOutcome | undefined)[] = [undefined, 'pass', 'allow', 'deny'];
/** Parsed lists and traces kept at most, each (emptied when full, like the strings' cache). */
const MAX_CACHED = 10_000;

export class DecisionRowReader {
  readonly #stageLists = new Map<number, readonly string[]>();
  readonly #groupLists = new Map<number, readonly string[]>();
  readonly #traces = new Map<string, readonly TraceStep[]>();

  constructor(private readonly strings: SqliteStrings) {}

  /** @throws Error for a row no writer makes (an identity without its user, a string id not stored) */
  read(row: DecisionReadRow): StoredDecision {
    const [address, time, username, token, provider, allow, status, reason, method, path, clientIp, packed] = row;
    const text = (id: number): string => this.strings.text(id);
    const detail = readDetailHex(packed);
    // Packed bytes as hex, or `~` and the text of an address that did not pack.
    const client = clientIp.charCodeAt(0) === 0x7e ? clientIp.slice(1) : unpackIpHex(clientIp);
    // Built field by field in the record's key order (no spreads: a simulation reads a million of these).
    const decision: { -readonly [K in keyof DecisionRecord]: DecisionRecord[K] } = {
      time,
      requestId: detail.requestId,
      method: text(method),
      host: text(detail.host),
      path,
      clientIp: client,
      peerIp: detail.peerIp ?? client,
    } as DecisionRecord;
    if (detail.credential !== undefined) decision.credential = detail.credential;
    decision.allow = allow === 1;
    decision.status = status;
    decision.reason = text(reason);
    decision.stage = text(detail.stage);
    if (detail.subject !== undefined) {
      const identity: { -readonly [K in keyof DecisionIdentity]: DecisionIdentity[K] } = {
        subject: text(detail.subject),
        username: text(username!),
        provider: text(provider!),
        groups: this.#list(this.#groupLists, detail.groups!),
      };
      if (token !== null) identity.tokenId = text(token);
      decision.identity = identity;
    }
    decision.trace = this.#trace(detail.trace, detail.outcomes);
    const block = Math.floor(address / MAX_BLOCK_DECISIONS);
    return { block: toPosition(block), index: address - block * MAX_BLOCK_DECISIONS, decision };
  }

  /** Decisions with the same stages and outcomes share one trace array. */
  #trace(stageList: number, outcomes: number): readonly TraceStep[] {
    const key = `${stageList}:${outcomes}`;
    let steps = this.#traces.get(key);
    if (steps === undefined) {
      const stages = this.#list(this.#stageLists, stageList);
      steps = stages.map((stage, k) => ({ stage, outcome: OUTCOMES[Math.floor(outcomes / 4 ** k) % 4] ?? 'pass' }));
      if (this.#traces.size >= MAX_CACHED) this.#traces.clear();
      this.#traces.set(key, steps);
    }
    return steps;
  }

  /** An interned JSON array of strings. */
  #list(cache: Map<number, readonly string[]>, id: number): readonly string[] {
    let list = cache.get(id);
    if (list === undefined) {
      list = JSON.parse(this.strings.text(id)) as string[];
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(id, list);
    }
    return list;
  }
}

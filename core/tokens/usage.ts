// Token usage: last use and use count per gateway token, folded from the decision log's blocks (no event per use).
import { LEGACY_DECISION_EVENT, type AccessDecidedData } from '../decision-log/legacy.js';
import { BLOCK_EVENT, type DecisionIdentity, type StoredDecision } from '../decision-log/record.js';
import type { RecordedEvent } from '../store/port.js';

export interface TokenUsage {
  /** Milliseconds since the epoch of the latest request that presented the token. */
  readonly lastUsedAt: number;
  readonly uses: number;
}

/** Provider id of identities established by a gateway token. */
export const GATEWAY_PROVIDER = 'gateway';

/** Mutable for the same reason as TokenIndex: one entry per used token, updated on every request. */
export class TokenUsageIndex {
  private readonly byToken = new Map<string, { lastUsedAt: number; uses: number }>();

  get(tokenId: string): TokenUsage | undefined {
    return this.byToken.get(tokenId);
  }

  get size(): number {
    return this.byToken.size;
  }

  /**
   * Fold a block's decisions (read by the projection, `decisions`), or an AccessDecided event of a
   * store from before the decision log.
   */
  apply(event: RecordedEvent, decisions: readonly StoredDecision[] = []): void {
    if (event.type === BLOCK_EVENT) {
      for (const { decision } of decisions) this.use(decision.identity, decision.time);
    } else if (event.type === LEGACY_DECISION_EVENT) {
      const at = typeof event.metadata.time === 'string' ? Date.parse(event.metadata.time) : Date.parse(event.time);
      this.use((event.data as AccessDecidedData).identity, at);
    }
  }

  /** Every decision whose identity came from a gateway token counts as a use, allowed or not. */
  private use(identity: DecisionIdentity | undefined, at: number): void {
    // JWT ids are token ids too; only gateway tokens are counted, so the map stays bounded by the token index.
    if (!identity?.tokenId || identity.provider !== GATEWAY_PROVIDER) return;
    const entry = this.byToken.get(identity.tokenId);
    if (entry) {
      entry.uses += 1;
      if (at > entry.lastUsedAt) entry.lastUsedAt = at;
    } else {
      this.byToken.set(identity.tokenId, { lastUsedAt: at, uses: 1 });
    }
  }

  snapshot(): [string, number, number][] {
    return [...this.byToken].map(([id, u]) => [id, u.lastUsedAt, u.uses]);
  }

  static restore(saved: unknown): TokenUsageIndex {
    const index = new TokenUsageIndex();
    if (Array.isArray(saved)) {
      for (const [id, lastUsedAt, uses] of saved as [string, number, number][]) index.byToken.set(id, { lastUsedAt, uses });
    }
    return index;
  }
}

export function evolveUsage(index: TokenUsageIndex, event: RecordedEvent, decisions: readonly StoredDecision[] | undefined): TokenUsageIndex {
  index.apply(event, decisions);
  return index;
}

// verify's GapBridge from the RetentionApplied events: a hole in the chain passes only where recorded drops account for exactly it.
import type { GapBridge } from '../store/hash.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import { parseRetentionApplied, RETENTION_APPLIED, RETENTION_STREAM, type DroppedGap } from './record.js';

interface Recorded extends DroppedGap {
  /** Position of the RetentionApplied event that names the gap. */
  readonly at: number;
}

/** Every gap the store's RetentionApplied events name (a drop retried after a crash names its gaps twice: kept once). */
export async function recordedGaps(store: Pick<EventStore, 'readStream'>): Promise<Recorded[]> {
  const byRange = new Map<string, Recorded>();
  for (let from = 0; ; from += PAGE) {
    const page = await store.readStream(RETENTION_STREAM, { fromRevision: from, maxCount: PAGE });
    for (const event of page) {
      const data = event.type === RETENTION_APPLIED ? parseRetentionApplied(event.data) : undefined;
      for (const gap of data?.gaps ?? []) {
        const key = `${gap.first}-${gap.last}`;
        if (!byRange.has(key)) byRange.set(key, { ...gap, at: Number(event.position) });
      }
    }
    if (page.length < PAGE) return [...byRange.values()];
  }
}

/**
 * A gap between `before` and `after` is accepted when the recorded gaps lying wholly inside it
 * (each named by an event stored after it) chain from before's hash to the hash `after` links
 * to. Two drops can leave one hole (yesterday's partition went after the day before, with
 * nothing between them), hence a chain rather than a single match. Any other deletion, an
 * event next to a dropped range included, changes `before` or `after` and is not accepted.
 */
export function bridgeFrom(gaps: readonly Recorded[]): GapBridge {
  return ({ before, after }: { before: RecordedEvent | undefined; after: RecordedEvent }) => {
    const lo = before === undefined ? 0 : Number(before.position);
    const hi = Number(after.position);
    const inside = gaps.filter((g) => Number(g.first) > lo && Number(g.last) < hi && g.at > hi);
    const reached = new Set([before?.hash ?? '']);
    for (let grew = true; grew; ) {
      grew = false;
      for (const g of inside) {
        if (reached.has(g.beforeHash) && !reached.has(g.lastHash)) {
          reached.add(g.lastHash);
          grew = true;
        }
      }
    }
    if (!reached.has(after.prevHash)) return undefined;
    return { dropped: inside.reduce((sum, g) => sum + g.events, 0) };
  };
}

/** The bridge for verify: read the store's recorded drops once, before the walk meets their gaps. */
export async function retentionBridge(store: Pick<EventStore, 'readStream'>): Promise<GapBridge> {
  return bridgeFrom(await recordedGaps(store));
}

const PAGE = 1000;

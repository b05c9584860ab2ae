// The RetentionApplied event: what one drop of a day partition took out of the chain, and the links that bridge each hole it left.
import type { Position } from '../store/position.js';

export const RETENTION_STREAM = 'retention';
export const RETENTION_APPLIED = 'RetentionApplied';

/**
 * One run of consecutive events (in global order) that a drop removed. The event stored after
 * it keeps its prevHash, `lastHash`; the event before it is `beforeHash` ('' at the start of the
 * store). verify accepts a broken link only where recorded gaps lead from one to the other.
 */
export interface DroppedGap {
  readonly beforeHash: string;
  readonly first: Position;
  readonly last: Position;
  readonly lastHash: string;
  readonly events: number;
}

export interface RetentionAppliedData {
  /** The day streams that went (today one per event). */
  readonly streams: readonly string[];
  readonly first: Position;
  readonly last: Position;
  readonly events: number;
  readonly decisions: number;
  /** Why: `maxDays` or `maxEntries`. */
  readonly rule: 'maxDays' | 'maxEntries';
  readonly gaps: readonly DroppedGap[];
}

const isPosition = (v: unknown): v is Position => typeof v === 'string' && /^[1-9]\d{0,17}$/.test(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function isGap(v: unknown): v is DroppedGap {
  const g = v as Partial<DroppedGap> | null;
  return (
    typeof g === 'object' && g !== null && typeof g.beforeHash === 'string' && isPosition(g.first) && isPosition(g.last) &&
    typeof g.lastHash === 'string' && g.lastHash !== '' && isCount(g.events) && g.events >= 1 && Number(g.first) <= Number(g.last)
  );
}

/** The data of a RetentionApplied event, or undefined when it is not one (verify then bridges nothing with it). */
export function parseRetentionApplied(data: unknown): RetentionAppliedData | undefined {
  const d = data as Partial<RetentionAppliedData> | null;
  if (typeof d !== 'object' || d === null || !Array.isArray(d.gaps) || !d.gaps.every(isGap)) return undefined;
  if (!Array.isArray(d.streams) || !isPosition(d.first) || !isPosition(d.last) || !isCount(d.events) || !isCount(d.decisions)) return undefined;
  return d as RetentionAppliedData;
}

// Applying audit.retention: which day partitions go, and dropping them one by one, each recorded (RetentionApplied) before it goes.
import { randomUUID } from 'node:crypto';

import { CHECKPOINT_STREAM, parseSignedCheckpoint } from '../checkpoints/checkpoint.js';
import type { Settings } from '../settings/schema.js';
import type { EventStore, RecordedEvent } from '../store/port.js';
import type { Position } from '../store/position.js';
import { dayPartitions, DAY_MS, type DayPartition } from './partitions.js';
import { RETENTION_APPLIED, RETENTION_STREAM, type DroppedGap, type RetentionAppliedData } from './record.js';

export type RetentionSettings = Settings['audit']['retention'];
export type RetentionStore = Pick<EventStore, 'readAll' | 'readStream' | 'append' | 'deleteStream' | 'headPosition'>;

export interface PlannedDrop extends DayPartition {
  readonly rule: 'maxDays' | 'maxEntries';
}

export interface RetentionPlan {
  readonly drop: readonly PlannedDrop[];
  /** Decisions stored before, and left after the planned drops. */
  readonly decisions: number;
  readonly keptDecisions: number;
  /** Why a partition the settings would drop stays for now (the oldest such one), if any. */
  readonly heldBack?: { readonly stream: string; readonly reason: 'today' | 'head' | 'unsigned' };
}

export interface RetentionResult extends RetentionPlan {
  /** The partitions actually dropped (all of the plan's, unless the store changed meanwhile). */
  readonly dropped: readonly PlannedDrop[];
}

/**
 * What the settings drop now, oldest first. Today's partition never goes; nor one holding the
 * store's last event (the chain would continue from the event before it, leaving no link to
 * bridge); nor, once checkpoints are signed, one with events past the last checkpoint: the
 * signer counts events after it, and must never miss one that retention took away.
 */
export async function planRetention(store: RetentionStore, retention: RetentionSettings, nowMs: number): Promise<RetentionPlan> {
  const today = Math.floor(nowMs / DAY_MS);
  const partitions = await dayPartitions(store, today);
  const decisions = partitions.reduce((sum, p) => sum + p.decisions, 0);
  if (retention.maxDays === false && retention.maxEntries === false) return { drop: [], decisions, keptDecisions: decisions };
  const head = await store.headPosition();
  const signedThrough = await lastCheckpointPosition(store);
  const drop: PlannedDrop[] = [];
  let kept = decisions;
  let heldBack: RetentionPlan['heldBack'];
  for (const p of partitions) {
    const rule = retention.maxDays !== false && p.day <= today - retention.maxDays ? 'maxDays' : retention.maxEntries !== false && kept > retention.maxEntries ? 'maxEntries' : undefined;
    if (rule === undefined) break;
    const reason = p.day >= today ? 'today' : head !== undefined && Number(p.last) >= Number(head) ? 'head' : signedThrough !== undefined && Number(p.last) > Number(signedThrough) ? 'unsigned' : undefined;
    if (reason !== undefined) {
      // Oldest first: a partition that must stay keeps the newer ones too.
      heldBack = { stream: p.stream, reason };
      break;
    }
    drop.push({ ...p, rule });
    kept -= p.decisions;
  }
  return { drop, decisions, keptDecisions: kept, ...(heldBack ? { heldBack } : {}) };
}

/** Plan, then drop each planned partition (recorded first: a crash in between leaves a record of a drop not made, which bridges nothing). */
export async function applyRetention(store: RetentionStore, retention: RetentionSettings, nowMs: number): Promise<RetentionResult> {
  const plan = await planRetention(store, retention, nowMs);
  const dropped: PlannedDrop[] = [];
  for (const p of plan.drop) {
    const gaps = await gapsOf(store, p);
    if (gaps === undefined) break;
    const data: RetentionAppliedData = { streams: [p.stream], first: p.first, last: p.last, events: p.events, decisions: p.decisions, rule: p.rule, gaps };
    await store.append(RETENTION_STREAM, [{ id: randomUUID(), type: RETENTION_APPLIED, data, metadata: { actor: 'system' } }]);
    await store.deleteStream(p.stream);
    dropped.push(p);
  }
  return { ...plan, dropped };
}

async function lastCheckpointPosition(store: Pick<EventStore, 'readStream'>): Promise<Position | undefined> {
  const [event] = await store.readStream(CHECKPOINT_STREAM, { direction: 'backwards', maxCount: 1 });
  return event && parseSignedCheckpoint(event.data)?.position;
}

/**
 * The runs of the partition's events in the global order, each with the event before it and
 * the hash its successor links to. Undefined when the last run reaches the store's head (no
 * successor holds the link a bridge needs).
 */
async function gapsOf(store: Pick<EventStore, 'readAll'>, p: DayPartition): Promise<DroppedGap[] | undefined> {
  const [before] = await store.readAll({ before: p.first, direction: 'backwards', maxCount: 1 });
  const gaps: DroppedGap[] = [];
  let previous: RecordedEvent | undefined = before;
  let run: { beforeHash: string; first: Position; last: RecordedEvent; events: number } | undefined;
  let after = before?.position;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: PAGE });
    for (const e of page) {
      if (e.stream === p.stream) {
        run = run ? { ...run, last: e, events: run.events + 1 } : { beforeHash: previous?.hash ?? '', first: e.position, last: e, events: 1 };
      } else if (run) {
        gaps.push({ beforeHash: run.beforeHash, first: run.first, last: run.last.position, lastHash: run.last.hash, events: run.events });
        run = undefined;
      }
      if (run === undefined && Number(e.position) > Number(p.last)) return gaps;
      previous = e;
      after = e.position;
    }
    if (page.length < PAGE) return undefined;
  }
}

const PAGE = 1000;

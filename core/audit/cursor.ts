// The audit views' paging cursor: a decision's address, opaque to callers (base64url of "position.index").
import { MAX_BLOCK_DECISIONS, type DecisionAddress } from '../decision-log/record.js';
import type { Position } from '../store/position.js';

export function encodeCursor(address: DecisionAddress): string {
  return Buffer.from(`${address.block}.${address.index}`, 'utf8').toString('base64url');
}

/** The address a cursor names, or undefined when it is not one this module made. */
export function decodeCursor(cursor: string): DecisionAddress | undefined {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return undefined;
  const m = /^(0|[1-9]\d{0,15})\.(0|[1-9]\d{0,3})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || !Number.isSafeInteger(Number(m[1])) || Number(m[2]) >= MAX_BLOCK_DECISIONS) return undefined;
  return { block: m[1] as Position, index: Number(m[2]) };
}

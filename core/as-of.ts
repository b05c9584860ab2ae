// "As of" a point in the history: an ISO 8601 time or a store position, parsed once at the edge, with the stable codes of its refusals.
import { GatewayError } from './errors.js';
import type { Position } from './store/port.js';

/** A point in the history: an instant (ms since the epoch), or a position of the global order. */
export type AsOf = { readonly kind: 'time'; readonly time: number } | { readonly kind: 'position'; readonly position: Position };

export type AsOfErrorCode = 'invalid_as_of' | 'as_of_before_history' | 'as_of_after_head';

/** Why a point cannot be replayed to: not a time or position, before the first event, or past the head (or in the future). */
export class AsOfError extends GatewayError {
  constructor(
    override readonly code: AsOfErrorCode,
    message: string,
  ) {
    super(code, 400, message);
  }
}

const POSITION = /^(0|[1-9]\d{0,15})$/;
/**
 * RFC 3339 profile of ISO 8601: a date (midnight UTC), or a date and time with a zone. A space
 * stands for `+` in the offset, since a query string decodes an unescaped `+` to one.
 */
const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(?:([Zz])|([+\- ])(\d{2}):?(\d{2}))?)?$/;

/**
 * `2024-05-01T10:00:00Z`, `2024-05-01T12:00+02:00`, `2024-05-01` (midnight UTC) or a position
 * (`1234`: digits only, as `/events` hands them out).
 *
 * @throws AsOfError `invalid_as_of`: anything else, a date that does not exist, or a time without a zone.
 */
export function parseAsOf(text: string): AsOf {
  const value = text.trim();
  if (/^\d+$/.test(value)) {
    if (!POSITION.test(value) || !Number.isSafeInteger(Number(value))) throw invalid('not a position the store hands out');
    return { kind: 'position', position: value as Position };
  }
  const time = parseIsoTime(value);
  if (!time.ok) throw invalid(TIME.test(value) ? time.why : 'give an ISO 8601 time such as 2024-05-01T10:00:00Z, or a store position');
  return { kind: 'time', time: time.time };
}

/** An RFC 3339 time (or a date: midnight UTC) as ms since the epoch, or why it is not one. */
export function parseIsoTime(value: string): { ok: true; time: number } | { ok: false; why: string } {
  const m = TIME.exec(value);
  if (!m) return { ok: false, why: 'give an ISO 8601 time such as 2024-05-01T10:00:00Z' };
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, oh, om] = m;
  if (h !== undefined && zulu === undefined && sign === undefined) return { ok: false, why: 'give the time zone (Z or an offset such as +02:00)' };
  const [year, month, day, hour, minute, second] = [y, mo, d, h ?? '0', mi ?? '0', s ?? '0'].map(Number) as [number, number, number, number, number, number];
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(local);
  // Date.UTC rolls 2024-02-30 over into March: a date that does not exist is refused instead.
  const exists = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!exists || Number(oh ?? 0) > 23 || Number(om ?? 0) > 59) return { ok: false, why: 'not a valid date and time' };
  const offsetMinutes = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const ms = fraction === undefined ? 0 : Math.floor(Number(fraction) * 1000);
  return { ok: true, time: local + ms - offsetMinutes * 60_000 };
}

/** The value is never quoted back: whatever was pasted there (a token, say) stays out of answers and logs. */
const invalid = (why: string): AsOfError => new AsOfError('invalid_as_of', `asOf: ${why}`);

/** How an AsOf reads in messages and answers: the position, or the instant in UTC. */
export const describeAsOf = (asOf: AsOf): string => (asOf.kind === 'position' ? `position ${asOf.position}` : new Date(asOf.time).toISOString());

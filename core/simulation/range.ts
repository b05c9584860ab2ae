// The ends of a simulated range: ISO 8601 times with a zone, as `simulate` and POST /api/v1/simulate take them.

const WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch, or undefined when `text` is not a valid time with a zone (a zoneless time is ambiguous). */
export function parseSimulationTime(text: string): number | undefined {
  if (!WITH_ZONE.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

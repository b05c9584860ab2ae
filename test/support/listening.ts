// The line `portcullis serve` logs once both listeners are bound: how tests and the bench learn the ports it got.
//
// docs/configuration.md ("Listening") documents it: a JSON log line with `"msg":"portcullis is
// listening"` whose `gateway` and `admin` fields are the URLs bound (with port 0, the ports the
// system chose). It is logged at `info`, the default level.

export interface ListeningLine {
  /** http://host:port of the gateway listener. */
  readonly gateway: string;
  /** http://host:port of the admin listener. */
  readonly admin: string;
}

export const LISTENING_MESSAGE = 'portcullis is listening';

/** The listening line's fields from a parsed log entry (e.g. a process handle's `ready`), or undefined for any other entry. */
export function listeningEntry(entry: Readonly<Record<string, unknown>>): ListeningLine | undefined {
  const { msg, gateway, admin } = entry;
  return msg === LISTENING_MESSAGE && typeof gateway === 'string' && typeof admin === 'string' ? { gateway, admin } : undefined;
}

/** The listening line parsed, or undefined for any other line. */
export function listeningLine(line: string): ListeningLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry: unknown = JSON.parse(line);
    return typeof entry === 'object' && entry !== null ? listeningEntry(entry as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

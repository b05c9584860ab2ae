// PostgreSQL's failures as the port's errors: an unreachable, full or read-only database is unavailable, named by host, never by password.
import { HistoryImportError } from './import.js';
import { StoreUnavailableError, WrongExpectedRevisionError } from './port.js';

/**
 * SQLSTATEs that mean the database cannot serve us now, not that we asked wrongly: connection
 * exceptions (08), insufficient resources (53: disk full, too many connections), operator
 * intervention (57: shut down, statement or lock timeout), system errors (58), a read-only
 * transaction or standby (25006), a database that does not exist (3D000), authentication (28),
 * and a lock not granted within lock_timeout (55P03).
 */
const UNAVAILABLE = /^(08|53|57|58|28)|^(25006|3D000|55P03)$/;

interface DatabaseErrorLike {
  readonly code: string;
  readonly severity: string;
  readonly message: string;
}

/** An error the server sent (pg's DatabaseError), as opposed to one on the way to it. */
export function isDatabaseError(err: unknown): err is DatabaseErrorLike {
  const e = err as Partial<DatabaseErrorLike> | null;
  return e !== null && typeof e === 'object' && typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code);
}

/** The server's SQLSTATE, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  return isDatabaseError(err) ? err.code : undefined;
}

/**
 * The port's error for a failure of `what` on the store at `where` (host:port/database).
 * Errors of the port itself and misuse (TypeError) pass unchanged, and so does an error the
 * server reports for a statement it would never accept (a bug: it must not pass for an outage).
 */
export function mapPostgresError(err: unknown, where: string, what = 'unavailable'): unknown {
  if (err instanceof StoreUnavailableError || err instanceof WrongExpectedRevisionError || err instanceof HistoryImportError || err instanceof TypeError) {
    return err;
  }
  if (isDatabaseError(err)) {
    if (!UNAVAILABLE.test(err.code)) return err;
    return new StoreUnavailableError(`PostgreSQL event store at ${where} ${what}: ${err.message} (${err.code})`, { cause: err });
  }
  // Not from the server: the socket (ECONNREFUSED, ENOTFOUND, ECONNRESET), a timeout, a connection that ended.
  const code = (err as { code?: unknown } | null)?.code;
  const reason = typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`PostgreSQL event store at ${where} ${what}: ${reason}`, { cause: err });
}

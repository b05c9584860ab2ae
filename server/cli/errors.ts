// The one place a failed command becomes text: `portcullis: <what failed>: <path or value>` on stderr and an exit status, never a stack.
import { SecretKeyError } from '../../core/secrets.js';
import { ConfigFileError } from '../config.js';
import { describeSystemError, systemErrorCode } from '../system-error.js';
import { UsageError } from './usage-error.js';

export interface Failure {
  /** What goes to stderr, ending in a newline. */
  readonly text: string;
  /** 2 for a command line the CLI cannot act on, 1 for anything that failed while acting on it. */
  readonly status: 1 | 2;
}

/**
 * @param debug add the stack of an unexpected error (PORTCULLIS_LOG_LEVEL=debug), for a bug report
 */
export function renderFailure(err: unknown, debug = false): Failure {
  if (err instanceof UsageError) return { text: `portcullis: ${err.message}\n`, status: 2 };
  return { text: `portcullis: ${describe(err, debug)}\n`, status: 1 };
}

/** Errors an operator fixes (a port in use, a store that is not there): their message says what and where. */
function isOperatorError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return err instanceof ConfigFileError || err instanceof SecretKeyError || err instanceof TypeError || typeof code === 'string';
}

function describe(err: unknown, debug: boolean): string {
  if (!(err instanceof Error)) return `unexpected failure: ${String(err)}`;
  // A system error that no caller wrapped still names what it was done to.
  const { syscall, path } = err as NodeJS.ErrnoException;
  if (systemErrorCode(err) !== undefined && syscall !== undefined && path !== undefined) {
    return `cannot ${syscall} ${path}: ${describeSystemError(err)}`;
  }
  if (isOperatorError(err)) return err.message;
  // A bug: one line still, and where it happened only for whoever asks.
  return debug ? `unexpected ${err.stack ?? err.message}` : `unexpected ${err.name}: ${err.message} (PORTCULLIS_LOG_LEVEL=debug shows where)`;
}

// Node's system errors (ENOENT, EADDRINUSE, …) said in a few words, inside errors that name the file or address at fault.

/** What an operator reads for the codes a command line meets; other codes are shown as they are. */
const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'no such address on this host',
  ENOTFOUND: 'host name not found',
};

/** The code of a Node system error (`ENOENT`), else undefined. */
export function systemErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** `no such file or directory (ENOENT)`; the error's own message when it is not a system error. */
export function describeSystemError(err: unknown): string {
  const code = systemErrorCode(err);
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  return WORDS[code] ? `${WORDS[code]} (${code})` : code;
}

/** A file the command line was asked to read or write could not be. */
export class FileAccessError extends Error {
  override readonly name = 'FileAccessError';
  readonly code: string;
  constructor(verb: 'read' | 'write', readonly path: string, cause: unknown) {
    super(`cannot ${verb} ${path}: ${describeSystemError(cause)}`, { cause });
    this.code = systemErrorCode(cause) ?? 'file_access_failed';
  }
}

/** A listener could not bind its address (in use, not on this host, a privileged port). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
  readonly code: string;
  /**
   * @param address the `host:port` asked for
   * @param key the process configuration key that names it (`listen`, `adminListen`)
   */
  constructor(readonly address: string, key: string, cause: unknown) {
    super(`cannot listen on ${address} (${key}): ${describeSystemError(cause)}`, { cause });
    this.code = systemErrorCode(cause) ?? 'listen_failed';
  }
}

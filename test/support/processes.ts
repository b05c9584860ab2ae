// Child processes for tests and the bench: start one, await the line (or probe) that says it is ready, stop it by pid, never leak one; or run one to completion.
//
// Shared by test/e2e, test/faults and bench/: each starts servers as real processes and needs the
// same care (readiness from the process itself, bounded waits, SIGKILL after a grace period, no
// orphan when the runner dies). A server that listens reports the port it got in its ready line;
// nothing here picks a port for it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';

import { eventually } from './eventually.js';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
  readonly name: string;
  readonly pid: number;
  /** The ready line parsed, when it was a JSON object; else `{}`. */
  readonly ready: Record<string, unknown>;
  /** `ready.port`, when the ready line carried one (servers that bound port 0 say which port they got). */
  readonly port: number | undefined;
  readonly stdout: string[];
  readonly stderr: string[];
  /** stdout and stderr lines together, in the order they were read. */
  readonly output: string[];
  /** Resolves once the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** Resolves once the process has exited and its output has been read to the end. */
  readonly closed: Promise<ExitInfo>;
  readonly hasExited: boolean;
  /** Sends `signal` (default SIGTERM), waits up to `graceMs` (default 10 s), then SIGKILLs. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  kill9(): Promise<ExitInfo>;
}

export interface StartOptions {
  /** For errors; default: the base name of the script (node) or of the command. */
  readonly name?: string;
  /** Added to this process's environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Which output line means "ready": default a JSON line with `"ready":true`. Read on stdout and stderr. */
  readonly readyLine?: RegExp | ((line: string) => boolean);
  /** A readiness probe (given the pid) polled until it resolves true, after the ready line when one is named. */
  readonly readyProbe?: (pid: number) => Promise<boolean>;
  /** How long readiness may take; default 15 s. */
  readonly timeoutMs?: number;
  /** Keep at most the first this many lines of each stream (long runs); default: all. */
  readonly maxLines?: number;
}

/** A process that exited before it was ready, or was not ready in time; its output says why. */
export class StartError extends Error {
  constructor(
    message: string,
    /** Its stdout and stderr lines so far. */
    readonly output: readonly string[],
    /** How it ended, when it exited by itself. */
    readonly exit?: ExitInfo,
  ) {
    super(message);
    this.name = 'StartError';
  }
}

const live = new Set<ProcessHandle>();

/** Ends every process these helpers started that still runs (for `after` hooks, and a bench that fails half-way). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', 5_000)));
}

// Last resort if the runner exits with children still running: kill them by pid, synchronously.
process.once('exit', () => {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isReadyLine(matcher: StartOptions['readyLine'], line: string): boolean {
  if (matcher instanceof RegExp) return matcher.test(line);
  if (matcher) return matcher(line);
  return parseJsonLine(line)?.ready === true;
}

/** `node <script> [args]` with this Node, as {@link startProcess} does for any command. */
export function startNode(script: string, args: readonly string[] = [], options: StartOptions & { nodeArgs?: readonly string[] } = {}): Promise<ProcessHandle> {
  return startProcess(process.execPath, [...(options.nodeArgs ?? []), script, ...args], { name: basename(script, '.js'), ...options });
}

/** What a process run to completion printed, and its exit code (null when a signal or the time limit ended it). */
export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `node <script> [args]` run to completion (a one-shot CLI command), ended with SIGKILL after
 * `timeoutMs` (default 20 s). Never rejects: the exit code and output are the result.
 */
export function runNode(
  script: string,
  args: readonly string[],
  options: { readonly env?: Readonly<Record<string, string | undefined>>; readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 20_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Starts `command args` and resolves once it is ready; rejects (and kills it) when it exits first or is not ready in time. */
export async function startProcess(command: string, args: readonly string[], options: StartOptions = {}): Promise<ProcessHandle> {
  const name = options.name ?? basename(command);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxLines = options.maxLines ?? Number.POSITIVE_INFINITY;
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A spawn that fails (no such command) says so here, and as an 'error' event that must not go unheard.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  const stdout: string[] = [];
  const stderr: string[] = [];
  const output: string[] = [];
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(handle);
      resolve(exitInfo);
    });
  });
  const closed = new Promise<ExitInfo>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));

  let ready: Record<string, unknown> | undefined;
  const lineWanted = options.readyLine !== undefined || options.readyProbe === undefined;
  let onReadyLine: (() => void) | undefined;
  const collect = (stream: NodeJS.ReadableStream | null, into: string[]): void => {
    if (!stream) return;
    createInterface({ input: stream }).on('line', (line) => {
      if (into.length < maxLines) {
        into.push(line);
        output.push(line);
      }
      if (lineWanted && ready === undefined && isReadyLine(options.readyLine, line)) {
        ready = parseJsonLine(line) ?? {};
        onReadyLine?.();
      }
    });
  };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ExitInfo> => {
    if (exitInfo) return exitInfo;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };
  const handle: ProcessHandle = {
    name,
    pid,
    get ready() {
      return ready ?? {};
    },
    get port() {
      return typeof ready?.port === 'number' ? ready.port : undefined;
    },
    stdout,
    stderr,
    output,
    exited,
    closed,
    get hasExited() {
      return exitInfo !== undefined;
    },
    stop,
    kill9: () => stop('SIGKILL'),
  };
  live.add(handle);

  const deadline = Date.now() + timeoutMs;
  const failure = (why: string): StartError =>
    new StartError(`${name} ${why}\n--- stdout\n${stdout.slice(-20).join('\n')}\n--- stderr\n${stderr.slice(-20).join('\n')}`, [...output], exitInfo);
  const exitedEarly = async (): Promise<never> => {
    // Its last words explain why: wait for the output to be read (bounded, a grandchild may hold the pipe).
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    throw failure(`exited before it was ready (${JSON.stringify(exitInfo)})`);
  };
  try {
    if (lineWanted && ready === undefined) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(failure(`not ready within ${timeoutMs} ms`)), timeoutMs);
        onReadyLine = () => {
          clearTimeout(timer);
          resolve();
        };
        void exited.then(() => {
          clearTimeout(timer);
          exitedEarly().catch(reject);
        });
      });
    }
    if (options.readyProbe) {
      const probe = options.readyProbe;
      await eventually(
        async () => {
          if (exitInfo) return 'exited' as const;
          return probe(pid).catch(() => false);
        },
        { within: Math.max(0, deadline - Date.now()), every: 100, what: `${name}'s readiness probe` },
      ).catch(() => {
        throw failure(`not ready within ${timeoutMs} ms`);
      }).then(async (outcome) => {
        if (outcome === 'exited') await exitedEarly();
      });
    }
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return handle;
}

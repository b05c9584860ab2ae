// Child processes of the bench: start, wait until ready, read CPU time and RSS of a process tree from /proc, stop by pid.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
export const CLK_TCK = 100;

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly output: string[];
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

const running = new Set<Child>();

/** Ends every child still running (at the end, or when the bench fails half-way). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

process.once('exit', () => {
  for (const c of running) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

export interface StartOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
  /** A JSON line with `"ready":true` (default), a pattern, or a probe polled until true. */
  readonly ready?: RegExp | (() => Promise<boolean>);
  readonly timeoutMs?: number;
}

/** Start `command args` and resolve once it is ready; the parsed ready line (if JSON) comes back too. */
export async function startChild(name: string, command: string, args: readonly string[], options: StartOptions = {}): Promise<Child & { ready: Record<string, unknown> }> {
  const proc: ChildProcess = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const output: string[] = [];
  let readyLine: Record<string, unknown> | undefined;
  let onLine: (() => void) | undefined;
  const matcher = options.ready;
  for (const stream of [proc.stdout, proc.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (output.length < 2000) output.push(line);
      if (readyLine) return;
      if (matcher instanceof RegExp ? matcher.test(line) : matcher === undefined && line.startsWith('{') && line.includes('"ready":true')) {
        readyLine = line.startsWith('{') ? (JSON.parse(line) as Record<string, unknown>) : {};
        onLine?.();
      }
    });
  }
  // 'close' (not 'exit'): every output line has been read by then.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  const child: Child = {
    name,
    pid: proc.pid,
    output,
    exited,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(child);
  void exited.then(() => running.delete(child));

  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  const failure = (why: string) => new Error(`${name} ${why}\n${output.slice(-15).join('\n')}`);
  try {
    if (typeof matcher === 'function') {
      for (;;) {
        if (proc.exitCode !== null) throw failure('exited before it was ready');
        if (await matcher().catch(() => false)) break;
        if (Date.now() > deadline) throw failure(`not ready within ${timeoutMs} ms`);
        await sleep(100);
      }
      readyLine = {};
    } else if (!readyLine) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(failure(`not ready within ${timeoutMs} ms`)), timeoutMs);
        onLine = () => {
          clearTimeout(timer);
          resolve();
        };
        void exited.then(() => {
          clearTimeout(timer);
          reject(failure('exited before it was ready'));
        });
      });
    }
  } catch (err) {
    await child.stop();
    throw err;
  }
  return Object.assign(child, { ready: readyLine ?? {} });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Stat {
  readonly ppid: number;
  /** utime + stime, in ticks. */
  readonly cpu: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), cpu: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** `pid` and every descendant of it. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = parents.get(stat.ppid) ?? [];
    list.push(Number(entry));
    parents.set(stat.ppid, list);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of parents.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** CPU ticks so far per pid of the tree under `pid`. */
export function cpuTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(pid)) {
    const stat = readStat(p);
    if (stat) out.set(p, stat.cpu);
  }
  return out;
}

/** CPU seconds the tree used between two readings (processes born in between count from zero). */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / CLK_TCK;
}

/** Resident set size of the whole tree, in MB (shared pages count once per process). */
export function rssMb(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kb / 1024;
}

// The load generator: Debian's wrk (one thread, 32 connections) with a token-rotating Lua script; its output parsed, its CPU time read.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLK_TCK } from './proc-stats.js';

/** The Lua script lives beside the sources (bench/lua), two levels up from dist/bench/lib. */
export const TOKENS_LUA = fileURLToPath(new URL('../../../bench/lua/tokens.lua', import.meta.url));

export interface WrkOptions {
  readonly url: string;
  /** A file of bearer tokens, one per line; each request takes the next. */
  readonly tokens: string;
  readonly seconds: number;
  readonly connections?: number;
  /** Pause per connection before each request (ms): a rate-limited, closed-loop run. */
  readonly delayMs?: number;
  /** Index of the first token used. */
  readonly offset?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Answers that were not 2xx/3xx, plus socket errors. */
  readonly errors: number;
  /** CPU seconds wrk itself used (the generator's share of the cores). */
  readonly cpuSeconds: number;
  readonly seconds: number;
}

const toMs = (value: string, unit: string): number => Number(value) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 1);

export function parseWrk(out: string): Omit<WrkResult, 'cpuSeconds' | 'seconds'> {
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1]!, m[2]!) : Number.NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, rps, p50Ms: pct('50'), p99Ms: pct('99'), errors: non2xx + socketErrors };
}

/** One wrk run; resolves with its figures. wrk runs under a shell that reports wrk's CPU time after it exits. */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const args = ['-t1', `-c${options.connections ?? 32}`, `-d${options.seconds}s`, '--latency', '-s', TOKENS_LUA, options.url];
  // $$ is the shell; after `wait`, its cutime/cstime (fields 16, 17) are wrk's user and system time.
  const script = 'wrk "$@"; rc=$?; echo "__cpu__ $(cut -d" " -f16,17 /proc/$$/stat)"; exit $rc';
  return new Promise((resolve, reject) => {
    const proc = spawn('bash', ['-c', script, 'bash', ...args], {
      env: { ...process.env, BENCH_TOKENS: options.tokens, ...(options.delayMs !== undefined ? { BENCH_DELAY_MS: String(options.delayMs) } : {}), BENCH_TOKEN_OFFSET: String(options.offset ?? 0) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), (options.seconds + 20) * 1000);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      const cpu = /__cpu__ (\d+) (\d+)/.exec(out);
      const parsed = parseWrk(out);
      if (code !== 0 || Number.isNaN(parsed.rps)) {
        reject(new Error(`wrk failed (exit ${code}):\n${out.slice(-2000)}`));
        return;
      }
      resolve({ ...parsed, cpuSeconds: cpu ? (Number(cpu[1]) + Number(cpu[2])) / CLK_TCK : Number.NaN, seconds: options.seconds });
    });
  });
}

// Raw RS256 verification rates on this machine (a child process of the bench): jose sequential, then 32 in flight,
// and node:crypto's synchronous verify of the same tokens (what row 2v does): the gap is what jose's WebCrypto path costs.
// Each rate comes with its CPU per verification: the whole process's (the thread pool's included) and the event loop's alone.
import { readFileSync } from 'node:fs';
import { createPublicKey, verify } from 'node:crypto';
import { jwtVerify } from 'jose';

const [tokensFile, jwkJson, secondsArg] = process.argv.slice(2);
const tokens = readFileSync(tokensFile ?? '', 'utf8').split('\n').filter(Boolean);
const key = createPublicKey({ key: JSON.parse(jwkJson ?? '{}') as import('node:crypto').JsonWebKey, format: 'jwk' });
const seconds = Number(secondsArg ?? 2);
const options = { algorithms: ['RS256'] };

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux). */
const TICKS = 100;
/** CPU seconds this thread (the event loop, when called from it) has used: utime + stime of /proc/thread-self/stat. */
function threadCpuSeconds(): number {
  const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

interface Rate {
  readonly perSecond: number;
  /** µs of CPU per verification, all threads. */
  readonly cpuUs: number;
  /** µs of the event loop's CPU per verification. */
  readonly loopUs: number;
}

/** Run `body` (which returns how many verifications it did) and measure its rate and CPU. */
async function measured(body: () => number | Promise<number>): Promise<Rate> {
  const cpu = process.cpuUsage();
  const loop = threadCpuSeconds();
  const n = await body();
  const used = process.cpuUsage(cpu);
  return {
    perSecond: Math.round(n / seconds),
    cpuUs: Number(((used.user + used.system) / n).toFixed(1)),
    loopUs: Number((((threadCpuSeconds() - loop) * 1e6) / n).toFixed(1)),
  };
}

async function sequential(): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) await jwtVerify(tokens[n++ % tokens.length]!, key, options);
  return n;
}

async function inFlight(width: number): Promise<number> {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  const lane = async () => {
    while (performance.now() < end) await jwtVerify(tokens[n++ % tokens.length]!, key, options);
  };
  await Promise.all(Array.from({ length: width }, lane));
  return n;
}

/** The signature alone, with node:crypto: no header or claims parsing, no promise. */
function nodeCrypto(): number {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const token = tokens[n++ % tokens.length]!;
    const dot = token.lastIndexOf('.');
    if (!verify('RSA-SHA256', Buffer.from(token.slice(0, dot)), key, Buffer.from(token.slice(dot + 1), 'base64url'))) throw new Error('a bench token did not verify');
  }
  return n;
}

await sequential(); // warm-up (JIT, key import)
const seq = await measured(sequential);
const par = await measured(() => inFlight(32));
nodeCrypto();
const direct = await measured(nodeCrypto);
process.stdout.write(
  `${JSON.stringify({
    sequential: seq.perSecond,
    inFlight32: par.perSecond,
    nodeCrypto: direct.perSecond,
    cpuUs: { sequential: seq.cpuUs, inFlight32: par.cpuUs, nodeCrypto: direct.cpuUs },
    loopUs: { sequential: seq.loopUs, inFlight32: par.loopUs, nodeCrypto: direct.loopUs },
  })}\n`,
);

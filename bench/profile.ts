// `npm run bench:profile`: the bare proxy, then scenario 3a (JWT, few tokens, full path), each under wrk and `node --cpu-prof`; prints what one request costs in each, by area and by function.
//
//   BENCH_SECONDS=10 npm run bench:profile        # longer run
//   BENCH_PROFILE_TOKENS=bench/…/gateway.txt      # another token file (default: the 3a tokens)
//
// The .cpuprofile files are kept (their paths are printed): open them in Chrome DevTools or speedscope for the call tree.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIdp } from './lib/idp.js';
import { configureFullPath, startPortcullis } from './lib/portcullis.js';
import { startNode, stopAll } from '../test/support/processes.js';
import { AUDIENCE, ISSUER, prepareTokens } from './lib/tokens.js';
import { runWrk } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 30);
const DIST = fileURLToPath(new URL('.//', import.meta.url));
const log = (line: string): void => void process.stderr.write(`[profile] ${line}\n`);

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface CpuProfile {
  readonly nodes: ProfileNode[];
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

type Share = { name: string; share: number };

/**
 * Self time of the samples taken in the last `windowUs` of the profile (the measured run, not
 * start-up), per function (name file:line) and per area (a package, a source folder, node
 * internals, or V8's own rows such as GC and idle), as shares of that window.
 */
export function selfTimes(profile: CpuProfile, windowUs: number): { functions: Share[]; areas: Share[] } {
  const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, dt: number) => map.set(key, (map.get(key) ?? 0) + dt);
  // Sample i was taken at endTime minus the deltas after it.
  let at = profile.endTime;
  let all = 0;
  for (let i = profile.samples.length - 1; i >= 0 && at >= profile.endTime - windowUs; i--) {
    const dt = profile.timeDeltas[i] ?? 0;
    at -= dt;
    const frame = byNode.get(profile.samples[i]!)?.callFrame;
    if (!frame) continue;
    const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, '~/').replace(/^.*\/dist\//, '');
    add(functions, `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`, dt);
    add(areas, areaOf(file, frame.functionName), dt);
    all += dt;
  }
  const sorted = (map: Map<string, number>) => [...map].map(([name, t]) => ({ name, share: t / all })).sort((a, b) => b.share - a.share);
  return { functions: sorted(functions), areas: sorted(areas) };
}

/** `~/undici`, `core/store`, `node:internal`, or V8's row name (`(garbage collector)`), or `native` for C++ builtins. */
function areaOf(file: string, functionName: string): string {
  if (file === '') return functionName.startsWith('(') ? functionName : 'native';
  if (file.startsWith('~/')) return file.split('/').slice(0, file.startsWith('~/@') ? 3 : 2).join('/');
  if (file.startsWith('node:')) return 'node internals';
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts.length === 2 ? `${parts[0]}/${parts[1]}` : file;
}

/** Run wrk against `url` for the measured window; the process must have been started with --cpu-prof into `dir`. */
async function profiled(url: string, tokenFile: string, stop: () => Promise<void>, dir: string): Promise<{ rps: number; errors: number; profile: CpuProfile }> {
  await runWrk({ url, tokens: tokenFile, seconds: 1 });
  const run = await runWrk({ url, tokens: tokenFile, seconds: SECONDS });
  await stop();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  return { rps: run.rps, errors: run.errors, profile: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile };
}

async function main(): Promise<void> {
  const tokens = await prepareTokens(1000, log);
  const idp = await startIdp(tokens.jwks, tokens.dir);
  const cpuProf = (dir: string) => ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  try {
    const upstream = await startNode(`${DIST}servers/upstream.js`, [], { name: 'upstream' });
    const upstreamUrl = `http://127.0.0.1:${String(upstream.ready.port)}`;
    const tokenFile = process.env.BENCH_PROFILE_TOKENS ?? tokens.fewJwt;

    const bareDir = mkdtempSync(join(tmpdir(), 'portcullis-profile-bare-'));
    const bare = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl], { name: 'bare proxy', nodeArgs: cpuProf(bareDir) });
    log(`profiling the bare proxy for ${SECONDS} s`);
    const ceiling = await profiled(`http://127.0.0.1:${String(bare.ready.port)}/api/x`, tokenFile, async () => void (await bare.stop()), bareDir);

    const gatewayDir = mkdtempSync(join(tmpdir(), 'portcullis-profile-'));
    const gateway = await startPortcullis({ upstream: upstreamUrl, nodeArgs: cpuProf(gatewayDir) });
    await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
    log(`profiling scenario 3a for ${SECONDS} s`);
    const portcullis = await profiled(`${gateway.url}/api/x`, tokenFile, async () => void (await gateway.child.stop()), gatewayDir);
    await upstream.stop();

    const window = SECONDS * 1e6;
    const bareTimes = selfTimes(ceiling.profile, window);
    const times = selfTimes(portcullis.profile, window);
    // Sampled time per request, in µs: what each area costs one request, comparable across the two processes.
    const perRequest = (share: number, rps: number) => (share * window) / (rps * SECONDS);
    process.stdout.write(
      `under --cpu-prof (which slows both): bare proxy ${Math.round(ceiling.rps)} req/s, Portcullis 3a ${Math.round(portcullis.rps)} req/s ` +
        `(ratio ${(portcullis.rps / ceiling.rps).toFixed(2)}), errors ${ceiling.errors} / ${portcullis.errors}\n`,
    );
    process.stdout.write(`sampled µs per request by area (idle included), Portcullis next to the bare proxy:\n`);
    const bareByArea = new Map(bareTimes.areas.map((a) => [a.name, a.share]));
    for (const { name, share } of times.areas.filter((a) => a.share >= 0.005)) {
      const bareUs = perRequest(bareByArea.get(name) ?? 0, ceiling.rps);
      process.stdout.write(`${perRequest(share, portcullis.rps).toFixed(1).padStart(7)} µs ${bareUs.toFixed(1).padStart(7)} µs  ${name}\n`);
    }
    process.stdout.write(`Portcullis by function, top ${TOP} (µs per request, share):\n`);
    for (const { name, share } of times.functions.slice(0, TOP)) {
      process.stdout.write(`${perRequest(share, portcullis.rps).toFixed(1).padStart(7)} µs ${(share * 100).toFixed(1).padStart(5)} %  ${name}\n`);
    }
    process.stdout.write(`profiles: ${gatewayDir} (Portcullis), ${bareDir} (bare proxy)\n`);
  } finally {
    await stopAll();
    await idp.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

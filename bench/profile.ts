// `npm run bench:profile`: scenario 3a (JWT, few tokens, full path) under wrk with the gateway run by `node --cpu-prof`; prints the functions that cost the most, next to the bare proxy's rate.
//
//   BENCH_SECONDS=10 npm run bench:profile        # longer run
//   BENCH_PROFILE_TOKENS=bench/…/gateway.txt      # another token file (default: the 3a tokens)
//
// The .cpuprofile is kept (its path is printed): open it in Chrome DevTools or speedscope for the call tree.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startIdp } from './lib/idp.js';
import { configureFullPath, startPortcullis } from './lib/portcullis.js';
import { startChild, stopAllChildren } from './lib/procs.js';
import { AUDIENCE, ISSUER, prepareTokens } from './lib/tokens.js';
import { runWrk } from './lib/wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const TOP = Number(process.env.BENCH_PROFILE_TOP ?? 30);
const DIST = fileURLToPath(new URL('./', import.meta.url));
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

async function main(): Promise<void> {
  const tokens = await prepareTokens(1000, log);
  const idp = await startIdp(tokens.jwks, tokens.dir);
  const profileDir = mkdtempSync(join(tmpdir(), 'portcullis-profile-'));
  try {
    const upstream = await startChild('upstream', process.execPath, [`${DIST}servers/upstream.js`]);
    const upstreamUrl = `http://127.0.0.1:${String(upstream.ready.port)}`;
    const bare = await startChild('bare proxy', process.execPath, [`${DIST}servers/bare-proxy.js`, upstreamUrl]);
    const tokenFile = process.env.BENCH_PROFILE_TOKENS ?? tokens.fewJwt;
    await runWrk({ url: `http://127.0.0.1:${String(bare.ready.port)}/api/x`, tokens: tokenFile, seconds: 1 });
    const ceiling = await runWrk({ url: `http://127.0.0.1:${String(bare.ready.port)}/api/x`, tokens: tokenFile, seconds: SECONDS });
    await bare.stop();

    const gateway = await startPortcullis({ upstream: upstreamUrl, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] });
    await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
    await runWrk({ url: `${gateway.url}/api/x`, tokens: tokenFile, seconds: 1 });
    log(`profiling scenario 3a for ${SECONDS} s`);
    const run = await runWrk({ url: `${gateway.url}/api/x`, tokens: tokenFile, seconds: SECONDS });
    await gateway.child.stop();
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile written in ${profileDir}`);
    const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;

    process.stdout.write(`ceiling ${Math.round(ceiling.rps)} req/s; Portcullis 3a under --cpu-prof ${Math.round(run.rps)} req/s (${(run.rps / ceiling.rps).toFixed(2)}; profiling slows it), ${run.errors} errors\n`);
    const { functions, areas } = selfTimes(profile, SECONDS * 1e6);
    const print = (rows: Share[]) => rows.forEach(({ name, share }) => process.stdout.write(`${(share * 100).toFixed(1).padStart(5)} %  ${name}\n`));
    process.stdout.write(`self time during the run, by area (profile: ${join(profileDir, file)}):\n`);
    print(areas.filter((a) => a.share >= 0.005));
    process.stdout.write(`by function, top ${TOP}:\n`);
    print(functions.slice(0, TOP));
    await upstream.stop();
  } finally {
    await stopAllChildren();
    await idp.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

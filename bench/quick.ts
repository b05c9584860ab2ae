// `npm run bench:quick`: the ceiling (2), the Koa floor (2k) and Portcullis 3a in alternating short rounds, for checking one change quickly; prints each round and the median ratio.
//
//   BENCH_ROUNDS=5 BENCH_SECONDS=3 npm run bench:quick
//   BENCH_QUICK_CLI=/elsewhere/dist/server/cli.js npm run bench:quick   # adds another build's 3a as a third contender (several: comma-separated)
//   BENCH_QUICK_ABLATE=audit,rateLimit npm run bench:quick              # adds 3a with that part of the full path switched off
//   BENCH_QUICK_WORKERS=2 npm run bench:quick                           # every Portcullis contender with serve --workers 2
//   BENCH_QUICK_CREDENTIAL=gateway-token npm run bench:quick            # scenario 4a: each Portcullis contender issues a gateway token and is called with it
//
// Alternating rounds share the machine's drift, so their ratio says more than two separate runs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startIdp } from './lib/idp.js';
import { configureFullPath, startPortcullis, type Portcullis } from './lib/portcullis.js';
import { startNode, stopAll } from '../test/support/processes.js';
import { AUDIENCE, ISSUER, prepareTokens } from './lib/tokens.js';
import { cpuSecondsBetween, cpuTicks } from './lib/proc-stats.js';
import { runWrk } from './lib/wrk.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const OTHER_CLIS = (process.env.BENCH_QUICK_CLI ?? '').split(',').filter(Boolean);
/** Parts of the full path an ablation can switch off, as the settings patch that does it. */
const ABLATIONS: Record<string, unknown> = {
  audit: { audit: { enabled: false } },
  rateLimit: { rateLimit: { enabled: false } },
  ip: { ip: { allow: [] } },
  groups: { groups: { allowed: [] } },
};
const ABLATE = (process.env.BENCH_QUICK_ABLATE ?? '').split(',').filter(Boolean);
const WORKERS = Number(process.env.BENCH_QUICK_WORKERS ?? 1);
if (!Number.isInteger(WORKERS) || WORKERS < 1) throw new TypeError('BENCH_QUICK_WORKERS must be a whole number, 1 or more');
for (const name of ABLATE) if (!(name in ABLATIONS)) throw new TypeError(`BENCH_QUICK_ABLATE: unknown part ${name} (known: ${Object.keys(ABLATIONS).join(', ')})`);
const CREDENTIAL = process.env.BENCH_QUICK_CREDENTIAL ?? 'jwt';
if (CREDENTIAL !== 'jwt' && CREDENTIAL !== 'gateway-token') throw new TypeError('BENCH_QUICK_CREDENTIAL must be jwt or gateway-token');
const DIST = fileURLToPath(new URL('.//', import.meta.url));
const log = (line: string): void => void process.stderr.write(`[quick] ${line}\n`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function main(): Promise<void> {
  const tokens = await prepareTokens(Number(process.env.BENCH_MANY_TOKENS ?? 40_000), log);
  const idp = await startIdp(tokens.jwks, tokens.dir);
  const upstream = await startNode(`${DIST}servers/upstream.js`, [], { name: 'upstream' });
  const upstreamUrl = `http://127.0.0.1:${String(upstream.ready.port)}`;
  const bare = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl], { name: 'bare proxy' });
  const koa = await startNode(`${DIST}servers/bare-proxy.js`, [upstreamUrl, '--koa'], { name: 'bare proxy under Koa' });
  const contenders: { name: string; url: string; tokens: string; pid: number; gateway?: Portcullis }[] = [
    { name: 'ceiling', url: `http://127.0.0.1:${String(bare.ready.port)}/api/x`, tokens: tokens.fewJwt, pid: bare.pid },
    { name: 'koa floor', url: `http://127.0.0.1:${String(koa.ready.port)}/api/x`, tokens: tokens.fewJwt, pid: koa.pid },
  ];
  /** The bearer tokens a contender is called with: the JWTs of 3a, or a gateway token it issued (4a). */
  const credentialFile = async (name: string, gateway: Portcullis): Promise<string> => {
    if (CREDENTIAL === 'jwt') return tokens.fewJwt;
    const res = await gateway.admin('POST', '/tokens', { owner: 'bench', name: 'bench', groups: ['developers'] });
    const token = (res.json as { token?: unknown } | undefined)?.token;
    if (res.status !== 201 || typeof token !== 'string') throw new Error(`${name}: POST /tokens answered ${res.status}`);
    const file = `${tokens.dir}/quick-${contenders.length}.txt`;
    writeFileSync(file, `${token}\n`);
    return file;
  };
  const configure = async (name: string, cli?: string, patch?: unknown) => {
    const gateway = await startPortcullis({ upstream: upstreamUrl, workers: WORKERS, ...(cli ? { cli } : {}) });
    await configureFullPath(gateway, { issuer: ISSUER, audience: AUDIENCE, jwksUri: idp.jwksUri, userinfoUri: idp.userinfoUri });
    if (patch !== undefined) {
      const res = await gateway.admin('PATCH', '/settings', patch);
      if (res.status !== 200) throw new Error(`${name}: PATCH /settings answered ${res.status}`);
    }
    contenders.push({ name, url: `${gateway.url}/api/x`, tokens: await credentialFile(name, gateway), pid: gateway.child.pid, gateway });
  };
  const base = CREDENTIAL === 'jwt' ? '3a' : '4a';
  await configure(base);
  for (const [i, cli] of OTHER_CLIS.entries()) await configure(OTHER_CLIS.length === 1 ? `${base} other` : `${base} other ${i + 1}`, cli);
  for (const part of ABLATE) await configure(`${base} without ${part}`, undefined, ABLATIONS[part]);
  for (const c of contenders) await runWrk({ url: c.url, tokens: c.tokens, seconds: 1 });

  const rates = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  // Server CPU per request (the process tree under test): steadier than req/s on a shared machine.
  const cpuPerRequest = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const c of contenders) {
      const before = cpuTicks(c.pid);
      const wrk = await runWrk({ url: c.url, tokens: c.tokens, seconds: SECONDS });
      const us = (cpuSecondsBetween(before, cpuTicks(c.pid)) * 1e6) / wrk.requests;
      if (wrk.errors > 0) log(`${c.name}: ${wrk.errors} errors`);
      rates.get(c.name)!.push(wrk.rps);
      cpuPerRequest.get(c.name)!.push(us);
      line.push(`${c.name} ${Math.round(wrk.rps)} req/s p99 ${wrk.p99Ms} ms ${Math.round(us)} µs CPU/req`);
    }
    log(`round ${round}: ${line.join(' | ')}`);
  }
  const ceiling = rates.get('ceiling')!;
  for (const c of contenders.slice(1)) {
    const ratios = rates.get(c.name)!.map((r, i) => r / ceiling[i]!);
    process.stdout.write(`${c.name}/ceiling: median ${median(ratios).toFixed(3)} (rounds: ${ratios.map((r) => r.toFixed(3)).join(' ')}); median ${Math.round(median(rates.get(c.name)!))} req/s against ${Math.round(median(ceiling))}\n`);
    const cpu = cpuPerRequest.get(c.name)!.map((us, i) => cpuPerRequest.get('ceiling')![i]! / us);
    process.stdout.write(`${c.name}: ceiling's CPU per request / this one's: median ${median(cpu).toFixed(3)} (${Math.round(median(cpuPerRequest.get(c.name)!))} µs against ${Math.round(median(cpuPerRequest.get('ceiling')!))} µs)\n`);
  }
  for (const c of contenders) await c.gateway?.stop();
  await idp.close();
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());

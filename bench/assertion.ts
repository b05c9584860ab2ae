// The identity assertion's cost on the request path (issue 20): microseconds per signed X-Portcullis-Assertion, against the gateway's per-request budget.
//
// npm run bench:assertion   (BENCH_REQUESTS, default 20000)
// Human lines go to stderr, one JSON line to stdout.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import type { Decision } from '../core/access.js';
import { systemClock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import { defaultSettings, settingsSchema } from '../core/settings/schema.js';
import { loadAssertionKeys } from '../server/assertion-keys.js';
import { AssertionSigner } from '../server/gateway/assertion.js';

const SIGNATURES = Math.min(Number(process.env.BENCH_REQUESTS ?? 20_000), 1_000_000);
const log = (line: string): void => void process.stderr.write(`assertion: ${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-assertion-'));
try {
  const keys = await loadAssertionKeys(join(dir, 'assertion-keys.json'), systemClock.now(), silentLogger);
  const signer = new AssertionSigner(keys, { defaultAudience: 'https://upstream.example', clock: systemClock, logger: silentLogger });
  const perRequest = settingsSchema.parse({ assertion: { enabled: true, reuseSeconds: 0 } });
  const reusing = settingsSchema.parse({ assertion: { enabled: true } });
  // Identity objects come from the identity caches, one per caller: 50 callers here, each on 20 paths.
  const callers = Array.from({ length: 50 }, (_, u) => ({
    subject: `s-user${u}`, username: `user${u}`, groups: ['dev', 'jira-users'], provider: 'corp', scopes: [], tokenId: `t${u}`,
  }));
  const decision = (i: number): Decision => ({
    allow: true, status: 200, reason: 'authenticated', stage: 'pipeline', trace: [], credentialConsumed: true, identity: callers[i % 50]!,
  });
  const run = async (settings: typeof defaultSettings, n: number): Promise<number> => {
    const start = performance.now();
    for (let i = 0; i < n; i++) await signer.sign(settings, decision(i), { requestId: `req-${i}`, method: 'GET', path: `/rest/api/2/issue/PROJ-${i % 20}` });
    return ((performance.now() - start) * 1000) / n;
  };
  await run(perRequest, 2000); // warm-up
  const disabled = await run(defaultSettings, SIGNATURES);
  const signed = await run(perRequest, SIGNATURES);
  const reused = await run(reusing, SIGNATURES);
  log(`assertion.enabled false: ${disabled.toFixed(2)} µs a request (the settings check only)`);
  log(`reuseSeconds 0: ${signed.toFixed(1)} µs a request (one Ed25519 signature with jose each), ${Math.round(1e6 / signed)} signatures/s on one core`);
  log(`reuseSeconds 10 (default), 50 callers x 20 paths: ${reused.toFixed(2)} µs a request (1000 signatures, then reuse)`);
  process.stdout.write(
    `${JSON.stringify({ requests: SIGNATURES, disabledMicros: Number(disabled.toFixed(2)), signedMicros: Number(signed.toFixed(1)), reusedMicros: Number(reused.toFixed(2)) })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// Preloaded into the gateway by the soak (`node --import …/soak-preload.js`): once a second, one JSON line of
// event-loop delay (perf_hooks.monitorEventLoopDelay) and memory to SOAK_SAMPLES_FILE. No product code changes.
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

/** The histogram's timer interval: every sample includes it, so it is subtracted to give the delay alone. */
export const RESOLUTION_MS = 10;

export interface SoakSample {
  /** Wall-clock ms. */
  readonly t: number;
  /** Event-loop delay over the last second, ms. */
  readonly eldP50: number;
  readonly eldP99: number;
  readonly eldMax: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

const file = process.env.SOAK_SAMPLES_FILE;
// Worker threads inherit --import: the SQLite append thread would interleave its own samples (its
// loop waits on every commit by design) with the event loop that serves requests.
if (file && isMainThread) {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const delay = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  setInterval(() => {
    const memory = process.memoryUsage();
    const sample: SoakSample = {
      t: Date.now(),
      eldP50: delay(histogram.percentile(50)),
      eldP99: delay(histogram.percentile(99)),
      eldMax: delay(histogram.max),
      rssMb: memory.rss / 2 ** 20,
      heapUsedMb: memory.heapUsed / 2 ** 20,
    };
    histogram.reset();
    appendFileSync(file, `${JSON.stringify(sample)}\n`);
  }, 1000).unref();
}

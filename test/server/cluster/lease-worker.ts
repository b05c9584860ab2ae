// A forked stand-in for a gateway worker (rate-limit.test.ts): hammers one key through ClusterRateLimiter's leases over real IPC and reports what it was allowed.
import { ClusterRateLimiter } from '../../../server/cluster/rate-limit.js';

interface Go {
  readonly t: 'go';
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly lanes: number;
  /** A lane stops once it has been refused in this many different windows. */
  readonly windows: number;
}

const limiter = new ClusterRateLimiter(
  { send: (m) => process.send!(m), on: (e, l) => process.on(e, l), get connected() { return process.connected; } },
  // No idle returns: a lease this worker holds is spent here or ends with its window.
  { timer: false },
);

process.on('message', (message: { t?: string }) => {
  if (message.t !== 'go') return;
  void hammer(message as Go);
});

async function hammer(go: Go): Promise<void> {
  const policy = { limit: go.limit, windowMs: go.windowMs };
  /** Admitted requests by the end of their window (resetAt). */
  const admitted: Record<string, number> = {};
  /** Per lane, the windows it was refused in. */
  const refusedIn: number[][] = [];
  const lane = async (n: number): Promise<void> => {
    const refused = new Set<number>();
    while (refused.size < go.windows) {
      const result = await limiter.consume(go.key, policy);
      if (result.allowed) admitted[result.resetAt] = (admitted[result.resetAt] ?? 0) + 1;
      else refused.add(result.resetAt);
    }
    refusedIn[n] = [...refused];
  };
  await Promise.all(Array.from({ length: go.lanes }, (_, n) => lane(n)));
  process.send!({ t: 'done', admitted, refusedIn });
}

process.send!({ t: 'ready' });

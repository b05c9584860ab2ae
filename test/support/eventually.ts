// Waiting in tests: try a check until it holds, within a generous bound, instead of sleeping a fixed time and hoping.
//
// `within` bounds the wait; it is not a claim about speed. Make it several times what the thing
// should take, so a busy machine makes the test slower, never red. A test that must show
// something did NOT happen waits for a positive sign of what happened instead (an event, a
// counter) rather than for time to pass.

export interface EventuallyOptions {
  /** Give up after this many milliseconds, with the check's last failure. */
  readonly within: number;
  /** Pause between tries; default 25 ms. */
  readonly every?: number;
  /** What is awaited, for the error when it never holds ("the second node refuses the token"). */
  readonly what?: string;
}

/**
 * Runs `check` until it returns something other than `false` without throwing, and returns that.
 * A check is either a predicate (`() => audit.pending === 0`) or an assertion that throws until it
 * holds (`async () => { expect((await call(url)).status).to.equal(200); }`); either may be async.
 * @throws the check's last error, or an Error naming `what`, once `within` ms have passed
 * @example const res = await eventually(async () => { const r = await get(); expect(r.status).to.equal(401); return r; }, { within: 10_000 });
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions): Promise<Exclude<T, false>> {
  const deadline = Date.now() + options.within;
  const every = options.every ?? 25;
  for (;;) {
    let failure: unknown;
    try {
      const value = await check();
      if (value !== false) return value as Exclude<T, false>;
      failure = new Error(`${options.what ?? 'the check'} did not hold within ${options.within} ms`);
    } catch (err) {
      failure = err;
    }
    if (Date.now() >= deadline) throw failure;
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

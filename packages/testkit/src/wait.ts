// Waiting on a condition with a deadline, the one way tests wait here: never a fixed sleep, which
// fails on a busy machine and wastes time on an idle one.

export interface WaitOptions {
  /** Give up after this long (default 10 s: a 2-core machine shared with other suites is slow). */
  timeoutMs?: number;
  /** Pause between checks (default 20 ms). */
  intervalMs?: number;
  /** Named in the error when the deadline passes. */
  what?: string;
}

/** A number is the timeout in ms. */
export type Wait = number | WaitOptions;

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 20;

function options(wait: Wait): Required<WaitOptions> {
  const o = typeof wait === 'number' ? { timeoutMs: wait } : wait;
  return {
    timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    intervalMs: o.intervalMs ?? DEFAULT_INTERVAL_MS,
    what: o.what ?? 'condition',
  };
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds, with the milliseconds it took; rejects at the deadline. */
export async function until(condition: () => boolean | Promise<boolean>, wait: Wait = {}): Promise<number> {
  const { timeoutMs, intervalMs, what } = options(wait);
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await pause(intervalMs);
  }
  return Date.now() - start;
}

/** Resolves with the first value `probe` returns other than undefined; rejects at the deadline. */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  wait: Wait = {},
): Promise<T> {
  const { timeoutMs, intervalMs, what } = options(wait);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${timeoutMs} ms)`);
    await pause(intervalMs);
  }
}

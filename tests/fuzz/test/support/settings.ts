// Knobs of a fuzz run, from the environment of `npm test` (the suite's only reader of process.env).
//   FUZZ_RUNS         requests per app (default 10000)
//   FUZZ_SEED         fast-check seed (default fixed, so `npm test` is reproducible)
//   FUZZ_PATH         fast-check replay path printed by a failure (with its FUZZ_SEED)
//   FUZZ_BATCH        requests per fast-check run (the process is checked after each; default 250)
//   FUZZ_CONCURRENCY  requests in flight at once (default 12)
//   FUZZ_TIMEOUT_MS   longest wait for one answer (default 30000)
//   FUZZ_KEEP_GOING   1: finish the run and list every violation instead of stopping at the first batch
//   FUZZ_VERBOSE      1: per-batch timings, the slowest requests, CPU of the app and of the test process
//   FUZZ_DUMP         file: append one line per exchange (answer, ms, request) for analysis

export interface FuzzSettings {
  runs: number;
  seed: number;
  path: string | undefined;
  batch: number;
  concurrency: number;
  timeoutMs: number;
  keepGoing: boolean;
  verbose: boolean;
  dump: string | undefined;
}

export const DEFAULT_SEED = 1_414_014;

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function fuzzSettings(): FuzzSettings {
  const seedText = process.env.FUZZ_SEED;
  const seed = seedText === undefined || seedText.trim() === '' ? DEFAULT_SEED : Number(seedText);
  if (!Number.isInteger(seed))
    throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(seedText)}`);
  return {
    runs: positive('FUZZ_RUNS', 10_000),
    seed,
    path: process.env.FUZZ_PATH?.trim() || undefined,
    batch: positive('FUZZ_BATCH', 250),
    concurrency: positive('FUZZ_CONCURRENCY', 12),
    timeoutMs: positive('FUZZ_TIMEOUT_MS', 30_000),
    keepGoing: process.env.FUZZ_KEEP_GOING === '1',
    verbose: process.env.FUZZ_VERBOSE === '1',
    dump: process.env.FUZZ_DUMP?.trim() || undefined,
  };
}

// An identity-provider outage under steady load, as the apps' e2e tests stage it against dev-entra:
// requests keep coming from a few workers while dev-entra goes down, the held token runs out, and
// dev-entra comes back. Every request is kept as a sample (start, status, Retry-After, body), so a
// test can check each phase: all 2xx while the old token is valid, 503 with Retry-After and a
// reason once it has expired, 2xx again soon after the IdP is back.

export interface Sample {
  /** Epoch ms when the request was sent and when its answer was complete. */
  start: number;
  end: number;
  /** 0 when the request failed without an HTTP answer. */
  status: number;
  retryAfter: string | null;
  body: string;
}

export interface SteadyLoad {
  readonly samples: Sample[];
  /** Stops the workers and waits for their requests in flight. */
  stop(): Promise<void>;
}

/** `workers` loops, each sending `request()` and pausing `pauseMs` between answers. */
export function steadyLoad(request: () => Promise<Response>, workers = 4, pauseMs = 50): SteadyLoad {
  const samples: Sample[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const start = Date.now();
      try {
        const res = await request();
        const body = await res.text();
        samples.push({
          start,
          end: Date.now(),
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          body,
        });
      } catch (err) {
        samples.push({ start, end: Date.now(), status: 0, retryAfter: null, body: String(err) });
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const loops = Array.from({ length: workers }, worker);
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Polls `condition` every 100 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface OutageControls {
  /** Takes the IdP down (e.g. `() => entra.setDown(true, 'refuse')`). */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Expiry (epoch ms) of the token the app holds, as the app reports it. */
  heldTokenExpiry(): Promise<number>;
}

export interface OutageOptions {
  /** How long the IdP stays down after the held token expired (long enough for backoff to grow). */
  downAfterExpiryMs: number;
  /** How long to wait for a 2xx after the IdP is back before giving up (the assertion bounds it). */
  recoveryTimeoutMs?: number;
  /** How long the load goes on after the first 2xx (2 s). */
  watchAfterRecoveryMs?: number;
}

export interface OutageRun {
  samples: Sample[];
  downAt: number;
  /** Expiry of the token held when the IdP went down. */
  expiresAt: number;
  upAt: number;
  /** The first request sent after `upAt` that was answered 2xx, undefined if none came. */
  recovered: Sample | undefined;
}

/**
 * Stages the outage on a running app while `load` runs: down, wait past the held token's expiry
 * plus `downAfterExpiryMs`, up, wait for the first 2xx. The caller stops the load.
 */
export async function runIdpOutage(
  load: SteadyLoad,
  controls: OutageControls,
  options: OutageOptions,
): Promise<OutageRun> {
  await waitUntil(() => load.samples.some((s) => s.status >= 200 && s.status < 300), 30_000, 'a first 2xx');
  await controls.down();
  const downAt = Date.now();
  const expiresAt = await controls.heldTokenExpiry();
  const upAfter = expiresAt + options.downAfterExpiryMs;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, upAfter - Date.now())));
  await controls.up();
  const upAt = Date.now();
  // Samples are pushed as they are answered: the first one found is the earliest 2xx.
  const recovered = () => load.samples.find((s) => s.start >= upAt && s.status >= 200 && s.status < 300);
  await waitUntil(
    () => recovered() !== undefined,
    options.recoveryTimeoutMs ?? 60_000,
    'a 2xx after the IdP came back',
  ).catch(
    () => undefined, // reported through `recovered`, so the test's assertion says what happened
  );
  // Keep watching a little: what comes after the first 2xx must be 2xx too.
  const first = recovered();
  if (first !== undefined)
    await new Promise((resolve) => setTimeout(resolve, options.watchAfterRecoveryMs ?? 2_000));
  return { samples: [...load.samples], downAt, expiresAt, upAt, recovered: first };
}

/** One line per phase for the test log: counts of statuses. */
export function describeOutage(run: OutageRun): string {
  const phase = (from: number, to: number) => {
    const counts: Record<number, number> = {};
    for (const s of run.samples)
      if (s.start >= from && s.start < to) counts[s.status] = (counts[s.status] ?? 0) + 1;
    return JSON.stringify(counts);
  };
  return (
    `down at +0 ms, token expiry at +${run.expiresAt - run.downAt} ms, up at +${run.upAt - run.downAt} ms, ` +
    `first 2xx ${run.recovered === undefined ? 'never came' : `answered ${run.recovered.end - run.upAt} ms after up`}; ` +
    `statuses before expiry ${phase(run.downAt, run.expiresAt)}, expired ${phase(run.expiresAt, run.upAt)}, ` +
    `after up ${phase(run.upAt, Number.POSITIVE_INFINITY)}`
  );
}

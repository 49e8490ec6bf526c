// Kubernetes probes: /livez says the process and its event loop are alive; /readyz asks the app
// whether it can serve now (token held, informer synced) and answers 503 with details when not.
import { Router } from 'express';
import { redact } from './redact.js';

export type ReadyResult = boolean | { ready: boolean; details?: object };
export type ReadyCheck = () => ReadyResult | Promise<ReadyResult>;

export interface HealthOptions {
  /** Readiness; absent means "ready whenever alive". Exceptions and timeouts count as not ready. */
  ready?: ReadyCheck;
  /** How long /readyz waits for `ready()` before answering 503. */
  readyTimeoutMs?: number;
}

export const LIVEZ_PATH = '/livez';
export const READYZ_PATH = '/readyz';

export function healthRoutes(options: HealthOptions = {}): Router {
  const router = Router();
  const timeoutMs = options.readyTimeoutMs ?? 5_000;

  router.get(LIVEZ_PATH, (_req, res) => {
    res.set('cache-control', 'no-store').json({ status: 'ok' });
  });

  router.get(READYZ_PATH, async (_req, res) => {
    const { ready, details } = await evaluate(options.ready, timeoutMs);
    const body: Record<string, unknown> = { status: ready ? 'ready' : 'not_ready' };
    if (details !== undefined) body.details = redact(details);
    res
      .status(ready ? 200 : 503)
      .set('cache-control', 'no-store')
      .json(body);
  });

  return router;
}

async function evaluate(
  check: ReadyCheck | undefined,
  timeoutMs: number,
): Promise<{ ready: boolean; details?: object }> {
  if (!check) return { ready: true };
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      Promise.resolve().then(check),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`readiness check timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    if (typeof result === 'boolean') return { ready: result };
    if (result && typeof result === 'object' && typeof result.ready === 'boolean') {
      return result.details === undefined
        ? { ready: result.ready }
        : { ready: result.ready, details: result.details };
    }
    return { ready: false, details: { error: 'readiness check returned an unexpected value' } };
  } catch (error) {
    return { ready: false, details: { error: error instanceof Error ? error.message : String(error) } };
  } finally {
    clearTimeout(timer);
  }
}

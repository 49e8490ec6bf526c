// Upstream exchange metrics: what the sidecar's own HTTP metrics cannot tell (replays after a 401,
// why an exchange failed). Feed `onResult` of the forwarder with `forwardMetrics(registry).record`.
import { Counter, type Registry } from 'prom-client';
import type { ForwardResult } from './forwarder.js';

export const METRIC_UPSTREAM_RESPONSES = 'proxy_upstream_responses_total';
export const METRIC_UPSTREAM_REPLAYS = 'proxy_upstream_replays_total';

export interface ForwardMetrics {
  record(result: ForwardResult): void;
}

export function forwardMetrics(registry: Registry): ForwardMetrics {
  const responses = new Counter({
    name: METRIC_UPSTREAM_RESPONSES,
    help: 'Forwarded requests by upstream status (or mapped status) and outcome (ok or the failure reason).',
    labelNames: ['status', 'outcome'] as const,
    registers: [registry],
  });
  const replays = new Counter({
    name: METRIC_UPSTREAM_REPLAYS,
    help: 'Requests replayed once after an upstream 401 and a forced token refresh.',
    registers: [registry],
  });
  return {
    record(result) {
      responses.inc({ status: String(result.status), outcome: result.error ?? 'ok' });
      if (result.replayed) replays.inc();
    },
  };
}

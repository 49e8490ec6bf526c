// prom-client metrics of TokenProvider. Created once per registry and labelled by scope, because
// token-server runs one provider per scope against one registry.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { METRIC_TOKEN_ACQUIRE_DURATION, METRIC_TOKEN_EXPIRY, METRIC_TOKEN_REFRESH } from './constants.js';

export interface TokenMetrics {
  expiry: Gauge<'scope'>;
  refreshes: Counter<'scope' | 'result'>;
  acquireDuration: Histogram<'scope'>;
}

const byRegistry = new WeakMap<Registry, TokenMetrics>();

export function registerTokenMetrics(registry: Registry): TokenMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: TokenMetrics = {
    expiry:
      reuse(registry, METRIC_TOKEN_EXPIRY) ??
      new Gauge({
        name: METRIC_TOKEN_EXPIRY,
        help: 'Expiry of the access token currently held, as a Unix timestamp in seconds.',
        labelNames: ['scope'],
        registers: [registry],
      }),
    refreshes:
      reuse(registry, METRIC_TOKEN_REFRESH) ??
      new Counter({
        name: METRIC_TOKEN_REFRESH,
        help: 'Token acquisitions by result (success, failure).',
        labelNames: ['scope', 'result'],
        registers: [registry],
      }),
    acquireDuration:
      reuse(registry, METRIC_TOKEN_ACQUIRE_DURATION) ??
      new Histogram({
        name: METRIC_TOKEN_ACQUIRE_DURATION,
        help: 'Duration of token requests to the identity provider, in seconds.',
        labelNames: ['scope'],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}

/** A metric of that name already in the registry (another copy of auth-core registered it). */
function reuse<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

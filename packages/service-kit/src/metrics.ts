// Prometheus metrics shared by every service: one Registry per process with Node's default metrics
// and an HTTP request-duration histogram fed by baseMiddleware, scraped through metricsRoute().
import { Router } from 'express';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const HTTP_REQUEST_DURATION_METRIC = 'http_request_duration_seconds';

export interface Metrics {
  registry: Registry;
  /** Request duration in seconds, labelled method, route, status. */
  httpRequests: Histogram<'method' | 'route' | 'status'>;
}

export interface CreateMetricsOptions {
  /**
   * Node's process metrics (default true). A registry that is never scraped (a warm-up's) goes
   * without: they keep an event-loop delay monitor running for the life of the process.
   */
  defaultMetrics?: boolean;
}

export function createMetrics(service: string, options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const httpRequests = new Histogram({
    name: HTTP_REQUEST_DURATION_METRIC,
    help: 'HTTP requests served, by method, route template and status code (duration in seconds).',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return { registry, httpRequests };
}

/** `GET /metrics` in the Prometheus text format of `registry`. */
export function metricsRoute(registry: Registry, path = '/metrics'): Router {
  const router = Router();
  router.get(path, async (_req, res) => {
    const body = await registry.metrics();
    res.set('content-type', registry.contentType).set('cache-control', 'no-store').send(body);
  });
  return router;
}

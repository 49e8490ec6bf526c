import express from 'express';
import { createMetrics, metricsRoute, HTTP_REQUEST_DURATION_METRIC } from '../src/metrics.js';
import { baseMiddleware } from '../src/http.js';
import { serve } from '../src/server.js';
import { captureLogger, sample } from './helpers.js';

describe('createMetrics / metricsRoute', () => {
  it('serves default and HTTP metrics in the Prometheus text format', async () => {
    const metrics = createMetrics('svc-a');
    const app = express();
    app.use(baseMiddleware({ logger: captureLogger().logger, metrics }));
    app.get('/items/:id', (_req, res) => {
      res.json({ ok: true });
    });
    app.use(metricsRoute(metrics.registry));
    const running = await serve(app, { host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    try {
      await (await fetch(`${running.url}/items/1`)).text();
      await (await fetch(`${running.url}/items/2`)).text();
      await (await fetch(`${running.url}/nowhere`)).text();
      const res = await fetch(`${running.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      expect(text).toMatch(/^# HELP process_cpu_user_seconds_total/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds\{service="svc-a"\} /m);
      expect(text).toContain(`# TYPE ${HTTP_REQUEST_DURATION_METRIC} histogram`);
      // Route templates, not raw paths, keep cardinality bounded.
      const count = (labels: Record<string, string>) =>
        sample(text, 'http_request_duration_seconds_count', { service: 'svc-a', ...labels });
      expect(count({ method: 'GET', route: '/items/:id', status: '200' })).toBe(2);
      expect(count({ method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
      expect(
        sample(text, 'http_request_duration_seconds_bucket', {
          le: '+Inf',
          route: '/items/:id',
          status: '200',
        }),
      ).toBe(2);
    } finally {
      await running.close();
    }
  });

  it('keeps registries separate per createMetrics call', async () => {
    const a = createMetrics('a');
    const b = createMetrics('b');
    a.httpRequests.observe({ method: 'GET', route: '/x', status: '200' }, 0.1);
    expect(await a.registry.getSingleMetricAsString(HTTP_REQUEST_DURATION_METRIC)).toContain('route="/x"');
    expect(await b.registry.getSingleMetricAsString(HTTP_REQUEST_DURATION_METRIC)).not.toContain(
      'route="/x"',
    );
  });
});

// prom-sidecar benchmark: `npm run bench -w apps/prom-sidecar` (build first). The upstream answers a
// canned instant-query result behind the bearer check, so the proxy is measured, not PromQL. Runs
// the app as its image does (bench/lib/deployed.mjs).
import { runProxyBenchmark } from './lib/proxy-bench.mjs';

/** Runs the benchmark and returns its goal rows (bench/footprint.mjs collects them). */
export const run = () =>
  runProxyBenchmark({
    app: 'prom-sidecar',
    audience: 'https://prometheus.monitor.azure.com',
    upstreamKind: 'prometheus',
    appEnv: ({ upstreamUrl, entra, clientId, certPath }) => ({
      PROMETHEUS_QUERY_ENDPOINT: upstreamUrl,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
    }),
    scenarios: [
      { name: 'GET /api/v1/query?query=up', label: 'GET', request: { path: '/api/v1/query?query=up' } },
      {
        name: 'POST /api/v1/query (form)',
        label: 'POST',
        request: {
          path: '/api/v1/query',
          method: 'POST',
          body: 'query=up&time=1764000000',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        },
      },
    ],
  });

if (import.meta.main) await run();

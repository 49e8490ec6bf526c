// openai-proxy benchmark: `npm run bench -w apps/openai-proxy` (build first: npx turbo run build
// --filter=@auth-sidecars/openai-proxy). Runs the app as its image does (bench/lib/deployed.mjs).
// BENCH_DURATION_S sets seconds per measurement (default 4), BENCH_ROUNDS the rounds (default 3).
import { runProxyBenchmark } from './lib/proxy-bench.mjs';

const chat = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });

/** Runs the benchmark and returns its goal rows (bench/footprint.mjs collects them). */
export const run = () =>
  runProxyBenchmark({
    app: 'openai-proxy',
    audience: 'https://cognitiveservices.azure.com',
    upstreamKind: 'openai',
    appEnv: ({ upstreamUrl, entra, clientId, certPath }) => ({
      API_BASE_URL: upstreamUrl,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CERTIFICATE_PATH: certPath,
    }),
    scenarios: [
      {
        name: 'GET /v1/models',
        label: 'GET',
        request: { path: '/v1/models', headers: { 'api-key': 'client-key' } },
      },
      {
        name: 'POST /v1/chat/completions (JSON)',
        label: 'POST',
        request: {
          path: '/v1/chat/completions',
          method: 'POST',
          body: chat,
          headers: { 'content-type': 'application/json', 'api-key': 'client-key' },
        },
      },
    ],
  });

if (import.meta.main) await run();

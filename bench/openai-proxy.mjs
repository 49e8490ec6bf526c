// openai-proxy benchmark: `npm run bench -w apps/openai-proxy` (build first: npx turbo run build
// --filter=@auth-sidecars/openai-proxy). BENCH_DURATION_S sets seconds per measurement (default 8).
import { runProxyBenchmark } from './lib/proxy-bench.mjs';

const chat = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }] });

await runProxyBenchmark({
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
    { name: 'GET /v1/models', request: { path: '/v1/models', headers: { 'api-key': 'client-key' } } },
    {
      name: 'POST /v1/chat/completions (JSON)',
      request: {
        path: '/v1/chat/completions',
        method: 'POST',
        body: chat,
        headers: { 'content-type': 'application/json', 'api-key': 'client-key' },
      },
    },
  ],
});

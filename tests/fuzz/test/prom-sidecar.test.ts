// prom-sidecar under fuzz: the built dist/main.js with a client secret against dev-entra, forwarding
// the Prometheus read API to a real Prometheus behind a token-checking gate, through a recording hop.
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startTokenGate, type TokenGate } from '@auth-sidecars/testkit/prometheus-gate';
import { startPrometheus, type RunningPrometheus } from '@auth-sidecars/testkit/prometheus';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import type { Vocabulary } from './support/arbitraries.js';
import { memoize, startApp } from './support/apps.js';
import { runFuzz } from './support/harness.js';
import { startRecorder, type Recorder } from './support/recorder.js';
import { fuzzSettings } from './support/settings.js';

const AUDIENCE = 'https://prometheus.monitor.azure.com';
const CLIENT_SECRET = 'fuzz-prom-sidecar-client-secret-5a1c9e';

const vocabulary: Vocabulary = {
  paths: [
    '/api/v1/query',
    '/api/v1/query_range',
    '/api/v1/series',
    '/api/v1/labels',
    '/api/v1/label/job/values',
    '/api/v1/label/__name__/values',
    '/api/v1/metadata',
    '/api/v1/status/config',
    '/api/v1/admin/tsdb/delete_series',
    '/api/v1/write',
    '/federate',
    '/-/reload',
    '/health',
    '/livez',
    '/readyz',
    '/metrics',
  ],
  queries: [
    'query=up',
    'query=rate(prometheus_http_requests_total%5B1m%5D)',
    'query=sum+by+(job)(up)',
    'query=up&time=1700000000',
    'query=up&timeout=1ns',
    'query=%7B__name__%3D~%22.%2B%22%7D',
    'query=up&start=0&end=1e10&step=1',
    'query=up&start=1700000000&end=1700000600&step=15',
    'query=count_over_time(up%5B1y%5D)',
    'query=',
    'query=up)',
    'match[]=up',
    'match[]=%7Bjob%3D%22prometheus%22%7D&start=0',
    'limit=1',
    'metric=up',
  ],
  credentials: ['{{token}}', '{{marker}}', '{{clientsecret}}'],
  headers: [
    ['Authorization', 'Bearer {{token}}'],
    ['Accept-Encoding', 'gzip'],
  ],
  bodies: [
    { contentType: 'application/x-www-form-urlencoded', body: 'query=up' },
    {
      contentType: 'application/x-www-form-urlencoded',
      body: 'query=up&start=1700000000&end=1700000600&step=15',
    },
    { contentType: 'application/x-www-form-urlencoded', body: 'match[]=up&match[]=%7Bjob%3D%22x%22%7D' },
    { contentType: 'application/x-www-form-urlencoded', body: `query=${'up+or+'.repeat(400)}up` },
    { contentType: 'application/json', body: '{"query":"up"}' },
  ],
};

let entra: DevEntra;
let prometheus: RunningPrometheus;
let gate: TokenGate;
let recorder: Recorder;
let app: LaunchedProcess;

beforeAll(async () => {
  [entra, prometheus] = await Promise.all([startDevEntra(), startPrometheus()]);
  const clientId = entra.registerApp({ name: 'prom-sidecar', clientSecret: CLIENT_SECRET }).clientId;
  gate = await startTokenGate({
    upstream: prometheus.url,
    verify: memoize((t) => entra.verifyAccessToken(t, { audience: AUDIENCE })),
  });
  recorder = await startRecorder({ upstream: gate.url });
  app = await startApp('prom-sidecar', {
    AZURE_CLIENT_ID: clientId,
    AZURE_CLIENT_SECRET: CLIENT_SECRET,
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_AUTHORITY_HOST: entra.url,
    NODE_EXTRA_CA_CERTS: entra.caPath,
    PROMETHEUS_QUERY_ENDPOINT: recorder.url,
  });
});

afterAll(async () => {
  await app?.close();
  await recorder?.close();
  await gate?.close();
  await prometheus?.close();
  await entra?.close();
});

it('keeps its properties under generated requests (never exits, no own 5xx, no secret, token or stack out)', async () => {
  const report = await runFuzz({
    app: 'prom-sidecar',
    process: app,
    alivePath: '/livez',
    vocabulary,
    values: () => ({ token: [...recorder.tokens].at(-1) ?? 'no-token-yet', clientsecret: CLIENT_SECRET }),
    secrets: () => [CLIENT_SECRET],
    tokens: () => [...recorder.tokens],
    upstreamFailure: (ex, res) => recorder.passedOn(ex.request.id, res.status),
    check: (ex) => {
      const leaked = recorder.leaked.get(ex.request.id);
      return leaked === undefined ? [] : [`a client credential reached the upstream (${leaked})`];
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // The read API really was forwarded with dev-entra's token and answered by Prometheus.
  expect(recorder.tokens.size).toBeGreaterThan(0);
  expect(report.statuses['200']).toBeGreaterThan(0);
  expect(gate.decisions.some((d) => d.status === 200)).toBe(true);
});

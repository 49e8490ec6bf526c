// openai-proxy under fuzz: the built dist/main.js with a client certificate against dev-entra,
// forwarding to the OpenAI stand-in (which verifies every bearer) through a recording hop.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startOpenAiUpstream, type OpenAiUpstream } from '@auth-sidecars/testkit/openai-upstream';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import type { Vocabulary } from './support/arbitraries.js';
import { keyExcerpt, memoize, startApp } from './support/apps.js';
import { runFuzz } from './support/harness.js';
import { startRecorder, type Recorder } from './support/recorder.js';
import { fuzzSettings } from './support/settings.js';

const AUDIENCE = 'https://cognitiveservices.azure.com';
const CHAT = '/openai/deployments/gpt-4o-mini/chat/completions';

const vocabulary: Vocabulary = {
  paths: [
    CHAT,
    '/v1/chat/completions',
    '/v1/models',
    '/openai/deployments/gpt-4o-mini/embeddings',
    '/upload',
    '/openai/models',
    '/health',
    '/livez',
    '/readyz',
    '/metrics',
    '/',
  ],
  queries: [
    'api-version=2024-10-21',
    'api-version=2024-10-21&stream=true',
    'api-version=',
    'api-version=2024-10-21&api-version=1',
  ],
  credentials: ['{{token}}', '{{marker}}', 'sk-proj-0123456789abcdef'],
  headers: [
    ['api-key', '{{marker}}'],
    ['Authorization', 'Bearer {{token}}'],
    ['Accept', 'text/event-stream'],
    ['OpenAI-Organization', 'org-x'],
  ],
  bodies: [
    {
      contentType: 'application/json',
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    },
    {
      contentType: 'application/json',
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    },
    { contentType: 'application/json', body: '{"messages": [' },
    {
      contentType: 'application/json',
      body: JSON.stringify({ input: 'embed me', model: 'text-embedding-3-small' }),
    },
    {
      contentType: 'multipart/form-data; boundary=x',
      body: '--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc\r\n--x--\r\n',
    },
  ],
};

let entra: DevEntra;
let upstream: OpenAiUpstream;
let recorder: Recorder;
let app: LaunchedProcess;
let dir: string;
let keySample: string;

beforeAll(async () => {
  entra = await startDevEntra();
  const cert = await entra.createClientCertificate();
  const clientId = entra.registerApp({ certificatePem: cert.certPem, name: 'openai-proxy' }).clientId;
  keySample = keyExcerpt(cert.keyPem);
  dir = await mkdtemp(join(tmpdir(), 'fuzz-openai-proxy-'));
  const certPath = join(dir, 'cert.pem');
  await writeFile(certPath, cert.pem);
  upstream = await startOpenAiUpstream({
    verify: memoize((t) => entra.verifyAccessToken(t, { audience: AUDIENCE })),
    chunkIntervalMs: 1,
    recordLimit: 0,
  });
  recorder = await startRecorder({ upstream: upstream.url, refuse: /^\/(echo|slow-headers|stall-body)/i });
  app = await startApp('openai-proxy', {
    AZURE_CLIENT_ID: clientId,
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_CERTIFICATE_PATH: certPath,
    AZURE_AUTHORITY_HOST: entra.url,
    NODE_EXTRA_CA_CERTS: entra.caPath,
    API_BASE_URL: recorder.url,
  });
});

afterAll(async () => {
  await app?.close();
  await recorder?.close();
  await upstream?.close();
  await entra?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('keeps its properties under generated requests (never exits, no own 5xx, no secret, token or stack out)', async () => {
  const report = await runFuzz({
    app: 'openai-proxy',
    process: app,
    alivePath: '/livez',
    vocabulary,
    values: () => ({ token: [...recorder.tokens].at(-1) ?? 'no-token-yet' }),
    secrets: () => [keySample],
    tokens: () => [...recorder.tokens],
    upstreamFailure: (ex, res) => recorder.passedOn(ex.request.id, res.status),
    check: (ex) => {
      const leaked = recorder.leaked.get(ex.request.id);
      return leaked === undefined ? [] : [`a client credential reached the upstream (${leaked})`];
    },
  });
  expect(report.requests).toBe(fuzzSettings().runs);
  // The run really reached the upstream with dev-entra's token, and really exercised the raw path.
  expect(recorder.tokens.size).toBeGreaterThan(0);
  expect(report.viaRaw).toBeGreaterThan(0);
  expect(report.viaUndici).toBeGreaterThan(0);
});

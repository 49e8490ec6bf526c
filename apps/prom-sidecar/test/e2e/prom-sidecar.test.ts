// End to end: the built dist/main.js gets a dev-entra token (real @azure/identity certificate flow)
// and queries a real Prometheus server behind a gate that accepts only dev-entra JWTs for the
// Azure Monitor audience, as Azure Monitor's query endpoint does.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startTokenGate, type TokenGate } from '@auth-sidecars/testkit/prometheus-gate';
import { startPrometheus, type RunningPrometheus } from '@auth-sidecars/testkit/prometheus';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';

const ENTRY = join(import.meta.dirname, '../../dist/main.js');
const AUDIENCE = 'https://prometheus.monitor.azure.com';

let entra: DevEntra;
let prometheus: RunningPrometheus;
let gate: TokenGate;
let dir: string;
let clientId: string;
let certPath: string;
let sidecar: LaunchedProcess;
const extra: LaunchedProcess[] = [];

function credentialEnv(): Record<string, string> {
  return { AZURE_AUTHORITY_HOST: entra.url, NODE_EXTRA_CA_CERTS: entra.caPath, HOST: '127.0.0.1' };
}

async function launch(env: Record<string, string>, waitForListening = true): Promise<LaunchedProcess> {
  const app = await launchApp(ENTRY, { env: { ...credentialEnv(), ...env }, waitForListening });
  extra.push(app);
  return app;
}

beforeAll(async () => {
  [entra, prometheus] = await Promise.all([startDevEntra(), startPrometheus()]);
  const cert = await entra.createClientCertificate();
  clientId = entra.registerApp({ certificatePem: cert.certPem, name: 'prom-sidecar' }).clientId;
  dir = await mkdtemp(join(tmpdir(), 'prom-sidecar-e2e-'));
  certPath = join(dir, 'cert.pem');
  await writeFile(certPath, cert.pem);
  gate = await startTokenGate({
    upstream: prometheus.url,
    verify: (t) => entra.verifyAccessToken(t, { audience: AUDIENCE }),
  });
  sidecar = await launchApp(ENTRY, {
    env: {
      ...credentialEnv(),
      PROMETHEUS_QUERY_ENDPOINT: gate.url,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
      PORT: '0',
    },
  });
}, 60_000);

afterEach(async () => {
  await Promise.all(extra.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await sidecar?.close();
  await gate?.close();
  await prometheus?.close();
  await entra?.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A fixed evaluation time makes both answers deterministic: the timestamp of the newest scraped
 * sample, so that every query below has data at it.
 */
async function fixedTime(): Promise<number> {
  const res = await fetch(`${prometheus.url}/api/v1/query?query=up`);
  const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return body.data.result[0]!.value[0];
}

describe('prom-sidecar end to end with a real Prometheus', () => {
  it('the gate refuses requests without a token and with a wrong-audience token', async () => {
    const none = await fetch(`${gate.url}/api/v1/query?query=up`);
    expect(none.status).toBe(401);
    const wrong = entra.issueAccessToken({ scope: 'https://cognitiveservices.azure.com/.default', clientId });
    const res = await fetch(`${gate.url}/api/v1/query?query=up`, {
      headers: { authorization: `Bearer ${wrong}` },
    });
    expect(res.status).toBe(401);
  });

  it('PromQL through the sidecar returns what Prometheus returns directly (GET and POST)', async () => {
    const t = await fixedTime();
    const queries = [
      `/api/v1/query?query=up&time=${t}`,
      `/api/v1/query?query=${encodeURIComponent('sum by (job) (prometheus_http_requests_total)')}&time=${t}`,
      `/api/v1/query_range?query=up&start=${t - 5}&end=${t}&step=1`,
      `/api/v1/series?match[]=up&start=${t - 5}&end=${t}`,
      `/api/v1/labels?start=${t - 5}&end=${t}`,
      `/api/v1/label/job/values?start=${t - 5}&end=${t}`,
      `/api/v1/metadata?metric=up`,
    ];
    for (const q of queries) {
      const [via, direct] = await Promise.all([fetch(`${sidecar.url}${q}`), fetch(`${prometheus.url}${q}`)]);
      expect([q, via.status]).toEqual([q, 200]);
      const viaBody = (await via.json()) as { status: string; data: unknown };
      expect(viaBody.status).toBe('success');
      if (q.includes('query=up&time'))
        expect((viaBody.data as { result: unknown[] }).result.length).toBeGreaterThan(0);
      expect([q, viaBody.data]).toEqual([q, ((await direct.json()) as { data: unknown }).data]);
    }
    const form = `query=${encodeURIComponent('count(up)')}&time=${t}`;
    const post = (base: string) =>
      fetch(`${base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      }).then((r) => r.json() as Promise<{ status: string; data: { result: unknown[] } }>);
    const [viaPost, directPost] = await Promise.all([post(sidecar.url), post(prometheus.url)]);
    expect(viaPost.status).toBe('success');
    expect(viaPost.data.result.length).toBeGreaterThan(0);
    expect(viaPost.data).toEqual(directPost.data);
    // Every request the gate let through carried a dev-entra token for the Azure Monitor audience.
    const passed = gate.decisions.filter((d) => d.status === 200);
    expect(passed.length).toBeGreaterThanOrEqual(queries.length + 1);
    for (const d of passed) expect(d.audience).toBe(AUDIENCE);
  });

  it('answers 404 JSON for paths outside the read API', async () => {
    const res = await fetch(`${sidecar.url}/api/v1/admin/tsdb/delete_series?match[]=up`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /only the Prometheus read API/,
    );
  });

  it('serves the seed /health, /livez, /readyz and /metrics', async () => {
    const res = await fetch(`${sidecar.url}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.status).toBe('healthy');
    expect(body.token_valid).toBe(true);
    expect(body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(body.time_to_expiry).toMatch(/^0:\d\d:\d\d(\.\d{6})?$/);
    expect(body.timestamp).toMatch(/Z$/);
    expect((await fetch(`${sidecar.url}/livez`)).status).toBe(200);
    expect((await fetch(`${sidecar.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${sidecar.url}/metrics`)).text();
    expect(metrics).toContain('auth_token_expiry_timestamp_seconds');
    expect(metrics).toContain('proxy_upstream_responses_total');
  });

  it('works with the aad-auth-proxy variable names', async () => {
    const app = await launch({
      TARGET_HOST: gate.url,
      AUDIENCE: `${AUDIENCE}/.default`,
      LISTENING_PORT: '0',
      IDENTITY_TYPE: 'aadApplication',
      AAD_CLIENT_ID: clientId,
      AAD_TENANT_ID: entra.tenantId,
      AAD_CLIENT_CERTIFICATE_PATH: certPath,
    });
    const res = await fetch(`${app.url}/api/v1/query?query=up`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: string }).status).toBe('success');
  });

  it('passes the gate 401 through when the scope names another audience', async () => {
    const app = await launch({
      PROMETHEUS_QUERY_ENDPOINT: gate.url,
      AZURE_SCOPE: 'api://some-other-api/.default',
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
      PORT: '0',
    });
    const res = await fetch(`${app.url}/api/v1/query?query=up`);
    expect(res.status).toBe(401);
  });

  it('exits non-zero with the reason when the first token cannot be had', async () => {
    const app = await launch(
      {
        PROMETHEUS_QUERY_ENDPOINT: gate.url,
        AZURE_CLIENT_ID: '77777777-7777-4777-8777-777777777777',
        AZURE_TENANT_ID: entra.tenantId,
        AZURE_CLIENT_CERTIFICATE_PATH: certPath,
        PORT: '0',
      },
      false,
    );
    expect(await app.exited).not.toBe(0);
    expect(app.lines.join('\n')).toMatch(/token/i);
  });

  it('with START_WITHOUT_TOKEN starts unready: /health 503 with token_valid false', async () => {
    const app = await launch({
      PROMETHEUS_QUERY_ENDPOINT: gate.url,
      AZURE_CLIENT_ID: '66666666-6666-4666-8666-666666666666',
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
      PORT: '0',
      START_WITHOUT_TOKEN: 'true',
    });
    const res = await fetch(`${app.url}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: 'unhealthy', token_valid: false, expires_at: null });
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${app.url}/api/v1/query?query=up`)).status).toBe(503);
  });
});

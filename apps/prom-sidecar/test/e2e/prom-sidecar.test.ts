// End to end: the built dist/main.js gets a dev-entra token (real @azure/identity certificate flow)
// and queries a real Prometheus server behind a gate that accepts only dev-entra JWTs for the
// Azure Monitor audience, as Azure Monitor's query endpoint does. Prometheus evaluates a rule file
// (a recording rule, an always-firing alert) and stores exemplars from an OpenMetrics target, so
// the endpoints Grafana's data source calls have something to answer.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startDevEntra, type DevEntra } from '@auth-sidecars/dev-entra';
import { startTokenGate, type TokenGate } from '@auth-sidecars/testkit/prometheus-gate';
import { startPrometheus, type RunningPrometheus } from '@auth-sidecars/testkit/prometheus';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import { eventually } from '@auth-sidecars/testkit/wait';

const ENTRY = join(import.meta.dirname, '../../dist/main.js');
const AUDIENCE = 'https://prometheus.monitor.azure.com';

let entra: DevEntra;
let prometheus: RunningPrometheus;
let gate: TokenGate;
let dir: string;
let clientId: string;
let certPath: string;
let sidecar: LaunchedProcess;
let exemplarTarget: http.Server;
const extra: LaunchedProcess[] = [];

const RULES = `groups:
  - name: sidecar-e2e
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: AlwaysFiring
        expr: vector(1)
        labels: { severity: none }
        annotations: { summary: fires on every evaluation }
`;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** An OpenMetrics target with an exemplar on its counter (Prometheus keeps it with exemplar-storage). */
async function startExemplarTarget(): Promise<http.Server> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    n += 1;
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0; charset=utf-8' });
    res.end(
      [
        '# TYPE demo_requests counter',
        '# HELP demo_requests Requests served.',
        `demo_requests_total{path="/checkout"} ${n} # {trace_id="${TRACE_ID}"} 0.25`,
        '# EOF',
        '',
      ].join('\n'),
    );
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return server;
}

function credentialEnv(): Record<string, string> {
  return { AZURE_AUTHORITY_HOST: entra.url, NODE_EXTRA_CA_CERTS: entra.caPath, HOST: '127.0.0.1' };
}

async function launch(env: Record<string, string>, waitForListening = true): Promise<LaunchedProcess> {
  const app = await launchApp(ENTRY, { env: { ...credentialEnv(), ...env }, waitForListening });
  extra.push(app);
  return app;
}

beforeAll(async () => {
  exemplarTarget = await startExemplarTarget();
  [entra, prometheus] = await Promise.all([
    startDevEntra(),
    startPrometheus({
      rules: RULES,
      extraTargets: [`127.0.0.1:${(exemplarTarget.address() as AddressInfo).port}`],
      features: ['exemplar-storage'],
    }),
  ]);
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
  await new Promise((r) => exemplarTarget?.close(r));
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

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * A request shaped as Grafana's Prometheus data source sends it (pkg/promlib): its User-Agent, Go's
 * `Accept-Encoding: gzip`, the X-* headers Grafana adds to data source requests, a forwarded user
 * token when "Forward OAuth identity" is on, and for POST a form body with its content type.
 * The answer is gunzipped here, as Grafana's client does.
 */
function grafana(base: string, method: 'GET' | 'POST', path: string, form?: string): Promise<Answer> {
  const headers: Record<string, string> = {
    'user-agent': 'Grafana/12.1.0',
    'accept-encoding': 'gzip',
    'x-grafana-org-id': '1',
    'x-datasource-uid': 'azure-managed-prometheus',
    'x-dashboard-uid': 'sidecar-e2e',
    'x-panel-id': '2',
    'x-query-group-id': '5f0c6b2e-93a1-4d4b-8a8e-2f1d1c0b9a77',
    authorization: 'Bearer grafana-user-token',
  };
  if (method === 'POST') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(form ?? ''));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(method === 'POST' ? (form ?? '') : undefined);
  });
}

/** The same request through the sidecar and to Prometheus directly. */
async function both(
  method: 'GET' | 'POST',
  path: string,
  form?: string,
  base = sidecar.url,
): Promise<[Answer, Answer]> {
  return Promise.all([grafana(base, method, path, form), grafana(prometheus.url, method, path, form)]);
}

/** Prometheus scrapes and evaluates on its own schedule: poll for half a minute. */
const prometheusShows = <T>(what: string, probe: () => Promise<T | undefined>) =>
  eventually(probe, { what, timeoutMs: 30_000, intervalMs: 200 });

const json = (a: Answer) => JSON.parse(a.text) as { status: string; data: unknown };

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

  it("GET /api/v1/status/buildinfo (Grafana's version probe) answers what Prometheus answers, gzip kept", async () => {
    const [via, direct] = await both('GET', '/api/v1/status/buildinfo');
    expect(via.status).toBe(200);
    expect(direct.headers['content-encoding']).toBe('gzip');
    expect(via.headers['content-encoding']).toBe('gzip');
    expect(json(via)).toEqual(json(direct));
    expect((json(via).data as { version: string }).version).toMatch(/^2\./);
  });

  it('POST /api/v1/query_exemplars with a form body returns the stored exemplars', async () => {
    const exemplars = await prometheusShows('an exemplar in Prometheus', async () => {
      const res = await fetch(`${prometheus.url}/api/v1/query_exemplars?query=demo_requests_total`);
      const body = (await res.json()) as { data: Array<{ exemplars: Array<{ timestamp: number }> }> };
      return body.data.length > 0 ? body.data : undefined;
    });
    expect(exemplars.length).toBeGreaterThan(0);
    // The range ends at an exemplar already stored, so the answers via the sidecar and direct hold
    // the same exemplars even when a scrape lands between the two requests.
    const end = Math.max(...exemplars.flatMap((series) => series.exemplars.map((e) => e.timestamp)));
    const form = `query=${encodeURIComponent('demo_requests_total')}&start=${end - 600}&end=${end}`;
    const [via, direct] = await both('POST', '/api/v1/query_exemplars', form);
    expect(via.status).toBe(200);
    const data = json(via).data as Array<{
      seriesLabels: Record<string, string>;
      exemplars: Array<{ labels: Record<string, string> }>;
    }>;
    expect(data[0]!.seriesLabels.__name__).toBe('demo_requests_total');
    expect(data[0]!.exemplars[0]!.labels.trace_id).toBe(TRACE_ID);
    expect(json(via)).toEqual(json(direct));
  });

  it('GET /api/v1/rules and /api/v1/alerts show the rule groups and the firing alert', async () => {
    await prometheusShows('the alert to fire', async () => {
      const res = await fetch(`${prometheus.url}/api/v1/alerts`);
      const body = (await res.json()) as { data: { alerts: Array<{ state: string }> } };
      return body.data.alerts.some((a) => a.state === 'firing') ? true : undefined;
    });
    // Evaluation times move between two calls; names, types, queries and states do not.
    const stable = (a: Answer) =>
      (json(a).data as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> }).groups.map(
        (g) => ({
          name: g.name,
          rules: g.rules.map((r) => ({ name: r.name, type: r.type, query: r.query })),
        }),
      );
    const [viaRules, directRules] = await both('GET', '/api/v1/rules');
    expect(viaRules.status).toBe(200);
    expect(stable(viaRules)).toEqual(stable(directRules));
    expect(stable(viaRules)).toEqual([
      {
        name: 'sidecar-e2e',
        rules: [
          { name: 'job:up:sum', type: 'recording', query: 'sum by (job) (up)' },
          { name: 'AlwaysFiring', type: 'alerting', query: 'vector(1)' },
        ],
      },
    ]);
    const [viaAlerts, directAlerts] = await both('GET', '/api/v1/alerts');
    expect(viaAlerts.status).toBe(200);
    expect(json(viaAlerts)).toEqual(json(directAlerts));
    const alerts = (
      json(viaAlerts).data as { alerts: Array<{ labels: { alertname: string }; state: string }> }
    ).alerts;
    expect(alerts.map((a) => [a.labels.alertname, a.state])).toEqual([['AlwaysFiring', 'firing']]);
    // Prometheus itself registers these as GET only: the sidecar says so without asking it.
    const post = await grafana(sidecar.url, 'POST', '/api/v1/rules', '');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });

  it("POST /api/v1/format_query (the query editor's Format button) formats through the sidecar", async () => {
    const [via, direct] = await both(
      'POST',
      '/api/v1/format_query',
      `query=${encodeURIComponent('sum(up)by(job)')}`,
    );
    expect(via.status).toBe(200);
    expect(json(via)).toEqual({ status: 'success', data: 'sum by (job) (up)' });
    expect(json(direct)).toEqual(json(via));
  });

  it('POST /api/v1/parse_query is forwarded; this Prometheus predates it and says 404 itself', async () => {
    const before = gate.decisions.length;
    const [via, direct] = await both('POST', '/api/v1/parse_query', 'query=up');
    // The gate let the request through to Prometheus: the 404 is Prometheus' plain text, not the
    // sidecar's JSON refusal.
    expect(gate.decisions.slice(before)).toEqual([
      expect.objectContaining({ method: 'POST', url: '/api/v1/parse_query', status: 200 }),
    ]);
    expect(direct.status).toBe(404);
    expect(via.status).toBe(direct.status);
    expect(via.text).toBe(direct.text);
    expect(via.headers['content-type']).toBe(direct.headers['content-type']);
  });

  it('GET /api/v1/status/config is refused unless ALLOW_STATUS_CONFIG is set', async () => {
    const refused = await grafana(sidecar.url, 'GET', '/api/v1/status/config');
    expect(refused.status).toBe(404);
    expect((JSON.parse(refused.text) as { error: { code: string } }).error.code).toBe('not_found');
    const app = await launch({
      PROMETHEUS_QUERY_ENDPOINT: gate.url,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
      PORT: '0',
      ALLOW_STATUS_CONFIG: 'true',
    });
    const [via, direct] = await both('GET', '/api/v1/status/config', undefined, app.url);
    expect(via.status).toBe(200);
    expect(json(via)).toEqual(json(direct));
    expect((json(via).data as { yaml: string }).yaml).toContain('job_name: prometheus');
  });

  it('ALLOW_PATH_PREFIXES forwards more than reads (here /api/v1/status/*)', async () => {
    const app = await launch({
      PROMETHEUS_QUERY_ENDPOINT: gate.url,
      AZURE_CLIENT_ID: clientId,
      AZURE_TENANT_ID: entra.tenantId,
      AZURE_CLIENT_CERTIFICATE_PATH: certPath,
      PORT: '0',
      ALLOW_PATH_PREFIXES: '/api/v1/status/',
    });
    const [flags, directFlags] = await both('GET', '/api/v1/status/flags', undefined, app.url);
    expect(flags.status).toBe(200);
    expect(json(flags)).toEqual(json(directFlags));
    // Not under the prefix: still refused by the sidecar.
    expect((await grafana(app.url, 'GET', '/api/v1/targets')).status).toBe(404);
    expect((await grafana(sidecar.url, 'GET', '/api/v1/status/flags')).status).toBe(404);
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

  it('an aad-auth-proxy manifest as written: /ready probe, refresh percentage, unused variables named', async () => {
    const app = await launch({
      TARGET_HOST: gate.url,
      AUDIENCE: `${AUDIENCE}/.default`,
      LISTENING_PORT: '0',
      IDENTITY_TYPE: 'aadApplication',
      AAD_CLIENT_ID: clientId,
      AAD_TENANT_ID: entra.tenantId,
      AAD_CLIENT_CERTIFICATE_PATH: certPath,
      AAD_TOKEN_REFRESH_INTERVAL_IN_PERCENTAGE: '80',
      OTEL_GRPC_ENDPOINT: 'otel-collector.observability.svc.cluster.local:4317',
      OTEL_SERVICE_NAME: 'prom-proxy',
      AAD_CLIENT_SECRET: 'not-an-aad-auth-proxy-variable',
    });
    // The manifest's readinessProbe path.
    const ready = await fetch(`${app.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', details: { tokenValid: true } });
    // Refreshed when 80% of the lifetime is left, i.e. after a fifth of it (auth-core's default: half).
    const details = (
      (await (await fetch(`${app.url}/readyz`)).json()) as {
        details: { expiresAt: string; refreshAt: string };
      }
    ).details;
    const obtained = Date.now();
    const lifetime = Date.parse(details.expiresAt) - obtained;
    const untilRefresh = Date.parse(details.refreshAt) - obtained;
    expect(untilRefresh / lifetime).toBeGreaterThan(0.1);
    expect(untilRefresh / lifetime).toBeLessThan(0.3);
    // One warning line names what this app does not use; the secret's value is not in it.
    const warning = await app.waitForLog(
      (e) => e.level === 'warn' && String(e.message).includes('does not use'),
    );
    expect(warning.message).toMatch(/AAD_CLIENT_SECRET, OTEL_GRPC_ENDPOINT, OTEL_SERVICE_NAME/);
    expect(app.lines.join('\n')).not.toContain('not-an-aad-auth-proxy-variable');
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

// One benchmark run for a token-injecting proxy app: dev-entra (for the app's real token flow), the
// upstream stand-in in its own process (verifying the bearer, cached per token), nginx with one
// worker injecting the same bearer, and the built app; then every scenario against direct, nginx
// and the app, and a table of the issue's targets. Prints, never asserts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import { startNginx } from '@auth-sidecars/testkit/nginx';
import {
  machineNote,
  measureAll,
  nginxWorkerPid,
  printMeasurements,
  printTable,
  rssMb,
  startApp,
  startChild,
  targetRows,
} from './harness.mjs';

/**
 * @param {object} o
 * @param {string} o.app            app folder name (apps/<app>/dist/main.js)
 * @param {string} o.audience       resource the upstream accepts (scope minus /.default)
 * @param {'openai'|'prometheus'} o.upstreamKind
 * @param {(ctx: { upstreamUrl: string, entra: any, clientId: string, certPath: string }) => Record<string,string>} o.appEnv
 * @param {Array<{ name: string, request: object }>} o.scenarios
 */
export async function runProxyBenchmark(o) {
  const root = join(import.meta.dirname, '..', '..');
  const entra = await startDevEntra();
  const dir = await mkdtemp(join(tmpdir(), `${o.app}-bench-`));
  const stops = [];
  try {
    const cert = await entra.createClientCertificate();
    const clientId = entra.registerApp({ certificatePem: cert.certPem, name: `${o.app}-bench` }).clientId;
    const certPath = join(dir, 'cert.pem');
    await writeFile(certPath, cert.pem);
    // The token nginx injects and direct requests carry: same issuer, audience and client as the app's.
    const token = entra.issueAccessToken({ scope: `${o.audience}/.default`, clientId });

    const upstream = await startChild(join(import.meta.dirname, 'upstream-server.mjs'), {
      args: [o.upstreamKind],
      env: { JWKS_URL: entra.jwksUri, AUDIENCE: o.audience, CA_PEM: entra.caPem },
    });
    stops.push(upstream.close);
    const nginx = await startNginx({
      upstream: upstream.url,
      setHeaders: { Authorization: `Bearer ${token}` },
      clearHeaders: ['api-key'],
    });
    stops.push(nginx.close);
    const appEnv = {
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      ...o.appEnv({ upstreamUrl: upstream.url, entra, clientId, certPath }),
    };
    const entry = join(root, 'apps', o.app, 'dist', 'main.js');
    // As deployed (LOG_LEVEL=info: one JSON request log line per request) and with request logs off.
    const app = await startApp(entry, { ...appEnv, LOG_LEVEL: 'info' });
    stops.push(app.close);
    const quiet = await startApp(entry, { ...appEnv, LOG_LEVEL: 'warn' });
    stops.push(quiet.close);
    // The forwarding engine alone on bare node:http, same token: what the app shell costs on top.
    const engine = await startChild(join(import.meta.dirname, 'engine-server.mjs'), {
      env: { TARGET: upstream.url, TOKEN: token },
    });
    stops.push(engine.close);
    await new Promise((r) => setTimeout(r, 1000));
    const idleRss = rssMb(app.pid);

    console.log(`${o.app} benchmark - ${machineNote()}`);
    const rounds = process.env.BENCH_ROUNDS ?? 3;
    console.log(
      `best of ${rounds} interleaved rounds of ${process.env.BENCH_DURATION_S ?? 4} s per measurement;`,
    );
    console.log(
      'direct = the upstream stand-in itself; nginx = nginx 1 worker, proxy_buffering off, same bearer injection;',
    );
    console.log(
      `${o.app} = dist/main.js as deployed (LOG_LEVEL=info); "request logs off" = LOG_LEVEL=warn; engine = proxy-kit on bare node:http`,
    );
    const targets = [
      { name: 'direct', url: upstream.url, pid: upstream.pid },
      { name: 'nginx', label: 'nginx (1 worker)', url: nginx.url, pid: nginxWorkerPid(nginx.pid) },
      { name: 'app', label: o.app, url: app.url, pid: app.pid, sampleRss: true },
      { name: 'quiet', label: `${o.app}, request logs off`, url: quiet.url, pid: quiet.pid },
      { name: 'engine', label: 'proxy-kit engine alone', url: engine.url, pid: engine.pid },
    ];
    const summary = [];
    for (const scenario of o.scenarios) {
      const headers = { authorization: `Bearer ${token}`, ...(scenario.request.headers ?? {}) };
      const byName = await measureAll(targets, { ...scenario.request, headers });
      printMeasurements(`${scenario.name}`, targets, byName);
      summary.push(...targetRows(scenario.name, byName, { idle: idleRss }, 'app', o.app));
      summary.push(...targetRows(scenario.name, byName, undefined, 'quiet', 'request logs off'));
      summary.push(...targetRows(scenario.name, byName, undefined, 'engine', 'engine alone'));
    }
    printTable(
      `${o.app}: targets of issue 4`,
      ['scenario', 'measure', 'value', 'target', 'verdict'],
      summary,
    );
    console.log(
      `\nRSS idle after start: ${idleRss.toFixed(1)} MB; after the run: ${rssMb(app.pid).toFixed(1)} MB`,
    );
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await entra.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// One benchmark run for a token-injecting proxy app: dev-entra (for the app's real token flow), the
// upstream stand-in in its own process (verifying the bearer, cached per token), nginx with one
// worker injecting the same bearer and writing its access log, and the app as its image runs it
// (bench/lib/deployed.mjs); then every scenario against direct, nginx and the app, and a table of
// the issue's goals (issue 16: memory, latency against nginx, time to ready, first request).
// Prints, never asserts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import { startNginx } from '@auth-sidecars/testkit/nginx';
import { deployedApp } from './deployed.mjs';
import {
  fmt,
  fmtMemory,
  goalRow,
  rssGoalRow,
  machineNote,
  measureAll,
  median,
  memoryMb,
  nginxWorkerPid,
  printGoals,
  printMeasurements,
  startApp,
  startChild,
  ttfb,
} from './harness.mjs';

/** Issue 16's goals for the proxies (and token-server's memory). */
export const GOALS = {
  idleRssMb: 80,
  peakRssMb: 110,
  addedP50VsNginx: 1.5,
  throughputVsNginx: 0.6,
  firstRequestAddedMs: 1,
  readyMs: 1000,
};

/**
 * @param {object} o
 * @param {string} o.app            app folder name
 * @param {string} o.audience       resource the upstream accepts (scope minus /.default)
 * @param {'openai'|'prometheus'} o.upstreamKind
 * @param {(ctx: { upstreamUrl: string, entra: any, clientId: string, certPath: string }) => Record<string,string>} o.appEnv
 * @param {Array<{ name: string, label: string, request: object }>} o.scenarios  label: GET or POST
 * @returns {Promise<string[][]>} the goal rows
 */
export async function runProxyBenchmark(o) {
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
    const withToken = (request) => ({
      ...request,
      headers: { authorization: `Bearer ${token}`, ...(request.headers ?? {}) },
    });

    const upstream = await startChild(join(import.meta.dirname, 'upstream-server.mjs'), {
      args: [o.upstreamKind],
      env: { JWKS_URL: entra.jwksUri, AUDIENCE: o.audience, CA_PEM: entra.caPem },
    });
    stops.push(upstream.close);
    const nginx = await startNginx({
      upstream: upstream.url,
      setHeaders: { Authorization: `Bearer ${token}` },
      clearHeaders: ['api-key'],
      accessLog: true,
    });
    stops.push(nginx.close);
    const deployed = await deployedApp(o.app);
    stops.push(deployed.close);
    const appEnv = {
      ...deployed.env,
      AZURE_AUTHORITY_HOST: entra.url,
      NODE_EXTRA_CA_CERTS: entra.caPath,
      ...o.appEnv({ upstreamUrl: upstream.url, entra, clientId, certPath }),
    };
    const firstRequest = withToken(o.scenarios[0].request);
    // The upstream fetches dev-entra's keys at the first token it sees: before the app's first request.
    await ttfb(upstream.url, firstRequest);
    // As deployed (LOG_LEVEL=info: one JSON request log line per request) and with request logs off.
    const app = await startApp(
      deployed.entry,
      { ...appEnv, LOG_LEVEL: 'info' },
      { nodeArgs: deployed.nodeArgs, firstRequest },
    );
    stops.push(app.close);
    // The first request's TTFB through the app minus the upstream's own, new connections both and
    // each with a token the upstream has not verified yet (as the app's first token was).
    const freshTtfbUs = [];
    for (let i = 0; i < 3; i += 1) {
      const fresh = entra.issueAccessToken({ scope: `${o.audience}/.default`, clientId });
      const headers = { ...firstRequest.headers, authorization: `Bearer ${fresh}` };
      freshTtfbUs.push((await ttfb(upstream.url, { ...firstRequest, headers })).us);
    }
    const directTtfbUs = median(freshTtfbUs);
    // What being first adds: the first request against later ones sent the same way (a new
    // connection right after a probe answered, as the first followed /readyz's 200), with the
    // upstream's own first-token cost (a fresh token against one it verified already) taken off.
    // The raw figure above also counts the extra hop itself: on this VM a request that crosses an
    // idle process waits for its wake-up, a millisecond or two that any proxy (nginx too) adds and
    // warm-up cannot remove.
    const later = async (url, wakePath, request) => {
      const us = [];
      for (let i = 0; i < 5; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        await ttfb(url, { path: wakePath });
        us.push((await ttfb(url, request)).us);
      }
      return median(us);
    };
    const appLaterUs = await later(app.url, '/readyz', firstRequest);
    const directLaterUs = await later(upstream.url, '/', firstRequest);
    const firstAddedUs = app.firstTtfbUs - appLaterUs - Math.max(0, directTtfbUs - directLaterUs);
    const quiet = await startApp(
      deployed.entry,
      { ...appEnv, LOG_LEVEL: 'warn' },
      { nodeArgs: deployed.nodeArgs },
    );
    stops.push(quiet.close);
    // The forwarding engine alone on bare node:http, same token: what the app shell costs on top.
    const engine = await startChild(join(import.meta.dirname, 'engine-server.mjs'), {
      env: { TARGET: upstream.url, TOKEN: token },
    });
    stops.push(engine.close);
    await new Promise((r) => setTimeout(r, 2000));
    const idle = memoryMb(app.pid);

    console.log(`${o.app} benchmark - ${machineNote()}`);
    console.log(
      `medians of ${process.env.BENCH_ROUNDS ?? 3} interleaved rounds of ${process.env.BENCH_DURATION_S ?? 4} s per measurement;`,
    );
    console.log(
      'direct = the upstream stand-in itself; nginx = nginx 1 worker, proxy_buffering off, same bearer injection, access log on;',
    );
    console.log(
      `app = ${deployed.label}, LOG_LEVEL=info (a request line per request); "request logs off" = LOG_LEVEL=warn; engine = proxy-kit on bare node:http`,
    );
    const targets = [
      { name: 'direct', url: upstream.url, pid: upstream.pid },
      {
        name: 'nginx',
        label: 'nginx (1 worker, access log on)',
        url: nginx.url,
        pid: nginxWorkerPid(nginx.pid),
      },
      { name: 'app', label: o.app, url: app.url, pid: app.pid, sampleRss: true },
      { name: 'quiet', label: `${o.app}, request logs off`, url: quiet.url, pid: quiet.pid },
      { name: 'engine', label: 'proxy-kit engine alone', url: engine.url, pid: engine.pid },
    ];
    const goals = [];
    let peak;
    for (const scenario of o.scenarios) {
      const byName = await measureAll(targets, withToken(scenario.request));
      printMeasurements(scenario.name, targets, byName);
      const { direct, nginx: ref, app: ours } = byName;
      if (ours.peak && (!peak || ours.peak.rss > peak.rss)) peak = ours.peak;
      const nginxAdded = ref.lat.p50us - direct.lat.p50us;
      const appAdded = ours.lat.p50us - direct.lat.p50us;
      const ratio = appAdded / nginxAdded;
      goals.push(
        goalRow(
          `${o.app} ${scenario.label}: added p50 at c=1, app / nginx (us)`,
          `${fmt(appAdded)} / ${fmt(nginxAdded)} = ${fmt(ratio, 2)}x`,
          `<= ${GOALS.addedP50VsNginx}x`,
          ratio <= GOALS.addedP50VsNginx,
        ),
      );
      const tputRatio = ours.tput.rps / ref.tput.rps;
      goals.push(
        goalRow(
          `${o.app} ${scenario.label}: req/s c=32, request log on / nginx access log on`,
          `${fmt(ours.tput.rps)} / ${fmt(ref.tput.rps)} = ${fmt(tputRatio, 2)}`,
          `>= ${GOALS.throughputVsNginx}`,
          tputRatio >= GOALS.throughputVsNginx,
        ),
      );
    }
    goals.unshift(
      rssGoalRow(`${o.app}: RSS idle (MB)`, idle, GOALS.idleRssMb),
      rssGoalRow(`${o.app}: RSS peak under the bench load (MB)`, peak, GOALS.peakRssMb),
      goalRow(
        `${o.app}: start to /readyz 200 (ms)`,
        fmt(app.startupMs),
        `<= ${GOALS.readyMs}`,
        app.startupMs <= GOALS.readyMs,
      ),
      goalRow(
        `${o.app}: first request after ready, TTFB minus the upstream's (ms)`,
        `${fmt((app.firstTtfbUs - directTtfbUs) / 1000, 2)} (${fmt(app.firstTtfbUs)} - upstream ${fmt(directTtfbUs)} us; status ${app.firstStatus})`,
        '-',
        undefined,
      ),
      goalRow(
        `${o.app}: first request after ready, TTFB added by being first (ms)`,
        `${fmt(firstAddedUs / 1000, 2)} (first ${fmt(app.firstTtfbUs)} - later ${fmt(appLaterUs)} us; upstream's first-token cost ${fmt(Math.max(0, directTtfbUs - directLaterUs))} us taken off)`,
        `<= ${GOALS.firstRequestAddedMs}`,
        firstAddedUs / 1000 <= GOALS.firstRequestAddedMs,
      ),
    );
    printGoals(`${o.app}: goals of issue 16`, goals);
    console.log(`\nRSS after the run: ${fmtMemory(memoryMb(app.pid))}`);
    return goals;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await entra.close();
    await rm(dir, { recursive: true, force: true });
  }
}

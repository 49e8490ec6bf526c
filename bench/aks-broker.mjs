// aks-broker benchmark (issue 16): time from start to /readyz 200 (the identity provider's metadata
// loaded) and memory once idle, private and file-backed apart, with the broker run as its image
// runs it (bench/lib/deployed.mjs) against dev-entra and the Kubernetes API stand-in; then the
// memory after serving its page and probes for a while. Prints, never asserts.
//   npx turbo run build && node bench/aks-broker.mjs
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import { startKubeApi } from '@auth-sidecars/testkit/kube-api';
import { deployedApp } from './lib/deployed.mjs';
import {
  fmt,
  rssGoalRow,
  goalRow,
  load,
  machineNote,
  memoryMb,
  printGoals,
  sampleRss,
  startApp,
} from './lib/harness.mjs';

/** Issue 16's goals for the broker. */
export const GOALS = { idleRssMb: 100, readyMs: 1000 };

/** Runs the benchmark and returns its goal rows (bench/footprint.mjs collects them). */
export async function run() {
  const entra = await startDevEntra();
  const kube = await startKubeApi({ defaultNamespace: 'team-a' });
  const dir = await mkdtemp(join(tmpdir(), 'aks-broker-bench-'));
  const deployed = await deployedApp('aks-broker');
  let app;
  try {
    const subject = 'system:serviceaccount:platform:aks-broker';
    const registered = entra.registerApp({
      name: 'aks-broker bench',
      federatedSubject: subject,
      redirectUris: ['http://127.0.0.1/callback'],
    });
    const tokenFile = join(dir, 'azure-identity-token');
    await writeFile(tokenFile, entra.issueFederatedToken({ subject }));
    const caFile = join(dir, 'kube-ca.crt');
    await writeFile(caFile, kube.caPem);
    app = await startApp(
      deployed.entry,
      {
        ...deployed.env,
        LOG_LEVEL: 'info',
        NODE_EXTRA_CA_CERTS: entra.caPath,
        AZURE_CLIENT_ID: registered.clientId,
        AZURE_TENANT_ID: entra.tenantId,
        AZURE_FEDERATED_TOKEN_FILE: tokenFile,
        AZURE_AUTHORITY_HOST: entra.url,
        PUBLIC_URL: 'http://127.0.0.1:1',
        SESSION_SECRET: 's'.repeat(40),
        COOKIE_SECURE: 'false',
        CACHE_ENCRYPTION_KEY: Buffer.alloc(32, 42).toString('base64'),
        KUBE_API_URL: kube.url,
        KUBE_CA_FILE: caFile,
      },
      { nodeArgs: deployed.nodeArgs, firstRequest: { path: '/' } },
    );
    await new Promise((r) => setTimeout(r, 2000));
    const idle = memoryMb(app.pid);
    // The page, its assets and the probes, as browsers and the kubelet ask for them.
    const stopRss = sampleRss(app.pid);
    for (const path of ['/', '/static/app.js', '/readyz', '/metrics'])
      await load(app.url, { connections: 4, durationS: 2, path });
    const peak = stopRss();
    console.log(`aks-broker benchmark - ${machineNote()}`);
    console.log(`aks-broker = ${deployed.label}; in-memory sessions (no REDIS_URL)`);
    const goals = [
      rssGoalRow('aks-broker: RSS idle (MB)', idle, GOALS.idleRssMb),
      rssGoalRow('aks-broker: RSS peak serving its page and probes (MB)', peak),
      goalRow(
        'aks-broker: start to /readyz 200 (ms)',
        fmt(app.startupMs),
        `<= ${GOALS.readyMs}`,
        app.startupMs <= GOALS.readyMs,
      ),
    ];
    printGoals('aks-broker: goals of issue 16', goals);
    return goals;
  } finally {
    await app?.close();
    await deployed.close();
    await kube.close();
    await entra.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await run();

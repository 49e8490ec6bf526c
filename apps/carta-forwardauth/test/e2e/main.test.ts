// The built dist/main.js as a process, configured only through its environment and a kubeconfig
// file pointing at the Kubernetes API stand-in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';
import { startKubeApi } from '@auth-sidecars/testkit/kube-api';
import { NS, SA, sessionPod, traefik, until } from '../helpers.js';

const ENTRY = join(import.meta.dirname, '..', '..', 'dist', 'main.js');
// Process start includes loading @kubernetes/client-node: slow on a busy CI machine.
const SLOW = 90_000;

/** The probe port's URL, from its own `listening` line (the first one is the decision port's). */
async function probeUrl(app: LaunchedProcess): Promise<string> {
  const line = await app.waitForLog((l) => l.message === 'listening' && l.component === 'probes', 10_000);
  return line.url as string;
}

describe('carta-forwardauth process', () => {
  it(
    'serves decisions from a kubeconfig file, reports readiness and drains on SIGTERM',
    async () => {
      const api = await startKubeApi({ defaultNamespace: NS });
      api.addPod(sessionPod('carta-1', 'abc123', 'alice'));
      const app = await launchApp(ENTRY, {
        startTimeoutMs: 60_000,
        env: {
          KUBECONFIG: api.writeKubeconfig(SA, NS),
          PORT: '0',
          PROBE_PORT: '0',
          HOST: '127.0.0.1',
          RELIST_BACKOFF_INITIAL: '100ms',
          RELIST_BACKOFF_MAX: '500ms',
        },
      });
      try {
        const probes = await probeUrl(app);
        expect(probes).not.toBe(app.url);
        await until(async () => (await fetch(`${probes}/readyz`)).status === 200, 5000);
        // on the decision port, /readyz is a decision like any other path
        expect((await fetch(`${app.url}/readyz`)).status).toBe(403);
        const allowed = await traefik(app.url, '/session/carta/abc123/');
        expect(allowed).toMatchObject({ status: 200, headers: { 'carta-auth-token': 'alice' } });
        expect((await traefik(app.url, '/session/carta/nope1/')).status).toBe(403);
        api.addPod(sessionPod('carta-2', 'new2', 'bob'));
        await until(async () => (await traefik(app.url, '/session/carta/new2/')).status === 200, 2000);
        const metrics = await (await fetch(`${probes}/metrics`)).text();
        expect(metrics).toContain('carta_forwardauth_decisions_total{result="deny",reason="unknown_session"');
        await until(() =>
          app.logs().some((l) => l.message === 'access denied' && l.reason === 'unknown_session'),
        );
        expect(app.logs().find((l) => l.message === 'watching sessions')).toMatchObject({
          namespace: NS,
          server: api.url,
        });
        expect(await app.close()).toBe(0);
      } finally {
        await app.close();
        await api.close();
      }
    },
    SLOW,
  );

  it(
    'starts unready while the API server is unreachable and becomes ready when it is up',
    async () => {
      const api = await startKubeApi({ defaultNamespace: NS, startDown: true });
      api.addPod(sessionPod('carta-1', 'abc123', 'alice'));
      const app = await launchApp(ENTRY, {
        startTimeoutMs: 60_000,
        env: {
          KUBECONFIG: api.writeKubeconfig(SA, NS),
          PORT: '0',
          PROBE_PORT: '0',
          HOST: '127.0.0.1',
          RELIST_BACKOFF_INITIAL: '100ms',
          RELIST_BACKOFF_MAX: '500ms',
        },
      });
      try {
        const probes = await probeUrl(app);
        await new Promise((r) => setTimeout(r, 500));
        expect((await fetch(`${probes}/readyz`)).status).toBe(503);
        expect((await fetch(`${probes}/livez`)).status).toBe(200);
        await api.setDown(false);
        await until(async () => (await fetch(`${probes}/readyz`)).status === 200, 5000);
        expect((await traefik(app.url, '/session/carta/abc123/')).status).toBe(200);
      } finally {
        await app.close();
        await api.close();
      }
    },
    SLOW,
  );

  it(
    'exits 78 on bad configuration and when no kubeconfig can be found',
    async () => {
      const bad = await launchApp(ENTRY, {
        env: { TARGET_NAMESPACE: 'Bad_Namespace', PORT: '0' },
        waitForListening: false,
      });
      expect(await bad.exited).toBe(78);
      expect(bad.lines.join('\n')).toMatch(/TARGET_NAMESPACE/);

      const home = mkdtempSync(join(tmpdir(), 'carta-home-'));
      try {
        const none = await launchApp(ENTRY, {
          env: { HOME: home, KUBECONFIG: undefined, PORT: '0' },
          waitForListening: false,
        });
        expect(await none.exited).toBe(78);
        expect(none.lines.join('\n')).toMatch(/no kubeconfig found/);
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
    SLOW,
  );
});

#!/usr/bin/env node
// testkit-standin: runs one stand-in as a long-running process for `npm run demo` and the compose
// stack. Prints one `listening` JSON line (like the apps) and stops cleanly on SIGTERM/SIGINT.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_TENANT_ID, trustDevEntraCa } from '@auth-sidecars/dev-entra';
import { CARTA_SERVICE_ACCOUNT, DEMO_BINDINGS, DEMO_NAMESPACE, seedDemoCluster } from './demo-data.js';
import { KEY_VAULT_RESOURCE, startKeyVault } from './key-vault.js';
import { startKubeApi } from './kube-api.js';
import { AKS_AUDIENCE, kubeRbac } from './kube-rbac.js';
import { jwksVerifier, startOpenAiUpstream } from './openai-upstream.js';
import { startTokenGate } from './prometheus-gate.js';

const USAGE = `Usage: testkit-standin <name> [options]

Stand-ins:
  openai-upstream   OpenAI-compatible API (chat completions, SSE streaming); checks dev-entra bearer
                    tokens for --audience (default https://cognitiveservices.azure.com)
  prometheus-gate   token-checking gate in front of a Prometheus (--upstream URL, required);
                    --audience default https://prometheus.monitor.azure.com
  kube-api          Kubernetes API (HTTPS) with the demo cluster (namespace ${DEMO_NAMESPACE} with
                    CARTA session pods, team-a/team-b) and RBAC for dev-entra's demo users; change
                    it with kubectl or curl and the --admin-kubeconfig-out credential
  key-vault         Azure Key Vault secrets API (HTTPS, challenge-based auth); checks dev-entra bearer
                    tokens for --audience (default ${KEY_VAULT_RESOURCE})
  tcp-forward       plain TCP forwarder (--to HOST:PORT), e.g. to publish a loopback-only listener

Options:
  --port N               listen port (default 0 = ephemeral)
  --host ADDR            listen address (default 127.0.0.1)
  --dev-entra-url URL    dev-entra base URL (tokens are verified against its JWKS; required except tcp-forward)
  --tenant ID            dev-entra tenant (default ${DEFAULT_TENANT_ID})
  --dev-entra-ca FILE    dev-entra CA PEM to trust (waited for up to 120 s); or set NODE_EXTRA_CA_CERTS
  --audience AUD         accepted token audience (openai-upstream, prometheus-gate, key-vault)
  --upstream URL         prometheus-gate: where accepted requests go
  --chunk-interval-ms N  openai-upstream: delay between SSE chunks (default 50)
  --namespace NS         kube-api: namespace of the CARTA sessions (default ${DEMO_NAMESPACE})
  --ca-out FILE          kube-api, key-vault: write the server's CA PEM there (KUBE_CA_FILE for aks-broker)
  --kubeconfig-out FILE  kube-api: write a kubeconfig for --kubeconfig-user there (KUBECONFIG for carta-forwardauth)
  --kubeconfig-user U    kube-api: default ${CARTA_SERVICE_ACCOUNT}
  --admin-kubeconfig-out FILE
                         kube-api: write a cluster-admin kubeconfig there, for kubectl/curl to change
                         pods and services (label, patch, create, delete) while the stand-in runs
  --secret NAME=VALUE    key-vault: a secret present at start (repeatable)
  --to HOST:PORT         tcp-forward: target
  -h, --help             this help
`;

const NAMES = ['openai-upstream', 'prometheus-gate', 'kube-api', 'key-vault', 'tcp-forward'] as const;
type Name = (typeof NAMES)[number];

interface Running {
  url: string;
  details?: Record<string, unknown>;
  close(): Promise<void>;
}

function fail(message: string): never {
  process.stderr.write(`testkit-standin: ${message}\n${USAGE}`);
  process.exit(64);
}

function log(fields: Record<string, unknown>): void {
  process.stdout.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', service: 'testkit-standin', ...fields })}\n`,
  );
}

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${name} must be an integer 0-65535, got '${value}'`);
  return n;
}

function writeOut(path: string, content: string): string {
  const full = resolve(path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content, { mode: 0o644 });
  return full;
}

async function waitForFile(path: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) fail(`${path} did not appear within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return readFileSync(path, 'utf8');
}

function displayHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'dev-entra-url': { type: 'string' },
      tenant: { type: 'string' },
      'dev-entra-ca': { type: 'string' },
      audience: { type: 'string' },
      upstream: { type: 'string' },
      'chunk-interval-ms': { type: 'string' },
      namespace: { type: 'string' },
      'ca-out': { type: 'string' },
      'kubeconfig-out': { type: 'string' },
      'kubeconfig-user': { type: 'string' },
      'admin-kubeconfig-out': { type: 'string' },
      secret: { type: 'string', multiple: true },
      to: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const name = positionals[0] as Name | undefined;
  if (name === undefined || !NAMES.includes(name) || positionals.length > 1)
    fail(`expected one stand-in name (${NAMES.join(', ')})`);
  const host = values.host ?? '127.0.0.1';
  const port = intOption(values.port, '--port', 0);
  const tenant = values.tenant ?? DEFAULT_TENANT_ID;
  const entraUrl = values['dev-entra-url']?.replace(/\/+$/, '');
  if (name !== 'tcp-forward' && !entraUrl) fail(`${name} needs --dev-entra-url`);
  if (values['dev-entra-ca']) trustDevEntraCa(await waitForFile(values['dev-entra-ca'], 120_000));
  const issuer = `${entraUrl}/${tenant}/v2.0`;
  const jwksUrl = `${entraUrl}/${tenant}/discovery/v2.0/keys`;

  let running: Running;
  switch (name) {
    case 'openai-upstream': {
      const audience = values.audience ?? 'https://cognitiveservices.azure.com';
      const interval =
        values['chunk-interval-ms'] === undefined
          ? 50
          : intOption(values['chunk-interval-ms'], '--chunk-interval-ms', 50);
      const upstream = await startOpenAiUpstream({
        verify: jwksVerifier({ jwksUrl, audience, issuer }),
        host,
        port,
        chunkIntervalMs: interval,
        recordLimit: 0,
      });
      running = { url: upstream.url, details: { audience, issuer }, close: upstream.close };
      break;
    }
    case 'prometheus-gate': {
      if (!values.upstream) fail('prometheus-gate needs --upstream URL');
      const audience = values.audience ?? 'https://prometheus.monitor.azure.com';
      const gate = await startTokenGate({
        upstream: values.upstream,
        verify: jwksVerifier({ jwksUrl, audience, issuer }),
        host,
        port,
      });
      // Decisions are kept in memory by the gate; a long-running demo must not grow without bound.
      const trim = setInterval(
        () => gate.decisions.splice(0, Math.max(0, gate.decisions.length - 1000)),
        10_000,
      ).unref();
      running = {
        url: gate.url,
        details: { upstream: values.upstream, audience, issuer },
        close: async () => {
          clearInterval(trim);
          await gate.close();
        },
      };
      break;
    }
    case 'kube-api': {
      const namespace = values.namespace ?? DEMO_NAMESPACE;
      const api = await startKubeApi({
        host,
        port,
        defaultNamespace: namespace,
        ...kubeRbac({ bindings: DEMO_BINDINGS, issuer, audience: AKS_AUDIENCE }),
      });
      seedDemoCluster(api);
      // Request logs are for tests; keep the demo's bounded.
      const trim = setInterval(
        () => api.requestLog.splice(0, Math.max(0, api.requestLog.length - 1000)),
        10_000,
      ).unref();
      const details: Record<string, unknown> = { issuer, namespace };
      if (values['ca-out']) details.caFile = writeOut(values['ca-out'], api.caPem);
      if (values['kubeconfig-out']) {
        const user = values['kubeconfig-user'] ?? CARTA_SERVICE_ACCOUNT;
        details.kubeconfig = writeOut(values['kubeconfig-out'], api.kubeconfig(user, namespace));
        details.kubeconfigUser = user;
      }
      if (values['admin-kubeconfig-out']) {
        details.adminKubeconfig = writeOut(
          values['admin-kubeconfig-out'],
          api.kubeconfig('kubernetes-admin', namespace),
        );
      }
      running = {
        url: api.url,
        details,
        close: async () => {
          clearInterval(trim);
          await api.close();
        },
      };
      break;
    }
    case 'key-vault': {
      const audience = values.audience ?? KEY_VAULT_RESOURCE;
      const secrets: Record<string, string> = {};
      for (const pair of values.secret ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) fail(`--secret must be NAME=VALUE, got '${pair}'`);
        secrets[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const vault = await startKeyVault({
        verify: jwksVerifier({ jwksUrl, audience, issuer }),
        tenantId: tenant,
        resource: audience,
        secrets,
        host,
        port,
      });
      const details: Record<string, unknown> = { audience, issuer, secrets: Object.keys(secrets) };
      if (values['ca-out']) details.caFile = writeOut(values['ca-out'], vault.caPem);
      // The request log is for tests; keep the demo's bounded.
      const trim = setInterval(
        () => vault.requests.splice(0, Math.max(0, vault.requests.length - 1000)),
        10_000,
      ).unref();
      running = {
        url: vault.url,
        details,
        close: async () => {
          clearInterval(trim);
          await vault.close();
        },
      };
      break;
    }
    case 'tcp-forward': {
      const m = /^(.+):(\d+)$/.exec(values.to ?? '');
      if (!m) fail('tcp-forward needs --to HOST:PORT');
      const [toHost, toPort] = [m[1]!.replace(/^\[|\]$/g, ''), Number(m[2])];
      const sockets = new Set<net.Socket>();
      const server = net.createServer((client) => {
        const target = net.connect(toPort, toHost);
        for (const s of [client, target]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            target.destroy();
          });
        }
        client.pipe(target).pipe(client);
      });
      await new Promise<void>((ok, ko) => server.once('error', ko).listen(port, host, () => ok()));
      const bound = (server.address() as net.AddressInfo).port;
      running = {
        url: `tcp://${displayHost(host)}:${bound}`,
        details: { to: `${toHost}:${toPort}` },
        close: () =>
          new Promise<void>((ok) => {
            server.close(() => ok());
            for (const s of sockets) s.destroy();
          }),
      };
      break;
    }
  }

  log({ message: 'listening', standin: name, url: running.url, ...running.details });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log({ message: 'shutting down', standin: name, signal });
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    running.close().then(
      () => {
        clearTimeout(force);
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `testkit-standin: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

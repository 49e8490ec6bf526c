#!/usr/bin/env node
// dev-entra CLI: runs the local Entra ID stand-in for the demo stack and manual testing.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createClientCertificate } from './certs.js';
import type { RegisterAppOptions, RegisteredApp } from './model.js';
import { startDevEntra, type DevEntra } from './server.js';

const USAGE = `Usage: dev-entra [options]

Runs a local Entra ID compatible identity provider over HTTPS.

Options (environment variable in brackets):
  --port N               listen port, 0 = ephemeral (DEV_ENTRA_PORT, default 0)
  --host ADDR            listen address (DEV_ENTRA_HOST, default 127.0.0.1)
  --tenant ID            tenant id (DEV_ENTRA_TENANT_ID, default c0ffee00-0000-4000-8000-000000000001)
  --ca-file PATH         where to write the CA certificate (DEV_ENTRA_CA_FILE, default
                         <state-dir>/ca.pem with --state-dir, else .tmp/dev-entra/ca.pem)
  --state-dir DIR        keep the CA, TLS certificate and signing keys in DIR across restarts
                         (DEV_ENTRA_STATE_DIR); restart with the same --port and apps reconnect
  --apps FILE            JSON file with apps to register (DEV_ENTRA_APPS)
  --app SPEC             register an app: clientId:secret (repeatable)
  --token-lifetime S     access token lifetime in seconds (DEV_ENTRA_TOKEN_LIFETIME, default 3600)
  --log                  print one JSON line per request
  -h, --help             this help

Outages: POST /_control/down {"mode":"unavailable"|"reset"|"refuse","forMs":N} takes it down (for
N ms), POST /_control/up brings it back. In 'refuse' mode the listener is closed, so bring it back
with forMs, with SIGUSR2 (kill -USR2 <pid>), or by stopping it and starting it again with the same
--port and --state-dir. The process stays up while down; SIGTERM/SIGINT stop it.

apps.json: an array (or {"apps": [...]}) of
  { "clientId", "name", "clientSecret", "certificatePath" | "certificatePem",
    "createCertificate": "out.pem"   (generate a client certificate, write cert+key PEM there, register it),
    "federatedSubject", "federatedTokenPath" (write a federated token there, renewed every 30 min),
    "redirectUris": [...], "roles": [...] }
`;

interface AppFileEntry extends RegisterAppOptions {
  certificatePath?: string;
  createCertificate?: string;
  federatedTokenPath?: string;
}

function log(message: string, meta: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ level: 'info', message, service: 'dev-entra', ...meta })}\n`);
}

function fail(message: string): never {
  process.stderr.write(`dev-entra: ${message}\n`);
  process.exit(64);
}

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got '${value}'`);
  return n;
}

function readApps(file: string): AppFileEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read apps file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { apps?: unknown }).apps;
  if (!Array.isArray(list)) fail(`${file}: expected an array of apps or {"apps": [...]}`);
  return list as AppFileEntry[];
}

function writeFile(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode: 0o600 });
}

async function registerFromFile(
  entra: DevEntra,
  entry: AppFileEntry,
  baseDir: string,
  timers: NodeJS.Timeout[],
): Promise<RegisteredApp> {
  const { certificatePath, createCertificate: certOut, federatedTokenPath, ...options } = entry;
  const pems: string[] = [options.certificatePem ?? []].flat();
  if (certificatePath) pems.push(readFileSync(resolve(baseDir, certificatePath), 'utf8'));
  if (certOut) {
    const cert = await createClientCertificate({ subject: options.name ?? 'dev-entra app' });
    writeFile(resolve(baseDir, certOut), cert.pem);
    pems.push(cert.certPem);
  }
  const app = entra.registerApp({ ...options, ...(pems.length > 0 ? { certificatePem: pems } : {}) });
  if (federatedTokenPath) {
    const subject = app.federatedSubjects[0];
    if (!subject) fail(`app ${app.clientId}: federatedTokenPath needs a federatedSubject`);
    const path = resolve(baseDir, federatedTokenPath);
    const write = (): void =>
      writeFile(path, entra.issueFederatedToken({ subject, audience: app.federatedAudience }));
    write();
    const timer = setInterval(write, 30 * 60 * 1000);
    timer.unref();
    timers.push(timer);
  }
  return app;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      tenant: { type: 'string' },
      'ca-file': { type: 'string' },
      'state-dir': { type: 'string' },
      apps: { type: 'string' },
      app: { type: 'string', multiple: true },
      'token-lifetime': { type: 'string' },
      log: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const env = process.env;
  const port = intOption(values.port ?? env.DEV_ENTRA_PORT, '--port', 0);
  const tokenLifetime = intOption(
    values['token-lifetime'] ?? env.DEV_ENTRA_TOKEN_LIFETIME,
    '--token-lifetime',
    3600,
  );
  const stateDirOption = values['state-dir'] ?? env.DEV_ENTRA_STATE_DIR;
  const stateDir = stateDirOption ? resolve(stateDirOption) : undefined;
  const caPath = resolve(
    values['ca-file'] ??
      env.DEV_ENTRA_CA_FILE ??
      (stateDir ? resolve(stateDir, 'ca.pem') : '.tmp/dev-entra/ca.pem'),
  );
  const appsFile = values.apps ?? env.DEV_ENTRA_APPS;
  const tenantId = values.tenant ?? env.DEV_ENTRA_TENANT_ID;

  const entra = await startDevEntra({
    host: values.host ?? env.DEV_ENTRA_HOST ?? '127.0.0.1',
    port,
    caPath,
    ...(stateDir ? { stateDir } : {}),
    tokenLifetimeSeconds: tokenLifetime || 3600,
    ...(tenantId ? { tenantId } : {}),
    ...(values.log
      ? {
          onRequest: (entry) =>
            process.stdout.write(`${JSON.stringify({ level: 'info', message: 'request', ...entry })}\n`),
        }
      : {}),
  });

  const timers: NodeJS.Timeout[] = [];
  const apps: RegisteredApp[] = [];
  if (appsFile) {
    const baseDir = dirname(resolve(appsFile));
    for (const entry of readApps(appsFile)) apps.push(await registerFromFile(entra, entry, baseDir, timers));
  }
  for (const spec of values.app ?? []) {
    const colon = spec.indexOf(':');
    if (colon <= 0) fail(`--app expects clientId:secret, got '${spec}'`);
    apps.push(entra.registerApp({ clientId: spec.slice(0, colon), clientSecret: spec.slice(colon + 1) }));
  }

  process.stdout.write(
    `${JSON.stringify({ level: 'info', message: 'listening', service: 'dev-entra', url: entra.url, tenantId: entra.tenantId, caPath: entra.caPath, stateDir: stateDir ?? null, pid: process.pid })}\n`,
  );
  const lines = [
    '',
    `dev-entra listening on ${entra.url}`,
    `  tenant:     ${entra.tenantId}`,
    `  authority:  ${entra.authority}`,
    `  CA file:    ${entra.caPath}`,
    `  state dir:  ${stateDir ?? '(none: new CA and keys at every start; see --state-dir)'}`,
    `  discovery:  ${entra.authority}/v2.0/.well-known/openid-configuration`,
    `  controls:   ${entra.url}/_control/{state,stats,log,token-lifetime,latency,fail-next,down,up,apps,federated-token}`,
    '',
    'Demo users (click on the sign-in page):',
    ...entra.users.map((u) => `  ${u.upn.padEnd(22)} ${u.name.padEnd(14)} oid ${u.oid}`),
    '',
    'Registered apps:',
    ...(apps.length === 0 ? ['  (none: POST /_control/apps or use --apps / --app)'] : []),
    ...apps.map(
      (a) =>
        `  ${a.clientId}  ${a.name}${a.clientSecret ? '  secret' : ''}${a.thumbprints.length ? `  certs ${a.thumbprints.length}` : ''}${a.federatedSubjects.length ? `  federated ${a.federatedSubjects.join(',')}` : ''}`,
    ),
    '',
    'Example environment for an app using @azure/identity:',
    `  NODE_EXTRA_CA_CERTS=${entra.caPath}`,
    `  AZURE_AUTHORITY_HOST=${entra.url}`,
    `  AZURE_TENANT_ID=${entra.tenantId}`,
    `  AZURE_CLIENT_ID=${apps[0]?.clientId ?? '<client id>'}`,
    `  AZURE_DISABLE_INSTANCE_DISCOVERY=true`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  // Runs until told to stop. The listener alone would not keep it alive: in 'refuse' mode it is
  // closed, and a process with nothing left to do would exit and never come back.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  process.on('SIGUSR2', () => {
    entra.setDown(false).then(
      () => log('up', { url: entra.url, signal: 'SIGUSR2' }),
      (err: unknown) => log('could not come back up', { error: (err as Error).message }),
    );
  });

  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    clearInterval(keepAlive);
    for (const timer of timers) clearInterval(timer);
    log('shutting down', { signal });
    entra.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`dev-entra: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

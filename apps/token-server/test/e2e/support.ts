// Shared set-up of the token-server e2e tests: dev-entra with a registered app for the server's own
// certificate credential, the built token-server launched as a child process, SDK child processes.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DevEntra, type RegisteredApp } from '@auth-sidecars/dev-entra';
import { launchApp, type LaunchedProcess } from '@auth-sidecars/testkit/process';

export const MAIN = join(import.meta.dirname, '..', '..', 'dist', 'main.js');
export const SDK_CLIENT = join(import.meta.dirname, 'fixtures', 'sdk-client.mjs');

export const SECRETS = {
  default: 'default-secret-0123456789abcdef',
  apiOld: 'api-secret-old-0123456789abcdef',
  apiNew: 'api-secret-new-0123456789abcdef',
  worker: 'worker-secret-0123456789abcdef',
  imds: 'imds-client-secret-0123456789ab',
} as const;

export const VAULT = 'https://vault.azure.net';
export const STORAGE = 'https://storage.azure.com';
export const MANAGEMENT = 'https://management.azure.com';

export interface Fixture {
  entra: DevEntra;
  app: RegisteredApp;
  dir: string;
  /** Environment of a token-server that uses the app's certificate against dev-entra. */
  serverEnv: Record<string, string>;
}

export async function startFixture(): Promise<Fixture> {
  const entra = await DevEntra.start();
  const cert = await entra.createClientCertificate({ subject: 'token-server' });
  const app = entra.registerApp({ name: 'token-server', certificatePem: cert.certPem });
  const dir = mkdtempSync(join(tmpdir(), 'token-server-e2e-'));
  const certPath = join(dir, 'client.pem');
  writeFileSync(certPath, cert.pem);
  const clients = [
    { name: 'api', secrets: [SECRETS.apiOld, SECRETS.apiNew], scopes: [`${VAULT}/.default`, STORAGE] },
    { name: 'worker', secrets: [SECRETS.worker], scopes: [MANAGEMENT] },
    { name: 'imds-apps', secrets: [SECRETS.imds], scopes: [VAULT] },
  ];
  const serverEnv: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'debug',
    AZURE_TENANT_ID: entra.tenantId,
    AZURE_CLIENT_ID: app.clientId,
    AZURE_CLIENT_CERTIFICATE_PATH: certPath,
    AZURE_AUTHORITY_HOST: entra.url,
    NODE_EXTRA_CA_CERTS: entra.caPath,
    AZD_AUTH_SECRET: SECRETS.default,
    TOKEN_SERVER_CLIENTS: JSON.stringify(clients),
    TOKEN_SERVER_IMDS_CLIENT: 'imds-apps',
  };
  return { entra, app, dir, serverEnv };
}

export function launchServer(env: Record<string, string>): Promise<LaunchedProcess> {
  return launchApp(MAIN, { env, startTimeoutMs: 60_000 });
}

export interface SdkResult {
  ok: boolean;
  token?: string;
  expiresOnTimestamp?: number;
  cachedSame?: boolean;
  name?: string;
  message?: string;
  /** Key Vault clients: the secret value read back. */
  value?: string;
}

/** Runs the SDK fixture in a fresh Node 24 process with exactly `env` (plus PATH). */
export function runSdkClient(args: string[], env: Record<string, string>): Promise<SdkResult> {
  return runClient(process.execPath, [SDK_CLIENT, ...args], env);
}

/** Debian's interpreter, where python3-azure is installed (not a pyenv or venv python on PATH). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PYTHON_CLIENT = join(import.meta.dirname, 'fixtures', 'python-client.py');

/** Runs the Python fixture (python3-azure) with exactly `env` (plus PATH), ignoring user site-packages. */
export function runPythonClient(args: string[], env: Record<string, string>): Promise<SdkResult> {
  return runClient(SYSTEM_PYTHON, ['-s', PYTHON_CLIENT, ...args], { PYTHONDONTWRITEBYTECODE: '1', ...env });
}

/** Runs a client process that prints one JSON result line last. */
export function runClient(command: string, args: string[], env: Record<string, string>): Promise<SdkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
    const stderr: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    // 'close', not 'exit': the last line may still be in the pipe when the process exits.
    child.on('close', (code) => {
      clearTimeout(timer);
      const last = lines.filter((l) => l.startsWith('{')).pop();
      if (!last)
        return reject(
          new Error(`${command} exited ${code} without a result:\n${[...lines, ...stderr].join('\n')}`),
        );
      resolve(JSON.parse(last) as SdkResult);
    });
  });
}

export function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

// Test assertions walk into arbitrary JSON answers; a loose type keeps them readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body };
}

type LogLine = Record<string, unknown>;

/**
 * The log lines matching `test`, once at least `atLeast` of them were read: the server batches its
 * lines (LOG_BATCH defaults to true), so a line reaches the pipe just after the response it belongs to.
 */
export async function logsMatching(
  server: LaunchedProcess,
  test: (line: LogLine) => boolean,
  atLeast = 1,
): Promise<LogLine[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = server.logs().filter(test);
    // On timeout the caller's assertion on what was found tells what is missing.
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
}

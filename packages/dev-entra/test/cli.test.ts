// The dev-entra CLI (built dist/cli.js) as a child process: apps file, printed CA, controls, SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import { decodeJwt } from 'jose';
import { trustDevEntraCa } from '../src/index.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');

let dir: string;
let child: ChildProcess;
let output = '';
let listening: { url: string; tenantId: string; caPath: string };

function waitForListening(proc: ChildProcess): Promise<{ url: string; tenantId: string; caPath: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 20_000);
    proc.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      for (const line of output.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as {
          message?: string;
          url: string;
          tenantId: string;
          caPath: string;
        };
        if (parsed.message === 'listening') {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    proc.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

beforeAll(async () => {
  expect(existsSync(CLI)).toBe(true); // built by turbo before the tests (test dependsOn build)
  dir = mkdtempSync(join(tmpdir(), 'dev-entra-cli-'));
  writeFileSync(
    join(dir, 'apps.json'),
    JSON.stringify({
      apps: [
        {
          clientId: 'openai-proxy',
          name: 'openai-proxy',
          createCertificate: 'openai-proxy.pem',
          roles: ['OpenAI.User'],
        },
        {
          clientId: 'prom-sidecar',
          federatedSubject: 'system:serviceaccount:monitoring:prom-sidecar',
          federatedTokenPath: 'tokens/prom-sidecar',
        },
      ],
    }),
  );
  child = spawn(
    process.execPath,
    [
      CLI,
      '--apps',
      join(dir, 'apps.json'),
      '--ca-file',
      join(dir, 'ca.pem'),
      '--app',
      'demo-client:demo-secret',
    ],
    { env: { ...process.env, DEV_ENTRA_PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  listening = await waitForListening(child);
  trustDevEntraCa(readFileSync(listening.caPath, 'utf8'));
}, 30_000);

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const options = () => ({ authorityHost: listening.url, disableInstanceDiscovery: true });

describe('dev-entra CLI', () => {
  it('prints URL, tenant, CA path, demo users and example environment', async () => {
    // The readable summary is a second write after the `listening` line: wait for its end.
    const deadline = Date.now() + 10_000;
    while (!output.includes('NODE_EXTRA_CA_CERTS=') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(listening.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.caPath).toBe(join(dir, 'ca.pem'));
    expect(readFileSync(listening.caPath, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(output).toContain(`AZURE_AUTHORITY_HOST=${listening.url}`);
    expect(output).toContain(`NODE_EXTRA_CA_CERTS=${listening.caPath}`);
    expect(output).toContain('alice@contoso.test');
    expect(output).toContain(listening.tenantId);
  });

  it('registers apps from flags and the apps file (generated certificate, federated token file)', async () => {
    const secret = new ClientSecretCredential(listening.tenantId, 'demo-client', 'demo-secret', options());
    expect(decodeJwt((await secret.getToken('api://demo/.default')).token).aud).toBe('api://demo');

    const cert = new ClientCertificateCredential(
      listening.tenantId,
      'openai-proxy',
      join(dir, 'openai-proxy.pem'),
      options(),
    );
    expect(
      decodeJwt((await cert.getToken('https://cognitiveservices.azure.com/.default')).token),
    ).toMatchObject({
      aud: 'https://cognitiveservices.azure.com',
      roles: ['OpenAI.User'],
    });

    const workload = new WorkloadIdentityCredential({
      tenantId: listening.tenantId,
      clientId: 'prom-sidecar',
      tokenFilePath: join(dir, 'tokens', 'prom-sidecar'),
      ...options(),
    });
    expect(
      decodeJwt((await workload.getToken('https://prometheus.monitor.azure.com/.default')).token).azp,
    ).toBe('prom-sidecar');
  });

  it('serves the control endpoints', async () => {
    const stats = (await (await fetch(`${listening.url}/_control/stats`)).json()) as {
      tokenRequests: number;
      byClient: Record<string, number>;
    };
    expect(stats.tokenRequests).toBeGreaterThanOrEqual(3);
    expect(stats.byClient['demo-client']).toBeGreaterThanOrEqual(1);
  });

  it('exits 0 on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

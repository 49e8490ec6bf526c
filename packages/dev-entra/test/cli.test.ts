// The dev-entra CLI (built dist/cli.js) as a child process: apps file, printed CA, controls, SIGTERM,
// outages that end (forMs, SIGUSR2), and --state-dir across a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { trustDevEntraCa, verifyAccessToken } from '../src/index.js';

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

/** Another CLI process, for the tests that stop or take down their own. */
interface Cli {
  child: ChildProcess;
  listening: { url: string; tenantId: string; caPath: string; pid: number };
  output(): string;
  exited: Promise<number | null>;
}

async function startCli(args: string[]): Promise<Cli> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const listening = await new Promise<Cli['listening']>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${text}`)), 30_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.startsWith('{') && l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Cli['listening']);
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
    void exited.then((code) => reject(new Error(`exited ${code}:\n${text}`)));
  });
  return { child: proc, listening, output: () => text, exited };
}

async function stopCli(cli: Cli): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGTERM');
  await cli.exited;
}

/** A client-credentials token request; resolves with the status, or the connection error code. */
async function tokenStatus(cli: Cli, clientId: string, secret: string): Promise<number | string> {
  try {
    const res = await fetch(`${cli.listening.url}/${cli.listening.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', connection: 'close' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: secret,
        scope: 'api://outage/.default',
      }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code ?? String(err);
  }
}

/** Polls `probe` until it returns `want` or the deadline passes; returns the last value seen. */
async function waitFor<T>(probe: () => Promise<T>, want: T, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (last !== want && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await probe();
  }
  return last;
}

describe('dev-entra CLI outages that end', () => {
  let cli: Cli;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'dev-entra-outage-'));
    cli = await startCli(['--ca-file', join(work, 'ca.pem'), '--app', 'outage-client:outage-secret']);
    trustDevEntraCa(readFileSync(cli.listening.caPath, 'utf8'));
  }, 40_000);

  afterAll(async () => {
    await stopCli(cli);
    rmSync(work, { recursive: true, force: true });
  });

  it('POST /_control/down refuse with forMs: the process stays up and answers again on the same URL', async () => {
    expect(await tokenStatus(cli, 'outage-client', 'outage-secret')).toBe(200);
    const res = await fetch(`${cli.listening.url}/_control/down`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ mode: 'refuse', forMs: 1_500 }),
    });
    expect(res.status).toBe(200);
    expect(
      await waitFor(() => tokenStatus(cli, 'outage-client', 'outage-secret'), 'ECONNREFUSED', 10_000),
    ).toBe('ECONNREFUSED');
    expect(cli.child.exitCode).toBeNull(); // nothing listening, but not gone
    // Back after forMs (give a busy machine room: the bound is not what is tested here).
    expect(await waitFor(() => tokenStatus(cli, 'outage-client', 'outage-secret'), 200, 20_000)).toBe(200);
    expect(cli.child.exitCode).toBeNull();
  }, 40_000);

  it('refuse without forMs: SIGUSR2 brings it back', async () => {
    await fetch(`${cli.listening.url}/_control/down`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ mode: 'refuse' }),
    });
    expect(
      await waitFor(() => tokenStatus(cli, 'outage-client', 'outage-secret'), 'ECONNREFUSED', 10_000),
    ).toBe('ECONNREFUSED');
    cli.child.kill('SIGUSR2');
    expect(await waitFor(() => tokenStatus(cli, 'outage-client', 'outage-secret'), 200, 20_000)).toBe(200);
    expect(cli.output()).toMatch(/"message":"up".*"signal":"SIGUSR2"/);
  }, 40_000);
});

describe('dev-entra CLI --state-dir', () => {
  it('keeps the CA and the signing keys across a restart, so a client that trusted it reconnects', async () => {
    const work = mkdtempSync(join(tmpdir(), 'dev-entra-state-'));
    const stateDir = join(work, 'state');
    const args = ['--state-dir', stateDir, '--app', 'state-client:state-secret'];
    let cli = await startCli(args);
    try {
      const first = cli.listening;
      expect(first.caPath).toBe(join(stateDir, 'ca.pem'));
      const caBefore = readFileSync(first.caPath, 'utf8');
      trustDevEntraCa(caBefore);
      const credential = new ClientSecretCredential(first.tenantId, 'state-client', 'state-secret', {
        authorityHost: first.url,
        disableInstanceDiscovery: true,
      });
      const before = await credential.getToken('api://state/.default');
      const jwksBefore = await (await fetch(`${first.url}/${first.tenantId}/discovery/v2.0/keys`)).json();
      const federatedBefore = (await (
        await fetch(`${first.url}/_control/federated-token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: 'system:serviceaccount:ns:sa' }),
        })
      ).json()) as { token: string };
      // Private keys on disk: readable by the owner only.
      expect(statSync(stateDir).mode & 0o077).toBe(0);
      expect(statSync(join(stateDir, 'dev-entra-state.json')).mode & 0o077).toBe(0);

      await stopCli(cli);
      // Same port, same state: to the credential above, the IdP simply came back.
      const port = new URL(first.url).port;
      cli = await startCli([...args, '--port', port]);
      expect(cli.listening.url).toBe(first.url);
      expect(readFileSync(cli.listening.caPath, 'utf8')).toBe(caBefore);
      const jwksAfter = await (await fetch(`${first.url}/${first.tenantId}/discovery/v2.0/keys`)).json();
      expect(jwksAfter).toEqual(jwksBefore);

      const after = await credential.getToken('api://state-after/.default'); // TLS trust still holds
      expect(after.token).not.toBe(before.token);
      expect(decodeProtectedHeader(after.token).kid).toBe(decodeProtectedHeader(before.token).kid);
      // A token issued before the restart still verifies against the JWKS served after it.
      await expect(
        verifyAccessToken(before.token, {
          audience: 'api://state',
          issuer: `${first.url}/${first.tenantId}/v2.0`,
        }),
      ).resolves.toMatchObject({ azp: 'state-client' });
      const kubernetesJwks = (await (await fetch(`${first.url}/_kubernetes/openid/v1/jwks`)).json()) as {
        keys: Array<{ kid: string }>;
      };
      expect(kubernetesJwks.keys.map((k) => k.kid)).toContain(
        decodeProtectedHeader(federatedBefore.token).kid,
      );
    } finally {
      await stopCli(cli);
      rmSync(work, { recursive: true, force: true });
    }
  }, 90_000);
});

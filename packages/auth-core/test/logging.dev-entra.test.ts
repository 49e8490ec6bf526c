// auth-core's log lines through service-kit's real logger: useful fields, never a secret.
import { writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { startDevEntra } from '@auth-sidecars/dev-entra';
import type { DevEntra } from '@auth-sidecars/dev-entra';
import { createLogger } from '@auth-sidecars/service-kit';
import { createCredential } from '../src/credential.js';
import { TokenProvider } from '../src/token-provider.js';
import { SCOPE, tempDir } from './helpers/dev-entra.js';

let entra: DevEntra;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  entra = await startDevEntra();
  entra.trust();
  dir = await tempDir();
});

afterAll(async () => {
  await entra?.close();
  await dir?.remove();
});

it('logs acquisitions, failures and certificate changes with component fields and no secret', async () => {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const logger = createLogger({ service: 'auth-core-test', level: 'debug', stream });

  const cert = await entra.createClientCertificate();
  const secretApp = entra.registerApp({ clientSecret: 'super-secret-value-123' });
  const certApp = entra.registerApp({ certificatePem: cert.certPem });
  const pemPath = dir.file('log.pem');
  await writeFile(pemPath, cert.pem);

  const secretProvider = new TokenProvider({
    credential: createCredential(
      {
        kind: 'client-secret',
        tenantId: entra.tenantId,
        clientId: secretApp.clientId,
        clientSecret: 'super-secret-value-123',
        authorityHost: entra.url,
      },
      { logger },
    ),
    scope: SCOPE,
    logger,
  });
  const certProvider = new TokenProvider({
    credential: createCredential(
      {
        kind: 'certificate',
        tenantId: entra.tenantId,
        clientId: certApp.clientId,
        certificatePath: pemPath,
        authorityHost: entra.url,
      },
      { logger },
    ),
    scope: SCOPE,
    logger,
    startAttempts: 1,
  });
  const tokens = [(await secretProvider.getToken()).token, (await certProvider.getToken()).token];
  entra.failNext(1, 503);
  await secretProvider.invalidate().catch(() => undefined);
  secretProvider.stop();
  certProvider.stop();
  await new Promise((resolve) => setImmediate(resolve));

  const output = chunks.join('');
  const lines = output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(lines.find((l) => l.message === 'credential configured' && l.kind === 'certificate')).toMatchObject({
    component: 'credential',
    certificatePath: pemPath,
  });
  expect(lines.find((l) => l.message === 'client certificate loaded')).toMatchObject({
    thumbprintSha256: expect.stringMatching(/^[0-9A-F:]+$/),
  });
  expect(lines.filter((l) => l.message === 'token acquired')).toHaveLength(2);
  expect(lines.find((l) => l.message === 'token acquired')).toMatchObject({
    component: 'token-provider',
    scope: SCOPE,
    expiresAt: expect.any(String),
    refreshAt: expect.any(String),
  });
  expect(
    lines.find((l) => l.message === 'token refresh failed; keeping the current token until it expires'),
  ).toMatchObject({
    level: 'warn',
    consecutiveFailures: 1,
    error: expect.stringContaining('AADSTS'),
  });
  for (const secret of ['super-secret-value-123', ...tokens, cert.keyPem.split('\n')[1]!]) {
    expect(output).not.toContain(secret);
  }
});

// Python apps, unmodified, with Debian's python3-azure (scripts/ensure-test-deps.mjs installs it):
// ManagedIdentityCredential and DefaultAzureCredential configured only by IDENTITY_ENDPOINT and
// IDENTITY_HEADER (plus REQUESTS_CA_BUNDLE for TLS), and the Python credential of token-client's
// README run exactly as documented, all against the running token-server backed by dev-entra.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, createServerCertificate } from '@auth-sidecars/dev-entra';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import {
  launchServer,
  runPythonClient,
  SECRETS,
  startFixture,
  STORAGE,
  VAULT,
  type Fixture,
  type SdkResult,
} from './support.js';

const TOKEN_CLIENT_README = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'packages',
  'token-client',
  'README.md',
);

/** The Python code block of the README section that documents it, as a reader would copy it. */
function documentedPythonCredential(): string {
  const readme = readFileSync(TOKEN_CLIENT_README, 'utf8');
  const section = readme.slice(readme.indexOf('## The same protocol from Python'));
  const block = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block)
    throw new Error(`no python block under "The same protocol from Python" in ${TOKEN_CLIENT_README}`);
  return block;
}

let fx: Fixture;
let server: LaunchedProcess;

beforeAll(async () => {
  fx = await startFixture();
  server = await launchServer(fx.serverEnv);
});

afterAll(async () => {
  await server?.close();
  await fx?.entra.close();
});

async function expectWorkingToken(result: SdkResult, resource: string) {
  expect(result).toMatchObject({ ok: true, cachedSame: true });
  const claims = await fx.entra.verifyAccessToken(result.token!, { audience: resource });
  expect(claims.aud).toBe(resource);
  expect(claims.appid).toBe(fx.app.clientId);
  expect(result.expiresOnTimestamp! - Date.now()).toBeGreaterThan(55 * 60_000);
}

describe('python3-azure with only IDENTITY_ENDPOINT and IDENTITY_HEADER', () => {
  it('ManagedIdentityCredential gets a token whose aud is the resource', async () => {
    const result = await runPythonClient(['mi', `${VAULT}/.default`], {
      IDENTITY_ENDPOINT: `${server.url}/msi/token`,
      IDENTITY_HEADER: SECRETS.apiOld,
    });
    await expectWorkingToken(result, VAULT);
  });

  it('DefaultAzureCredential does too (IDENTITY_ENDPOINT = server root)', async () => {
    const result = await runPythonClient(['dac', `${STORAGE}/.default`], {
      IDENTITY_ENDPOINT: server.url,
      IDENTITY_HEADER: SECRETS.apiNew,
    });
    await expectWorkingToken(result, STORAGE);
  });

  it('a wrong IDENTITY_HEADER or a scope outside the allow-list fails in the SDK', async () => {
    const wrong = await runPythonClient(['mi', `${VAULT}/.default`], {
      IDENTITY_ENDPOINT: `${server.url}/msi/token`,
      IDENTITY_HEADER: 'not-a-client-secret-000000000',
    });
    expect(wrong).toMatchObject({ ok: false });
    expect(wrong.message).toMatch(/authentication required/);
    const outside = await runPythonClient(['mi', 'https://management.azure.com/.default'], {
      IDENTITY_ENDPOINT: `${server.url}/msi/token`,
      IDENTITY_HEADER: SECRETS.apiOld,
    });
    expect(outside).toMatchObject({ ok: false });
    expect(outside.message).toMatch(/scope not allowed/);
  });

  it('over TLS, trusting the token-server CA through REQUESTS_CA_BUNDLE', async () => {
    const ca = await createCertificateAuthority('token-server python CA');
    const cert = await createServerCertificate(ca);
    const paths = {
      ca: join(fx.dir, 'py-ca.pem'),
      cert: join(fx.dir, 'py-cert.pem'),
      key: join(fx.dir, 'py-key.pem'),
    };
    writeFileSync(paths.ca, ca.certPem);
    writeFileSync(paths.cert, cert.certPem);
    writeFileSync(paths.key, cert.keyPem);
    const tlsServer = await launchServer({
      ...fx.serverEnv,
      TLS_CERT_PATH: paths.cert,
      TLS_KEY_PATH: paths.key,
    });
    try {
      expect(tlsServer.url).toMatch(/^https:\/\//);
      const env = { IDENTITY_ENDPOINT: `${tlsServer.url}/msi/token`, IDENTITY_HEADER: SECRETS.apiOld };
      await expectWorkingToken(
        await runPythonClient(['mi', `${VAULT}/.default`], { ...env, REQUESTS_CA_BUNDLE: paths.ca }),
        VAULT,
      );
      // The check can fail: without the CA the SDK refuses the server's certificate.
      const untrusted = await runPythonClient(['mi', `${VAULT}/.default`], env);
      expect(untrusted).toMatchObject({ ok: false });
      expect(untrusted.message).toMatch(/certificate/i);
    } finally {
      await tlsServer.close();
    }
  });
});

describe("token-client README's Python AuthServerCredential, as documented", () => {
  it('gets a token through GET /token with AUTH_SERVER_URL and AZD_AUTH_SECRET, then from its cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'token-server-python-'));
    writeFileSync(join(dir, 'auth_server_credential.py'), documentedPythonCredential());
    const env = { PYTHONPATH: dir, AUTH_SERVER_URL: server.url };
    await expectWorkingToken(
      await runPythonClient(['snippet', `${VAULT}/.default`], { ...env, AZD_AUTH_SECRET: SECRETS.apiOld }),
      VAULT,
    );
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${SECRETS.apiNew}\n`);
    await expectWorkingToken(
      await runPythonClient(['snippet', `${STORAGE}/.default`], { ...env, AZD_AUTH_SECRET_FILE: secretFile }),
      STORAGE,
    );
    const refused = await runPythonClient(['snippet', `${VAULT}/.default`], {
      ...env,
      AZD_AUTH_SECRET: 'not-a-client-secret-000000000',
    });
    expect(refused).toMatchObject({ ok: false, name: 'HTTPError' });
    expect(refused.message).toMatch(/401/);
  });
});

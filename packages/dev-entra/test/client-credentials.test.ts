// Real @azure/identity credentials against dev-entra over HTTPS (in-process CA trust).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthenticationRequiredError,
  ClientCertificateCredential,
  ClientSecretCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startDevEntra, verifyAccessToken, type DevEntra } from '../src/index.js';

let entra: DevEntra;
let dir: string;

beforeAll(async () => {
  entra = await startDevEntra();
  entra.trust();
  dir = mkdtempSync(join(tmpdir(), 'dev-entra-test-'));
});

afterAll(async () => {
  await entra.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = () => ({ authorityHost: entra.url, disableInstanceDiscovery: true });

describe('ClientCertificateCredential', () => {
  it('gets an RS256 app token with aud, tid, roles and the service principal oid', async () => {
    const cert = await entra.createClientCertificate();
    const app = entra.registerApp({
      certificatePem: cert.certPem,
      roles: ['Metrics.Read'],
      name: 'prom-sidecar',
    });
    const pemPath = join(dir, 'app.pem');
    writeFileSync(pemPath, cert.pem);
    const credential = new ClientCertificateCredential(entra.tenantId, app.clientId, pemPath, options());

    const token = await credential.getToken('https://prometheus.monitor.azure.com/.default');

    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 3000 * 1000);
    const header = decodeProtectedHeader(token.token);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toBe(entra.jwks.keys[0]?.kid);
    const claims = decodeJwt(token.token);
    expect(claims).toMatchObject({
      aud: 'https://prometheus.monitor.azure.com',
      iss: `${entra.url}/${entra.tenantId}/v2.0`,
      tid: entra.tenantId,
      roles: ['Metrics.Read'],
      azp: app.clientId,
      appid: app.clientId,
      oid: app.servicePrincipalId,
      sub: app.servicePrincipalId,
      idtyp: 'app',
      azpacr: '2',
    });
    expect(entra.stats().byClient[app.clientId]).toBe(1);
    expect(entra.stats().byGrant.client_credentials).toBeGreaterThanOrEqual(1);
  });

  it('maps a GUID .default scope to the GUID audience', async () => {
    const cert = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: cert.certPem });
    const pemPath = join(dir, 'guid.pem');
    writeFileSync(pemPath, cert.pem);
    const credential = new ClientCertificateCredential(entra.tenantId, app.clientId, pemPath, options());
    const token = await credential.getToken('6dae42f8-4368-4678-94ff-3960e28e3630/.default');
    expect(decodeJwt(token.token).aud).toBe('6dae42f8-4368-4678-94ff-3960e28e3630');
  });

  it('accepts separate certificate and key and the x5c chain (sendCertificateChain)', async () => {
    const cert = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: cert.certPem });
    const credential = new ClientCertificateCredential(
      entra.tenantId,
      app.clientId,
      { certificate: cert.pem },
      { ...options(), sendCertificateChain: true },
    );
    const token = await credential.getToken('https://cognitiveservices.azure.com/.default');
    expect(decodeJwt(token.token).aud).toBe('https://cognitiveservices.azure.com');
  });

  it('refuses a certificate that is not registered on the app (AADSTS700027, surfaced by @azure/identity as AuthenticationRequiredError)', async () => {
    const registered = await entra.createClientCertificate();
    const wrong = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: registered.certPem });
    const credential = new ClientCertificateCredential(
      entra.tenantId,
      app.clientId,
      { certificate: wrong.pem },
      options(),
    );
    const failure = credential.getToken('https://x.example/.default');
    await expect(failure).rejects.toBeInstanceOf(AuthenticationRequiredError);
    await expect(failure).rejects.toThrow(/AADSTS700027/);
    const last = entra.requestLog.filter((e) => e.grantType === 'client_credentials').at(-1);
    expect(last).toMatchObject({
      status: 401,
      clientAuth: 'certificate',
      error: 'invalid_client AADSTS700027',
    });
  });

  it('accepts a rotated certificate once it is registered, and refuses it after removal', async () => {
    const first = await entra.createClientCertificate();
    const second = await entra.createClientCertificate();
    const app = entra.registerApp({ certificatePem: first.certPem });
    const scope = 'https://rotation.example/.default';
    const make = (pem: string) =>
      new ClientCertificateCredential(entra.tenantId, app.clientId, { certificate: pem }, options());
    await expect(make(second.pem).getToken(scope)).rejects.toBeInstanceOf(AuthenticationRequiredError);
    entra.addAppCertificate(app.clientId, second.certPem);
    await expect(make(second.pem).getToken(scope)).resolves.toMatchObject({ token: expect.any(String) });
    entra.removeAppCertificate(app.clientId, first.thumbprint);
    await expect(make(first.pem).getToken(scope)).rejects.toBeInstanceOf(AuthenticationRequiredError);
  });
});

describe('ClientSecretCredential', () => {
  it('gets a token with the right secret', async () => {
    const app = entra.registerApp({ clientSecret: 's3cret-value', roles: ['Tokens.Issue'] });
    const credential = new ClientSecretCredential(entra.tenantId, app.clientId, 's3cret-value', options());
    const token = await credential.getToken('api://token-server/.default');
    expect(decodeJwt(token.token)).toMatchObject({
      aud: 'api://token-server',
      roles: ['Tokens.Issue'],
      azpacr: '1',
    });
  });

  it('refuses a wrong secret with AADSTS7000215', async () => {
    const app = entra.registerApp({ clientSecret: 'right' });
    const credential = new ClientSecretCredential(entra.tenantId, app.clientId, 'wrong', options());
    const failure = credential.getToken('api://token-server/.default');
    await expect(failure).rejects.toBeInstanceOf(AuthenticationRequiredError);
    await expect(failure).rejects.toThrow(/AADSTS7000215/);
  });

  it('refuses an unknown client id with AADSTS700016', async () => {
    const credential = new ClientSecretCredential(
      entra.tenantId,
      '11111111-2222-4333-8444-555555555555',
      'x',
      options(),
    );
    await expect(credential.getToken('api://token-server/.default')).rejects.toThrow(/AADSTS700016/);
  });

  it('never writes the secret into the request log', async () => {
    const app = entra.registerApp({ clientSecret: 'do-not-log-me-123' });
    const credential = new ClientSecretCredential(
      entra.tenantId,
      app.clientId,
      'do-not-log-me-123',
      options(),
    );
    await credential.getToken('api://logged/.default');
    expect(JSON.stringify(entra.requestLog)).not.toContain('do-not-log-me-123');
  });
});

describe('WorkloadIdentityCredential', () => {
  it('exchanges a federated token file for an access token', async () => {
    const subject = 'system:serviceaccount:monitoring:prom-sidecar';
    const app = entra.registerApp({ federatedSubject: subject, roles: ['Metrics.Read'] });
    const tokenFile = join(dir, 'federated-token');
    writeFileSync(tokenFile, entra.issueFederatedToken({ subject }));
    const credential = new WorkloadIdentityCredential({
      tenantId: entra.tenantId,
      clientId: app.clientId,
      tokenFilePath: tokenFile,
      ...options(),
    });
    const token = await credential.getToken('https://prometheus.monitor.azure.com/.default');
    expect(decodeJwt(token.token)).toMatchObject({
      aud: 'https://prometheus.monitor.azure.com',
      azp: app.clientId,
      roles: ['Metrics.Read'],
    });
    expect(entra.requestLog.filter((e) => e.clientId === app.clientId).at(-1)?.clientAuth).toBe('federated');
  });

  it('refuses a federated token for another subject (AADSTS70021)', async () => {
    const app = entra.registerApp({ federatedSubject: 'system:serviceaccount:a:good' });
    const tokenFile = join(dir, 'federated-token-bad');
    writeFileSync(tokenFile, entra.issueFederatedToken({ subject: 'system:serviceaccount:a:evil' }));
    const credential = new WorkloadIdentityCredential({
      tenantId: entra.tenantId,
      clientId: app.clientId,
      tokenFilePath: tokenFile,
      ...options(),
    });
    await expect(credential.getToken('https://x.example/.default')).rejects.toThrow(/AADSTS70021/);
  });

  it('refuses a federated token with the wrong audience (AADSTS700212)', async () => {
    const subject = 'system:serviceaccount:a:aud';
    const app = entra.registerApp({ federatedSubject: subject });
    const tokenFile = join(dir, 'federated-token-aud');
    writeFileSync(tokenFile, entra.issueFederatedToken({ subject, audience: 'something-else' }));
    const credential = new WorkloadIdentityCredential({
      tenantId: entra.tenantId,
      clientId: app.clientId,
      tokenFilePath: tokenFile,
      ...options(),
    });
    await expect(credential.getToken('https://x.example/.default')).rejects.toThrow(/AADSTS700212/);
  });
});

describe('JWKS', () => {
  it('verifies issued tokens through the published JWKS and the in-memory helper', async () => {
    const app = entra.registerApp({ clientSecret: 'jwks' });
    const credential = new ClientSecretCredential(entra.tenantId, app.clientId, 'jwks', options());
    const { token } = await credential.getToken('api://gate/.default');

    const remote = await verifyAccessToken(token, { audience: 'api://gate', issuer: entra.issuer });
    expect(remote.azp).toBe(app.clientId);
    const local = await entra.verifyAccessToken(token, { audience: 'api://gate' });
    expect(local.tid).toBe(entra.tenantId);

    await expect(entra.verifyAccessToken(token, { audience: 'api://other' })).rejects.toThrow();
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), roles: ['Admin'] })).toString('base64url')}.${s}`;
    expect(p).toBeDefined();
    await expect(
      verifyAccessToken(tampered, { audience: 'api://gate', issuer: entra.issuer }),
    ).rejects.toThrow();
  });

  it('serves the OpenID configuration and JWKS documents', async () => {
    const config = (await (
      await fetch(`${entra.authority}/v2.0/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    expect(config).toMatchObject({
      issuer: entra.issuer,
      token_endpoint: entra.tokenEndpoint,
      jwks_uri: entra.jwksUri,
      authorization_endpoint: `${entra.authority}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${entra.authority}/oauth2/v2.0/logout`,
    });
    const jwks = (await (await fetch(entra.jwksUri)).json()) as { keys: { kid: string; kty: string }[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', kid: entra.jwks.keys[0]?.kid });
    const unknownTenant = await fetch(`${entra.url}/not-a-tenant/v2.0/.well-known/openid-configuration`);
    expect(unknownTenant.status).toBe(400);
    expect(await unknownTenant.json()).toMatchObject({ error: 'invalid_request', error_codes: [90002] });
  });
});

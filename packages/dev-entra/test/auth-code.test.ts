// Real @azure/msal-node ConfidentialClientApplication: authorization code + PKCE, refresh, errors.
import {
  ConfidentialClientApplication,
  CryptoProvider,
  InteractionRequiredAuthError,
  type AuthenticationResult,
} from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { DEMO_USERS, startDevEntra, type DevEntra, type RegisteredApp } from '../src/index.js';

const REDIRECT_URI = 'http://127.0.0.1:8400/auth/callback';
const SCOPES = ['api://aks-broker/user_impersonation'];

let entra: DevEntra;
let app: RegisteredApp;

beforeAll(async () => {
  entra = await startDevEntra({ trust: true });
  app = entra.registerApp({
    name: 'AKS broker',
    clientSecret: 'broker-secret',
    redirectUris: [REDIRECT_URI],
  });
});

afterAll(async () => {
  await entra.close();
});

afterEach(() => {
  entra.setTokenLifetime(3600);
});

function client(auth: Record<string, unknown> = { clientSecret: 'broker-secret' }, clientId = app.clientId) {
  return new ConfidentialClientApplication({
    auth: { clientId, authority: entra.authority, knownAuthorities: [entra.url], ...auth },
  });
}

/** Drives the sign-in page like a browser: GET the authorize URL, press the user's button, read the redirect. */
async function signIn(authorizeUrl: string, user = 'alice@contoso.test', action?: string): Promise<URL> {
  const page = await fetch(authorizeUrl);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  const html = await page.text();
  const formAction = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1];
  expect(formAction).toBeDefined();
  expect(tx).toBeDefined();
  expect(html).toContain(`value="${user}"`);
  const form = new URLSearchParams({ tx: tx ?? '', ...(action ? { action } : { user }) });
  const answer = await fetch(formAction!.replace(/&amp;/g, '&'), {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  expect(answer.status).toBe(302);
  return new URL(answer.headers.get('location') ?? '');
}

async function authorize(cca: ConfidentialClientApplication, user = 'alice@contoso.test') {
  const pkce = await new CryptoProvider().generatePkceCodes();
  const url = await cca.getAuthCodeUrl({
    scopes: SCOPES,
    redirectUri: REDIRECT_URI,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    state: 'state-123',
    nonce: 'nonce-456',
  });
  const redirect = await signIn(url, user);
  return { pkce, redirect, code: redirect.searchParams.get('code') ?? '' };
}

describe('authorization code flow with PKCE (msal-node)', () => {
  it('signs in, redeems the code, and refreshes silently after expiry via refresh_token', async () => {
    const cca = client();
    entra.setTokenLifetime(4);
    const { pkce, redirect, code } = await authorize(cca);
    expect(`${redirect.origin}${redirect.pathname}`).toBe(REDIRECT_URI);
    expect(redirect.searchParams.get('state')).toBe('state-123');
    expect(code).not.toBe('');

    const result = await cca.acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      codeVerifier: pkce.verifier,
      nonce: 'nonce-456',
    });
    const alice = DEMO_USERS[0]!;
    expect(result.account).toMatchObject({
      username: 'alice@contoso.test',
      name: 'Alice Anders',
      tenantId: entra.tenantId,
      localAccountId: alice.oid,
      homeAccountId: `${alice.oid}.${entra.tenantId}`,
    });
    expect(result.idTokenClaims).toMatchObject({ nonce: 'nonce-456', aud: app.clientId, oid: alice.oid });
    const claims = decodeJwt(result.accessToken);
    expect(claims).toMatchObject({
      aud: 'api://aks-broker',
      scp: 'user_impersonation',
      upn: 'alice@contoso.test',
      preferred_username: 'alice@contoso.test',
      name: 'Alice Anders',
      oid: alice.oid,
      tid: entra.tenantId,
      azp: app.clientId,
      idtyp: 'user',
      groups: alice.groups,
    });
    await expect(
      entra.verifyAccessToken(result.accessToken, { audience: 'api://aks-broker' }),
    ).resolves.toBeDefined();

    entra.resetStats();
    // The 4 s token is inside MSAL's 5 min expiry margin: acquireTokenSilent must use the refresh token.
    const silent: AuthenticationResult = await cca.acquireTokenSilent({
      account: result.account!,
      scopes: SCOPES,
    });
    expect(silent.accessToken).not.toBe(result.accessToken);
    expect(decodeJwt(silent.accessToken)).toMatchObject({ oid: alice.oid, aud: 'api://aks-broker' });
    expect(entra.stats()).toMatchObject({ tokenRequests: 1, byGrant: { refresh_token: 1 } });

    // Revoked refresh tokens: MSAL reports interaction required.
    entra.revokeRefreshTokens();
    await expect(cca.acquireTokenSilent({ account: result.account!, scopes: SCOPES })).rejects.toBeInstanceOf(
      InteractionRequiredAuthError,
    );
  });

  it('keeps the access token cached while it is valid (no token request)', async () => {
    const cca = client();
    const { pkce, code } = await authorize(cca, 'bob@contoso.test');
    const result = await cca.acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      codeVerifier: pkce.verifier,
      nonce: 'nonce-456',
    });
    entra.resetStats();
    const silent = await cca.acquireTokenSilent({ account: result.account!, scopes: SCOPES });
    expect(silent.accessToken).toBe(result.accessToken);
    expect(entra.stats().tokenRequests).toBe(0);
    expect(decodeJwt(silent.accessToken).upn).toBe('bob@contoso.test');
  });

  it('echoes the nonce in the id_token (msal-node rejects a different expected nonce)', async () => {
    const cca = client();
    const { pkce, code } = await authorize(cca);
    await expect(
      cca.acquireTokenByCode({
        code,
        scopes: SCOPES,
        redirectUri: REDIRECT_URI,
        codeVerifier: pkce.verifier,
        nonce: 'other',
      }),
    ).rejects.toMatchObject({ errorCode: 'nonce_mismatch' });
  });

  it('refuses a PKCE verifier that does not match the challenge (AADSTS501481)', async () => {
    const cca = client();
    const { code } = await authorize(cca);
    const other = await new CryptoProvider().generatePkceCodes();
    await expect(
      cca.acquireTokenByCode({
        code,
        scopes: SCOPES,
        redirectUri: REDIRECT_URI,
        codeVerifier: other.verifier,
        nonce: 'nonce-456',
      }),
    ).rejects.toMatchObject({
      errorCode: 'invalid_grant',
      errorMessage: expect.stringMatching(/AADSTS501481/),
    });
  });

  it('refuses a replayed code (AADSTS54005)', async () => {
    const cca = client();
    const { pkce, code } = await authorize(cca);
    await cca.acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      codeVerifier: pkce.verifier,
      nonce: 'nonce-456',
    });
    await expect(
      client().acquireTokenByCode({
        code,
        scopes: SCOPES,
        redirectUri: REDIRECT_URI,
        codeVerifier: pkce.verifier,
        nonce: 'nonce-456',
      }),
    ).rejects.toMatchObject({
      errorCode: 'invalid_grant',
      errorMessage: expect.stringMatching(/AADSTS54005/),
    });
    expect(JSON.stringify(entra.requestLog)).not.toContain(code);
  });

  it('refuses a redirect_uri different from the one the code was issued for', async () => {
    const other = 'http://127.0.0.1:8400/other';
    entra.registerApp({ ...app, certificatePem: undefined, redirectUris: [REDIRECT_URI, other] });
    const cca = client();
    const { pkce, code } = await authorize(cca);
    await expect(
      cca.acquireTokenByCode({
        code,
        scopes: SCOPES,
        redirectUri: other,
        codeVerifier: pkce.verifier,
        nonce: 'nonce-456',
      }),
    ).rejects.toMatchObject({ errorMessage: expect.stringMatching(/AADSTS50011/) });
  });

  it('works with a clientAssertion callback returning a federated token (workload identity)', async () => {
    const subject = 'system:serviceaccount:aks-broker:aks-broker';
    const federatedApp = entra.registerApp({
      federatedSubject: subject,
      redirectUris: [REDIRECT_URI],
      roles: ['Broker'],
    });
    let calls = 0;
    const cca = client(
      {
        clientAssertion: async () => {
          calls += 1;
          return entra.issueFederatedToken({ subject });
        },
      },
      federatedApp.clientId,
    );
    const { pkce, code } = await authorize(cca, 'carol@contoso.test');
    const result = await cca.acquireTokenByCode({
      code,
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      codeVerifier: pkce.verifier,
      nonce: 'nonce-456',
    });
    expect(decodeJwt(result.accessToken)).toMatchObject({
      upn: 'carol@contoso.test',
      azp: federatedApp.clientId,
    });
    const appToken = await cca.acquireTokenByClientCredential({
      scopes: ['https://management.azure.com/.default'],
    });
    expect(decodeJwt(appToken!.accessToken)).toMatchObject({
      aud: 'https://management.azure.com',
      roles: ['Broker'],
    });
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('works with a certificate credential (PS256 assertion with x5t#S256)', async () => {
    const cert = await entra.createClientCertificate();
    const certApp = entra.registerApp({ certificatePem: cert.certPem, redirectUris: [REDIRECT_URI] });
    const cca = client(
      {
        clientCertificate: {
          thumbprintSha256: cert.thumbprintSha256,
          privateKey: cert.keyPem,
          x5c: cert.certPem,
        },
      },
      certApp.clientId,
    );
    const result = await cca.acquireTokenByClientCredential({ scopes: ['api://x/.default'] });
    expect(decodeJwt(result!.accessToken).azp).toBe(certApp.clientId);
    expect(entra.requestLog.at(-1)).toMatchObject({ clientAuth: 'certificate', status: 200 });
  });
});

describe('authorize page and logout', () => {
  it('lists the demo users as buttons on an accessible page', async () => {
    const url = await client().getAuthCodeUrl({ scopes: SCOPES, redirectUri: REDIRECT_URI });
    const html = await (await fetch(url)).text();
    expect(html).toContain('<html lang="en">');
    expect(html).toContain('<h1>Sign in</h1>');
    for (const user of DEMO_USERS) {
      expect(html).toContain(`<button type="submit" name="user" value="${user.upn}"`);
      expect(html).toContain(`Sign in as ${user.name}`);
    }
    expect(html).toContain('AKS broker');
  });

  it('answers cancel with error=access_denied and the state', async () => {
    const url = await client().getAuthCodeUrl({ scopes: SCOPES, redirectUri: REDIRECT_URI, state: 's' });
    const redirect = await signIn(url, 'alice@contoso.test', 'cancel');
    expect(redirect.searchParams.get('error')).toBe('access_denied');
    expect(redirect.searchParams.get('state')).toBe('s');
    expect(redirect.searchParams.get('code')).toBeNull();
  });

  it('refuses an unregistered redirect URI without redirecting (AADSTS50011)', async () => {
    const url = await client().getAuthCodeUrl({ scopes: SCOPES, redirectUri: 'https://evil.example/cb' });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('AADSTS50011');
  });

  it('accepts a loopback redirect URI on another port (as Entra does)', async () => {
    const url = await client().getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: 'http://127.0.0.1:9999/auth/callback',
    });
    const redirect = await signIn(url);
    expect(redirect.port).toBe('9999');
  });

  it('supports response_mode=form_post', async () => {
    const url = await client().getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      responseMode: 'form_post' as never,
      state: 'fp',
    });
    const page = await fetch(url);
    const html = await page.text();
    const tx = /name="tx" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const answer = await fetch(`${entra.authority}/oauth2/v2.0/authorize`, {
      method: 'POST',
      body: new URLSearchParams({ tx, user: 'bob@contoso.test' }),
    });
    const post = await answer.text();
    expect(post).toContain(`<form method="post" action="${REDIRECT_URI}">`);
    expect(post).toMatch(/name="code" value="[^"]+"/);
    expect(post).toContain('name="state" value="fp"');
  });

  it('signs in silently with prompt=none and a known login_hint, else login_required', async () => {
    const cca = client();
    const silent = await cca.getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: REDIRECT_URI,
      prompt: 'none',
      loginHint: 'bob@contoso.test',
    });
    const ok = await fetch(silent, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy();
    const anonymous = await cca.getAuthCodeUrl({ scopes: SCOPES, redirectUri: REDIRECT_URI, prompt: 'none' });
    const refused = await fetch(anonymous, { redirect: 'manual' });
    expect(new URL(refused.headers.get('location') ?? '').searchParams.get('error')).toBe('login_required');
  });

  it('redirects logout to a registered post_logout_redirect_uri with the state', async () => {
    const target = 'http://127.0.0.1:8400/signed-out';
    const res = await fetch(
      `${entra.authority}/oauth2/v2.0/logout?post_logout_redirect_uri=${encodeURIComponent(target)}&state=bye`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${target}?state=bye`);
    const foreign = await fetch(
      `${entra.authority}/oauth2/v2.0/logout?post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
      { redirect: 'manual' },
    );
    expect(foreign.status).toBe(200);
    expect(await foreign.text()).toContain('You signed out');
  });
});

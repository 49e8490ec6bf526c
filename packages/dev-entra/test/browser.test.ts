// The sign-in page in a real headless Chromium: click a user's button, land on the redirect URI with a code.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfidentialClientApplication, CryptoProvider } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { chromium, type Browser } from 'playwright-core';
import { startDevEntra, type DevEntra } from '../src/index.js';

let entra: DevEntra;
let browser: Browser;
let callback: http.Server;
let redirectUri: string;
const received: URL[] = [];

beforeAll(async () => {
  entra = await startDevEntra({ trust: true });
  callback = http.createServer((req, res) => {
    received.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><title>done</title><h1>Signed in</h1>');
  });
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
  redirectUri = `http://127.0.0.1:${(callback.address() as AddressInfo).port}/auth/callback`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox'],
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => callback.close(resolve));
  await entra.close();
});

it('signs Bob in through the sign-in page in Chromium; the code redeems for his token', async () => {
  const app = entra.registerApp({ name: 'Browser demo', clientSecret: 'b', redirectUris: [redirectUri] });
  const cca = new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      clientSecret: 'b',
      authority: entra.authority,
      knownAuthorities: [entra.url],
    },
  });
  const pkce = await new CryptoProvider().generatePkceCodes();
  const scopes = ['api://demo/read'];
  const url = await cca.getAuthCodeUrl({
    scopes,
    redirectUri,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: 'S256',
    state: 'browser-state',
  });

  // dev-entra's CA is not in Chromium's trust store; this test is about the page, not TLS.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(url);
  await expect(page.getByRole('heading', { name: 'Sign in', exact: true }).isVisible()).resolves.toBe(true);
  await page.getByRole('button', { name: /Bob Baker/ }).click();
  await page.waitForURL(/\/auth\/callback\?/);
  await context.close();

  const landed = received.filter((u) => u.pathname === '/auth/callback').at(-1)!;
  expect(landed.searchParams.get('state')).toBe('browser-state');
  const code = landed.searchParams.get('code')!;
  const result = await cca.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: pkce.verifier });
  expect(decodeJwt(result.accessToken)).toMatchObject({
    upn: 'bob@contoso.test',
    scp: 'read',
    aud: 'api://demo',
  });
});

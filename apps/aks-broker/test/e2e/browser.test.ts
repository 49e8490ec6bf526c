// Headless Chromium against the real broker process over HTTPS (Secure __Host- cookie): alice and
// bob sign in through dev-entra's sign-in page in two isolated browser contexts, each sees only
// what the stand-in's RBAC allows, signs out, and is refused afterwards. Screenshots are saved in
// test-results/ as artifacts.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, type RunningChromium } from '@auth-sidecars/testkit/chromium';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { ALICE, BOB, startHttpsBroker, type World } from '../helpers.js';

const RESULTS = join(import.meta.dirname, '..', '..', 'test-results');

let world: World;
let broker: LaunchedProcess;
let chromium: RunningChromium;
let publicUrl: string;

beforeAll(async () => {
  ({ world, broker, publicUrl } = await startHttpsBroker());
  chromium = await launchChromium({ ignoreCertificateErrors: true });
  await mkdir(RESULTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await broker?.close();
  await world?.close();
});

async function signIn(context: BrowserContext, user: string, namespace: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${publicUrl}/?ns=${namespace}`);
  await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
  await page.getByRole('link', { name: 'Sign in' }).click();
  // dev-entra's sign-in page: one button per demo user.
  await page.getByRole('button', { name: new RegExp(user.replace('.', '\\.')) }).click();
  await page.waitForURL(`${publicUrl}/?ns=${namespace}`);
  await page.getByText(`Signed in as ${user}.`).waitFor();
  return page;
}

async function podNames(page: Page): Promise<string[]> {
  await page.locator('#pods-message').filter({ hasNotText: 'Loading' }).waitFor();
  return page.locator('#pods tbody th[scope="row"]').allTextContents();
}

async function chooseNamespace(page: Page, namespace: string): Promise<void> {
  await page.getByRole('combobox', { name: 'Namespace' }).fill(namespace);
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#pods-title .ns-name', { hasText: namespace }).waitFor();
}

it('two users in two browsers see only what RBAC allows them, sign out, and are refused afterwards', async () => {
  const aliceContext = await chromium.newContext();
  const bobContext = await chromium.newContext();
  const alice = await signIn(aliceContext, ALICE, 'team-a');
  const bob = await signIn(bobContext, BOB, 'team-b');

  // The session cookie: HttpOnly, Secure, SameSite=Lax, host-only (__Host- prefix).
  const [cookie] = await aliceContext.cookies();
  expect(cookie).toMatchObject({
    name: '__Host-aks-broker',
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
    path: '/',
  });
  expect(await alice.evaluate('document.cookie')).toBe('');

  // alice: who am I, pods with status, permissions in team-a.
  await expect(alice.locator('#me-username').textContent()).resolves.toBe(ALICE);
  await expect(alice.locator('#me-name').textContent()).resolves.toBe('Alice Anders');
  expect((await podNames(alice)).sort()).toEqual(['api-0', 'worker-0']);
  await expect(alice.locator('#pods tr[data-pod="worker-0"] td').first().textContent()).resolves.toBe(
    'Pending',
  );
  await expect(alice.locator('#permissions tbody').textContent()).resolves.toContain('pods, services');
  await alice.screenshot({ path: join(RESULTS, 'aks-broker-alice-team-a.png'), fullPage: true });

  // bob: his namespace only.
  await expect(bob.locator('#me-username').textContent()).resolves.toBe(BOB);
  expect(await podNames(bob)).toEqual(['db-0']);
  await bob.screenshot({ path: join(RESULTS, 'aks-broker-bob-team-b.png'), fullPage: true });

  // Each is refused the other's namespace by the API server's RBAC (as that user).
  await chooseNamespace(alice, 'team-b');
  await alice.getByText('You may not list pods in team-b.').waitFor();
  await chooseNamespace(bob, 'team-a');
  await bob.getByText('You may not list pods in team-a.').waitFor();
  await expect(bob.locator('#permissions tbody').textContent()).resolves.not.toContain('pods');
  await bob.screenshot({ path: join(RESULTS, 'aks-broker-bob-forbidden-team-a.png'), fullPage: true });
  const calls = world.kube.requestLog.filter((e) => e.path.endsWith('/pods') && !e.watch);
  expect(calls.filter((e) => e.user === ALICE).map((e) => [e.namespace, e.status])).toEqual(
    expect.arrayContaining([
      ['team-a', 200],
      ['team-b', 403],
    ]),
  );
  expect(calls.filter((e) => e.user === BOB).map((e) => [e.namespace, e.status])).toEqual(
    expect.arrayContaining([
      ['team-b', 200],
      ['team-a', 403],
    ]),
  );

  // Live updates: a pod created in team-a shows up on alice's page through the watch.
  await chooseNamespace(alice, 'team-a');
  expect((await podNames(alice)).sort()).toEqual(['api-0', 'worker-0']);
  world.kube.addPod({ name: 'web-1', namespace: 'team-a', phase: 'Running' });
  await alice.locator('#pods tr[data-pod="web-1"]').waitFor({ timeout: 10_000 });
  await alice.screenshot({ path: join(RESULTS, 'aks-broker-alice-watch.png'), fullPage: true });

  // Sign out: back on the broker's page via Entra's end-session endpoint, signed out.
  const aliceCookie = (await aliceContext.cookies())[0]!;
  await alice.getByRole('link', { name: 'Sign out' }).click();
  await alice.getByText(`Sign out ${ALICE} from the AKS broker?`).waitFor();
  await alice.getByRole('button', { name: 'Sign out' }).click();
  await alice.waitForURL(`${publicUrl}/`);
  await alice.getByRole('heading', { name: 'You are not signed in' }).waitFor();
  expect(await aliceContext.cookies()).toEqual([]);
  await alice.screenshot({ path: join(RESULTS, 'aks-broker-signed-out.png'), fullPage: true });

  // Refused afterwards: in the browser, and with the old cookie replayed.
  expect((await alice.request.get(`${publicUrl}/k8s/api/v1/namespaces/team-a/pods`)).status()).toBe(401);
  const replay = await bobContext.request.get(`${publicUrl}/api/me`, {
    headers: { cookie: `${aliceCookie.name}=${aliceCookie.value}` },
  });
  expect(replay.status()).toBe(401);

  // bob is still signed in until he signs out too.
  expect((await bob.request.get(`${publicUrl}/k8s/api/v1/namespaces/team-b/pods`)).status()).toBe(200);
  await bob.getByRole('link', { name: 'Sign out' }).click();
  await bob.getByRole('button', { name: 'Sign out' }).click();
  await bob.getByRole('heading', { name: 'You are not signed in' }).waitFor();
  expect((await bob.request.get(`${publicUrl}/k8s/api/v1/namespaces/team-b/pods`)).status()).toBe(401);

  // The broker logged both sign-ins and sign-outs; no token in its output.
  const logs = broker.logs();
  for (const user of [ALICE, BOB]) {
    expect(logs.some((l) => l.message === 'signed in' && l.user === user)).toBe(true);
    expect(logs.some((l) => l.message === 'signed out' && l.user === user)).toBe(true);
  }
  for (const line of broker.lines)
    expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|1\.dev-entra\./);
}, 90_000);

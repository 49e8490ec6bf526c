// The attack review's holes, tried again in a real browser (headless Chromium) against the real
// broker process over HTTPS: a pod's hostile web page opened through the broker, an open redirect
// after sign-in, a sign-in callback carried into another browser, and cross-site sign-out. The
// attacker's site, https://evil.example, is played by Playwright's request routing.
import { readFile } from 'node:fs/promises';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, type RunningChromium } from '@auth-sidecars/testkit/chromium';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { ALICE, BOB, HOSTILE_POD_PAGE, startHttpsBroker, type World } from '../helpers.js';

const EVIL = 'https://evil.example';

let world: World;
let broker: LaunchedProcess;
let chromium: RunningChromium;
let publicUrl: string;

beforeAll(async () => {
  ({ world, broker, publicUrl } = await startHttpsBroker({
    // Even where an operator allows pods' web pages through, they must not act on the broker's origin.
    env: { KUBE_ALLOW_SUBRESOURCES: 'proxy' },
    startTimeoutMs: 20_000,
  }));
  chromium = await launchChromium({ ignoreCertificateErrors: true });
}, 120_000);

afterAll(async () => {
  await chromium?.close();
  await broker?.close();
  await world?.close();
});

/** Every request a context made to the attacker's origin; the attacker's pages come from `pages`. */
async function attackerSite(context: BrowserContext, pages: Record<string, string> = {}): Promise<string[]> {
  const hits: string[] = [];
  await context.route(`${EVIL}/**`, async (route) => {
    const url = new URL(route.request().url());
    hits.push(url.href);
    await route.fulfill({ status: 200, contentType: 'text/html', body: pages[url.pathname] ?? 'evil' });
  });
  return hits;
}

async function signIn(context: BrowserContext, user: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${publicUrl}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: new RegExp(user.replace('.', '\\.')) }).click();
  await page.getByText(`Signed in as ${user}.`).waitFor();
  return page;
}

async function whoAmI(page: Page): Promise<number | string> {
  const res = await page.request.get(`${publicUrl}/api/me`);
  return res.status() === 200
    ? ((await res.json()) as { user: { username: string } }).user.username
    : res.status();
}

it("a pod's hostile web page opened through the broker is a download: its script never runs as the viewer", async () => {
  const context = await chromium.newContext();
  const page = await signIn(context, ALICE);
  const download = page.waitForEvent('download', { timeout: 20_000 });
  // The link an attacker who controls pod api-0 sends to the admin.
  await page.goto(`${publicUrl}/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/`).catch(() => undefined);
  const file = await (await download).path();
  expect(await readFile(file, 'utf8')).toBe(HOSTILE_POD_PAGE);
  // The page never rendered, so its call (a pod list with labelSelector=xss=ran) never came.
  expect(world.kube.requestLog.some((e) => e.query.labelSelector === 'xss=ran')).toBe(false);
  expect(world.kube.requestLog.some((e) => e.path.endsWith('/proxy/') && e.user === ALICE)).toBe(true);
  expect(await whoAmI(page)).toBe(ALICE);
}, 120_000);

it('no open redirect after sign-in: returnTo tricks that normalise to //evil.example are refused', async () => {
  const context = await chromium.newContext();
  const hits = await attackerSite(context);
  const page = await context.newPage();
  for (const trick of ['/.//evil.example/x', '/a/../..//evil.example/x', '/%2e%2e//evil.example/x']) {
    const res = await page.goto(`${publicUrl}/login?returnTo=${encodeURIComponent(trick)}`);
    expect([trick, res?.status(), new URL(page.url()).origin]).toEqual([trick, 400, publicUrl]);
    expect(await page.textContent('body')).toContain('invalid_return_to');
  }
  expect(hits).toEqual([]);
}, 120_000);

it('a sign-in callback carried into another browser signs nobody in there and ends nothing', async () => {
  // Browser A (the attacker) begins a sign-in and keeps its callback URL instead of following it:
  // the sign-in form's answer is a redirect to the callback, read here and not followed.
  const a = await chromium.newContext();
  let capture!: (url: string) => void;
  const callback = new Promise<string>((resolve) => (capture = resolve));
  await a.route(
    (url) => url.origin === new URL(world.entra.url).origin,
    async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const answer = await route.fetch({ maxRedirects: 0 });
      capture(new URL(answer.headers().location!, world.entra.url).href);
      await route.abort();
    },
  );
  const aPage = await a.newPage();
  await aPage.goto(`${publicUrl}/login`);
  await aPage.getByRole('button', { name: /alice@contoso\.test/ }).click();
  const captured = await callback;

  // Browser B, signed in as bob, is made to open it (a link on the attacker's site).
  const b = await chromium.newContext();
  const hits = await attackerSite(b, { '/': `<a id="go" href="${captured}">cute cats</a>` });
  const bPage = await signIn(b, BOB);
  const bobCookie = (await b.cookies()).find((c) => c.name === '__Host-aks-broker')!;
  await bPage.goto(`${EVIL}/`);
  await Promise.all([bPage.waitForURL((url) => url.pathname === '/callback'), bPage.click('#go')]);
  expect(await bPage.textContent('body')).toContain('invalid_state');
  expect(hits).toEqual([`${EVIL}/`]);
  expect((await b.cookies()).find((c) => c.name === '__Host-aks-broker')).toEqual(bobCookie);
  expect(await whoAmI(bPage)).toBe(BOB);

  // A fresh browser C with no cookies at all: no session either.
  const c = await chromium.newContext();
  const cPage = await c.newPage();
  await cPage.goto(captured);
  expect(await cPage.textContent('body')).toContain('invalid_state');
  expect(await c.cookies()).toEqual([]);
  expect(await whoAmI(cPage)).toBe(401);
}, 120_000);

it('another site cannot sign a user out: its link lands on a page with a button, its form is refused', async () => {
  const context = await chromium.newContext();
  const hits = await attackerSite(context, {
    '/link': `<a id="go" href="${publicUrl}/logout">free stickers</a>`,
    '/form': `<form id="f" method="post" action="${publicUrl}/logout"><input name="csrf" value="guess"></form>
      <script>document.getElementById('f').submit()</script>`,
  });
  const page = await signIn(context, ALICE);

  await page.goto(`${EVIL}/link`);
  await Promise.all([page.waitForURL(`${publicUrl}/logout`), page.click('#go')]);
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  expect(await whoAmI(page)).toBe(ALICE);

  const refused = page.waitForResponse(
    (r) => r.url() === `${publicUrl}/logout` && r.request().method() === 'POST',
  );
  await page.goto(`${EVIL}/form`);
  expect((await refused).status()).toBe(403);
  expect(await whoAmI(page)).toBe(ALICE);
  expect(hits).toEqual([`${EVIL}/link`, `${EVIL}/form`]);

  // Her own button does sign her out.
  await page.goto(`${publicUrl}/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
  expect(await whoAmI(page)).toBe(401);
}, 120_000);

it("another site's links and tags cannot make a call as the user, not even a GET", async () => {
  const context = await chromium.newContext();
  const target = `${publicUrl}/k8s/api/v1/namespaces/team-a/pods/api-0/proxy/admin/delete-everything`;
  await attackerSite(context, {
    '/link': `<a id="go" href="${target}">cute cats</a>`,
    '/tags': `<img src="${publicUrl}/k8s/api/v1/namespaces/team-a/pods?watch=1&labelSelector=img%3D1">
      <script src="${publicUrl}/api/me?namespace=team-a"></script>
      <iframe src="${publicUrl}/k8s/api/v1/namespaces/team-a/pods?labelSelector=frame%3D1"></iframe>`,
  });
  const page = await signIn(context, ALICE);
  const reached = () =>
    world.kube.requestLog.filter(
      (e) =>
        e.path.includes('/admin/delete-everything') || /^(img|frame)=1$/.test(e.query.labelSelector ?? ''),
    );

  await page.goto(`${EVIL}/link`);
  const [answer] = await Promise.all([page.waitForResponse((r) => r.url() === target), page.click('#go')]);
  expect(answer.status()).toBe(403);
  // The tags' requests are made (and answered 403: CORP then hides even that from the page).
  const answered: Array<[string, number]> = [];
  page.on('response', (r) => {
    if (r.url().startsWith(publicUrl)) answered.push([new URL(r.url()).pathname, r.status()]);
  });
  const failed: string[] = [];
  page.on('requestfailed', (r) => {
    if (r.url().startsWith(publicUrl)) failed.push(new URL(r.url()).pathname);
  });
  await page.goto(`${EVIL}/tags`, { waitUntil: 'load' });
  const seen = [...answered.map(([p]) => p), ...failed].sort();
  expect(seen).toEqual([
    '/api/me',
    '/k8s/api/v1/namespaces/team-a/pods',
    '/k8s/api/v1/namespaces/team-a/pods',
  ]);
  for (const [path, status] of answered) expect([path, status]).toEqual([path, 403]);
  expect(reached()).toEqual([]);
  expect(await whoAmI(page)).toBe(ALICE); // the page's own calls (same-origin) still work
}, 120_000);

// The "Use kubectl" panel in headless Chromium against the real broker process over HTTPS: bob
// creates a credential, downloads the kubeconfig through the browser, and the real kubectl uses that
// very file; the panel lists it, revokes it (kubectl refused at once), and sign-out ends the others.
// Screenshots go to test-results/ (the README's is a copy of aks-broker-kubectl-panel.png).
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, type RunningChromium } from '@auth-sidecars/testkit/chromium';
import { ensureKubectl, runKubectl } from '@auth-sidecars/testkit/kubectl';
import type { RbacBinding } from '@auth-sidecars/testkit/kube-rbac';
import type { LaunchedProcess } from '@auth-sidecars/testkit/process';
import { BOB, startHttpsBroker, type World } from '../helpers.js';

const RESULTS = join(import.meta.dirname, '..', '..', 'test-results');
const BINDINGS: RbacBinding[] = [
  { users: [BOB], namespace: 'team-a', rules: [{ verbs: ['get', 'list', 'watch'], resources: ['pods'] }] },
];

let world: World;
let broker: LaunchedProcess;
let chromium: RunningChromium;
let publicUrl: string;
let kubectlBin: string;

beforeAll(async () => {
  kubectlBin = ensureKubectl();
  ({ world, broker, publicUrl } = await startHttpsBroker({
    bindings: BINDINGS,
    publicCa: true,
    env: { UI_NAMESPACES: 'team-a' },
  }));
  chromium = await launchChromium({ ignoreCertificateErrors: true });
  await mkdir(RESULTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await chromium?.close();
  await broker?.close();
  await world?.close();
});

const kubectl = (file: string, ...args: string[]) =>
  runKubectl(kubectlBin, ['--kubeconfig', file, ...args], { env: { HOME: world.dir } });

/** Fills the panel's form and submits it; resolves when the new row is listed. */
async function createOnPage(page: Page, name: string, validFor: string): Promise<void> {
  const panel = page.getByRole('region', { name: 'Use kubectl' });
  await panel.getByLabel('Name').fill(name);
  await panel.getByLabel('Valid for').selectOption({ label: validFor });
  await panel.getByRole('button', { name: 'Create credential' }).click();
  await panel.getByRole('row', { name: new RegExp(`^${name} `) }).waitFor();
}

/** Clicks "Download kubeconfig" and saves the file the browser received. */
async function download(page: Page, file: string): Promise<string> {
  const [downloaded] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download kubeconfig' }).click(),
  ]);
  expect(downloaded.suggestedFilename()).toBe('kubeconfig-aks-broker');
  const path = join(world.dir, file);
  await downloaded.saveAs(path);
  return path;
}

it('creates, lists, downloads and revokes kubectl credentials; sign-out ends them', async () => {
  const context = await chromium.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${publicUrl}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: /bob@contoso\.test/ }).click();
  await page.getByText(`Signed in as ${BOB}.`).waitFor();

  const panel = page.getByRole('region', { name: 'Use kubectl' });
  await panel.getByRole('heading', { name: 'Use kubectl' }).waitFor();
  // The broker allows at most an hour (CLI_CREDENTIAL_TTL_SECONDS default): the choices stop there.
  expect(await panel.getByLabel('Valid for').locator('option').allTextContents()).toEqual([
    '15 minutes',
    '1 hour',
  ]);

  await createOnPage(page, 'laptop', '1 hour');
  await panel.getByText('Credential laptop created.', { exact: false }).first().waitFor();
  const laptop = await download(page, 'kubeconfig-laptop');
  const kubeconfig = await readFile(laptop, 'utf8');
  expect(kubeconfig).toContain(`server: "${publicUrl}/k8s"`);
  expect(kubeconfig).toContain('certificate-authority-data: ');
  expect(kubeconfig).toContain('namespace: "team-a"');
  expect(await panel.locator('#cred-usage').textContent()).toContain('kubectl get pods -n team-a');

  // The downloaded file works with the real kubectl, as bob, trusting the broker through its CA.
  const pods = await kubectl(laptop, 'get', 'pods');
  expect(pods.code).toBe(0);
  expect(pods.stdout).toMatch(/^api-0\s+1\/1\s+Running/m);

  await createOnPage(page, 'ci runner', '15 minutes');
  const runner = await download(page, 'kubeconfig-runner');
  const rows = panel.locator('#creds tbody tr');
  expect(await rows.locator('th').allTextContents()).toEqual(['laptop', 'ci runner']);
  await page.screenshot({ path: join(RESULTS, 'aks-broker-kubectl-page.png'), fullPage: true });
  await panel.screenshot({ path: join(RESULTS, 'aks-broker-kubectl-panel.png') });

  // Revoke on the page: the row goes, kubectl with that file is refused on its next call.
  await panel.getByRole('button', { name: 'Revoke laptop' }).click();
  await panel.getByText('Credential laptop revoked.').waitFor();
  expect(await rows.locator('th').allTextContents()).toEqual(['ci runner']);
  const refused = await kubectl(laptop, 'get', 'pods');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(
    'You must be logged in to the server (this kubectl credential has expired or was revoked',
  );
  expect((await kubectl(runner, 'get', 'pods')).code).toBe(0);

  // Sign out on the page: the remaining credential is refused too.
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
  const afterSignOut = await kubectl(runner, 'get', 'pods');
  expect(afterSignOut.code).toBe(1);
  expect(afterSignOut.stderr).toContain('You must be logged in to the server');

  // The broker logged creation and revocation, never a secret.
  const logs = broker.logs();
  expect(logs.filter((l) => l.message === 'kubectl credential created').map((l) => l.user)).toEqual([
    BOB,
    BOB,
  ]);
  expect(logs.some((l) => l.message === 'kubectl credential revoked')).toBe(true);
  const secrets = await Promise.all(
    [laptop, runner].map(async (f) => /token: "(aksb_[^"]+)"/.exec(await readFile(f, 'utf8'))![1]!),
  );
  for (const line of broker.lines) for (const secret of secrets) expect(line).not.toContain(secret);
}, 120_000);

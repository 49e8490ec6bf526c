// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, for browser tests of
// sign-in flows. Quiet flags: no background networking, so nothing but loopback is contacted.
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions } from 'playwright-core';

export const CHROMIUM_BIN = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface RunningChromium {
  browser: Browser;
  /** A fresh, isolated context: its own cookies and storage (a second "browser" for another user). */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
  close(): Promise<void>;
}

export interface ChromiumOptions {
  executablePath?: string;
  /**
   * Accept certificates from the test CAs (dev-entra, the app under test). Test browsers only: this
   * is what lets Chromium reach loopback HTTPS servers without installing a CA system-wide.
   */
  ignoreCertificateErrors?: boolean;
  extraArgs?: string[];
  timeoutMs?: number;
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<RunningChromium> {
  const args = [
    ...CHROMIUM_ARGS,
    ...(options.ignoreCertificateErrors ? ['--ignore-certificate-errors'] : []),
    ...(options.extraArgs ?? []),
  ];
  const browser = await chromium.launch({
    executablePath: options.executablePath ?? CHROMIUM_BIN,
    headless: true,
    args,
    timeout: options.timeoutMs ?? 30_000,
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    newContext: async (contextOptions = {}) => {
      const context = await browser.newContext({
        ignoreHTTPSErrors: Boolean(options.ignoreCertificateErrors),
        ...contextOptions,
      });
      contexts.push(context);
      return context;
    },
    close: async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
    },
  };
}

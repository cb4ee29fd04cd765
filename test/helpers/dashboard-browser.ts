/**
 * The headless Chromium the dashboard's end-to-end tests drive (the system's, through
 * playwright-core; never a downloaded browser): one page at `viewport`, light scheme, a 20 s
 * default timeout. `bypassCSP` lets a test inject axe-core as a script tag, which the dashboard's
 * CSP would refuse.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

/** A page's size and colour scheme. */
export interface View {
  width: number;
  height: number;
  scheme: 'light' | 'dark';
}

export const CHROMIUM = '/usr/bin/chromium';

const DASHBOARD_TIMEOUT = 20_000;

export async function openDashboardBrowser(opts: { viewport?: { width: number; height: number }; bypassCSP?: boolean } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: opts.bypassCSP ?? false });
  const page = await context.newPage();
  page.setDefaultTimeout(DASHBOARD_TIMEOUT);
  return { browser, page };
}

/** Through the token gate: the dashboard connected and live. */
export async function signInToDashboard(page: Page, url: string, adminToken: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.fill('#admin-token', adminToken);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=conn]:has-text("Live")');
}

/**
 * One more page of `browser`, in a context of its own at `view` (size and colour scheme), signed
 * in: for passes that walk the screens in several pages of one browser side by side.
 * `onConsoleError` gets the page's console errors (CSP refusals among them).
 */
export async function openSignedInPage(
  browser: Browser,
  url: string,
  adminToken: string,
  view: View,
  opts: { bypassCSP?: boolean; onConsoleError?: (text: string) => void } = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: view.width, height: view.height }, colorScheme: view.scheme, bypassCSP: opts.bypassCSP ?? false });
  const page = await context.newPage();
  page.setDefaultTimeout(DASHBOARD_TIMEOUT);
  const onError = opts.onConsoleError;
  if (onError) page.on('console', (m) => { if (m.type() === 'error') onError(m.text()); });
  await signInToDashboard(page, url, adminToken);
  return page;
}

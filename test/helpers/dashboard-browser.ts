/**
 * The headless Chromium the dashboard's end-to-end tests drive (the system's, through
 * playwright-core; never a downloaded browser): one page at `viewport`, light scheme, a 20 s
 * default timeout. `bypassCSP` lets a test inject axe-core as a script tag, which the dashboard's
 * CSP would refuse.
 */
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function openDashboardBrowser(opts: { viewport?: { width: number; height: number }; bypassCSP?: boolean } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1440, height: 900 }, colorScheme: 'light', bypassCSP: opts.bypassCSP ?? false });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return { browser, page };
}

/** Through the token gate: the dashboard connected and live. */
export async function signInToDashboard(page: Page, url: string, adminToken: string): Promise<void> {
  await page.goto(`${url}/ui/`);
  await page.fill('#admin-token', adminToken);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=conn]:has-text("Live")');
}

/**
 * An automated accessibility pass: axe-core (node_modules/axe-core) on every screen of the built
 * dashboard in headless Chromium against a real relay, at 1440×900 and 900×600 (the collapsed
 * sidebar), light and dark, plus the token gate and the command palette. Any serious or critical
 * finding fails the run, named with its rule and the elements it found. Screenshots of each go to
 * test-artifacts/screens/a11y-*.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, openDashboardBrowser, openSignedInPage } from '../helpers/dashboard-browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { audit, AXE } from '../helpers/axe';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RENDERER = join(ROOT, 'dist/renderer');
const SHOTS = join(ROOT, 'test-artifacts/screens');
const ADMIN = 'admin-token-a11y-e2e-000000001';
const SCREENS = ['overview', 'connect', 'live', 'instances', 'aliases', 'usage', 'logs', 'settings'] as const;
const SIZES = [[1440, 900], [900, 600]] as const;
const SCHEMES = ['light', 'dark'] as const;

describe.skipIf(!existsSync(CHROMIUM) || !existsSync(AXE))('accessibility: axe on every screen', () => {
  let up: FakeUpstream;
  let relay: Relay;
  let url: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(join(RENDERER, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'ignore' });
    up = await startFakeOpenAI({ models: ['m1'], chunks: 3 });
    const dataDir = tempDir();
    const config = validateConfig({
      server: { adminToken: ADMIN, logLevel: 'info' },
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
      aliases: { coder: { chain: ['up/m1'] } },
      ledger: { flushIntervalMs: 50 },
    });
    relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, rendererDir: RENDERER });
    await relay.start();
    url = await relay.listen({ host: '127.0.0.1', port: 0 });
    // Some traffic, so Live, Usage and Logs have rows (one a broken stream).
    const key = relay.firstRun.apiKey!;
    for (const fault of [{}, { dropAfterChunks: 1 }, { status: 500 }]) {
      up.enqueue(fault);
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'hello a11y' }] }),
      });
      await res.text();
    }
    await relay.ledger.flush();
    ({ browser, page } = await openDashboardBrowser({ bypassCSP: true }));
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await relay?.stop();
    await up?.close();
    cleanupTempDirs();
  }, 60_000);

  const found: string[] = [];
  const check = async (name: string, on: Page = page): Promise<void> => {
    const f = await audit(on);
    for (const v of f) found.push(`${name}: [${v.impact}] ${v.id} (${v.help})\n    ${v.nodes.join('\n    ')}`);
  };

  it('the token gate', async () => {
    await page.goto(`${url}/ui/`);
    await page.waitForSelector('[data-testid=token-gate]');
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await check(`token gate ${scheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(found, found.join('\n')).toEqual([]);
  });

  it('every screen, both sizes, light and dark: no serious or critical finding', async () => {
    await page.fill('#admin-token', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=conn]:has-text("Live")');
    // Light on this page, dark on a second signed-in page of the same browser, side by side.
    await Promise.all(SCHEMES.map(async (scheme, i) => {
      let p = page;
      if (i === 0) await page.emulateMedia({ colorScheme: scheme });
      else p = await openSignedInPage(browser, url, ADMIN, { width: SIZES[0][0], height: SIZES[0][1], scheme }, { bypassCSP: true });
      try {
        for (const [w, h] of SIZES) {
          await p.setViewportSize({ width: w, height: h });
          for (const s of SCREENS) {
            await p.click(`[data-testid=nav-${s}]`);
            await p.waitForSelector(`[data-testid=screen-${s}]`);
            // Screens that load data show it before the audit (Usage's request list, Connect's clients).
            await p.waitForLoadState('networkidle').catch(() => undefined);
            await check(`${s} ${w}x${h} ${scheme}`, p);
            await p.screenshot({ path: join(SHOTS, `a11y-${s}-${w}x${h}-${scheme}.png`) });
          }
        }
      } finally {
        if (p !== page) await p.context().close();
      }
    }));
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1440, height: 900 });
    expect(found, found.join('\n')).toEqual([]);
  }, 240_000);

  it('the command palette (Ctrl+K), light and dark', async () => {
    await page.click('[data-testid=nav-overview]');
    await page.keyboard.press('Control+k');
    await page.waitForSelector('[data-testid=palette]');
    expect(await page.evaluate("document.activeElement && document.activeElement.getAttribute('role')")).toBe('combobox');
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      await check(`palette ${scheme}`);
      await page.screenshot({ path: join(SHOTS, `a11y-palette-1440x900-${scheme}.png`) });
    }
    await page.keyboard.type('usage');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=screen-usage]');
    expect(await page.locator('[data-testid=palette]').count()).toBe(0);
    // The manual theme switch wins over the system.
    await page.emulateMedia({ colorScheme: 'light' });
    await page.click('[data-testid=theme-dark]');
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await check('usage, theme set to dark by hand');
    await page.click('[data-testid=theme-system]');
    expect(await page.evaluate('document.documentElement.dataset.theme')).toBe('light');
    expect(found, found.join('\n')).toEqual([]);
  });
});

/**
 * End to end, the dashboard tells the truth: the built dashboard in headless Chromium against a
 * real relay (createCore) over a fake OpenAI upstream. A stream that broke after its first byte
 * is an amber "200 · stream broken" in Live and Usage (and an error in Usage's figures); Live
 * after a reload still lists the requests that just finished; when the relay stops a banner says
 * so and the actions are disabled, and when it is back (same port, same data) the banner goes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, openDashboardBrowser, signInToDashboard } from '../helpers/dashboard-browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import type { Config } from '../../src-main/core/config/schema';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RENDERER = join(ROOT, 'dist/renderer');
const SHOTS = join(ROOT, 'test-artifacts/screens');
const ADMIN = 'admin-token-truth-e2e-0000001';

describe.skipIf(!existsSync(CHROMIUM))('the dashboard tells the truth', () => {
  let up: FakeUpstream;
  let relay: Relay;
  let url: string;
  let port: number;
  let key: string;
  let dataDir: string;
  let config: Config;
  let browser: Browser;
  let page: Page;

  const start = async (listenPort = 0): Promise<void> => {
    relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, rendererDir: RENDERER });
    await relay.start();
    url = await relay.listen({ host: '127.0.0.1', port: listenPort });
    port = Number(new URL(url).port);
  };

  const chat = async (rid: string): Promise<string> => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': rid },
      body: JSON.stringify({ model: 'up/m1', stream: true, messages: [{ role: 'user', content: 'hello truth' }] }),
    });
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    if (!existsSync(join(RENDERER, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'ignore' });
    up = await startFakeOpenAI({ models: ['m1'], chunks: 4 });
    dataDir = tempDir();
    config = validateConfig({
      server: { adminToken: ADMIN, logLevel: 'info' },
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
      ledger: { flushIntervalMs: 50 },
    });
    await start();
    key = relay.firstRun.apiKey!;
    ({ browser, page } = await openDashboardBrowser());
    mkdirSync(SHOTS, { recursive: true });
    await signInToDashboard(page, url, ADMIN);
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await relay?.stop();
    await up?.close();
    cleanupTempDirs();
  }, 60_000);

  it('a stream broken after its first byte is amber "200 · stream broken" in Live and Usage, and an error in the figures', async () => {
    await page.click('[data-testid=nav-live]');
    await page.waitForSelector('[data-testid=screen-live]');
    await chat('truth-good-0001');
    up.enqueue({ dropAfterChunks: 1 });
    const body = await chat('truth-broken-001');
    expect(body).toContain('error');

    const broken = page.locator('[data-testid=live-table] tr', { hasText: 'truth-broken' }).locator('[data-testid=outcome]');
    await broken.waitFor();
    expect(await broken.getAttribute('data-kind')).toBe('stream_broken');
    expect(await broken.textContent()).toBe('200 · stream broken');
    expect(await broken.locator('.badge').getAttribute('class')).toContain('badge-warn');
    const good = page.locator('[data-testid=live-table] tr', { hasText: 'truth-good' }).locator('[data-testid=outcome]');
    expect(await good.getAttribute('data-kind')).toBe('ok');
    await page.screenshot({ path: join(SHOTS, 'truth-live-broken-1440x900-light.png') });

    await relay.ledger.flush();
    await page.click('[data-testid=nav-usage]');
    const row = page.locator('tr', { hasText: 'truth-broken' }).locator('[data-testid=outcome]');
    await row.waitFor();
    expect(await row.textContent()).toBe('200 · stream broken');
    // The error figures count it: the ledger says 1 error of 2.
    const totals = await relay.ledger.totals({ from: Date.now() - 3_600_000, to: Date.now() + 1000 });
    expect(totals.total).toMatchObject({ requests: 2, errors: 1 });
    // The 12 characters the table shows find the request.
    await page.fill('input[aria-label="Request id"]', 'truth-broken');
    await page.locator('tr', { hasText: 'truth-good' }).waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=open-request]').count()).toBe(1);
    await page.screenshot({ path: join(SHOTS, 'truth-usage-broken-1440x900-light.png') });
  });

  it('Live after a reload still shows the requests that just finished', async () => {
    await page.goto(`${url}/ui/#/live`);
    await page.reload();
    await page.waitForSelector('[data-testid=screen-live]');
    const table = page.locator('[data-testid=live-table]');
    await table.waitFor();
    expect(await table.textContent()).toContain('truth-broken');
    expect(await page.locator('text=Nothing in flight').count()).toBeLessThanOrEqual(1);
    expect(await page.locator('[data-testid=live-table] tr', { hasText: 'truth-good' }).count()).toBe(1);
  });

  it('relay stopped: a banner, dimmed data, disabled actions; relay back: the banner goes', async () => {
    await page.click('[data-testid=nav-settings]');
    await page.waitForSelector('[data-testid=screen-settings]');
    expect(await page.locator('[data-testid=conn-banner]').count()).toBe(0);
    const samePort = port;
    await relay.stop();
    await page.waitForSelector('[data-testid=conn-banner]');
    expect(await page.textContent('[data-testid=conn-banner]')).toContain('Lost the connection');
    expect(await page.$eval('[data-testid=content]', (el) => (el as unknown as { disabled: boolean }).disabled)).toBe(true);
    const buttons = page.locator('[data-testid=content] button');
    expect(await buttons.count()).toBeGreaterThan(0);
    expect(await buttons.first().isDisabled()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'truth-offline-1440x900-light.png') });

    await start(samePort);
    await page.waitForSelector('[data-testid=conn-banner]', { state: 'detached', timeout: 40_000 });
    expect(await page.$eval('[data-testid=content]', (el) => (el as unknown as { disabled: boolean }).disabled)).toBe(false);
    await page.waitForSelector('[data-testid=conn]:has-text("Live")');
  }, 90_000);
});

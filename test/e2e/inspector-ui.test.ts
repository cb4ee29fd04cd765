/**
 * End to end: the request inspector in the built dashboard, headless Chromium against a real relay
 * (createCore) over two fake OpenAI upstreams. A request that fails over is opened from Live: its
 * timeline (both attempts, the switch, the ledger written), its answer; replayed with an edited
 * body, the two answers side by side with their diff; the same request from Usage with its ledger
 * row; "Test this backend" on an instance and a provider. Screenshots of the detail and replay
 * views (light and dark, 1440×900 and 900×600) go to test-artifacts/screens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, openDashboardBrowser, signInToDashboard } from '../helpers/dashboard-browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { EventHub } from '../../src-main/core/events';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RENDERER = join(ROOT, 'dist/renderer');
const SHOTS = join(ROOT, 'test-artifacts/screens');
const ADMIN = 'admin-token-inspector-e2e-000001';
const RID = 'e2e-inspect-1';

describe.skipIf(!existsSync(CHROMIUM))('request inspector in the dashboard', () => {
  let up: FakeUpstream;
  let up2: FakeUpstream;
  let relay: Relay;
  let url: string;
  let key: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(RENDERER, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'ignore' });
    up = await startFakeOpenAI({ models: ['m1'], chunks: 3 });
    up2 = await startFakeOpenAI({ models: ['m1'], chunks: 3 });
    const dataDir = tempDir();
    const config = validateConfig({
      server: { adminToken: ADMIN, logLevel: 'info' },
      providers: [
        { name: 'up', type: 'openai', baseUrl: up.url },
        { name: 'up2', type: 'openai', baseUrl: up2.url },
      ],
      aliases: { coder: { chain: ['up/m1', 'up2/m1'] } },
      ledger: { flushIntervalMs: 50 },
    });
    // The log lines reach the dashboard's recent log (the request's lines in its drawer).
    const logHub = new EventHub();
    const logger = createLogger({ level: 'info', hub: logHub, destination: { write: () => undefined } });
    relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger, rendererDir: RENDERER });
    logHub.on('log', (line) => relay.hub.emit('log', line));
    logHub.on('logText', (text) => relay.hub.emit('logText', text));
    await relay.start();
    url = await relay.listen({ host: '127.0.0.1', port: 0 });
    key = relay.firstRun.apiKey!;
    ({ browser, page } = await openDashboardBrowser());
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await relay?.stop();
    await up?.close();
    await up2?.close();
    cleanupTempDirs();
  }, 60_000);

  /** Every size and scheme, the page as it is now (`focus`: scrolled into view at each size). */
  const shots = async (name: string, focus?: string) => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const [w, h] of [[1440, 900], [900, 600]]) {
        await page.setViewportSize({ width: w, height: h });
        if (focus) await page.$eval(focus, (el) => el.scrollIntoView({ block: 'start' }));
        await page.screenshot({ path: join(SHOTS, `${name}-${w}x${h}-${scheme}.png`) });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1440, height: 900 });
  };

  it('opens a failed-over request from Live: its timeline, answer, upstream request and log lines', async () => {
    await signInToDashboard(page, url, ADMIN);
    await page.click('[data-testid=nav-live]');
    await page.waitForSelector('[data-testid=screen-live]');

    up.enqueue({ status: 500 });
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': RID },
      body: JSON.stringify({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'tell me about the relay' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    // The ledger's batch is committed: the story ends in "ledger written".
    await relay.ledger.flush();

    await page.click(`[data-testid=live-table] a[href="#/live/requests/${RID}"]`);
    await page.waitForSelector('[data-testid=request-drawer]');
    expect(page.url()).toContain(`#/live/requests/${RID}`);
    await page.waitForSelector('[data-testid=timeline-row][data-kind=ledger_written]');
    const kinds = await page.$$eval('[data-testid=timeline-row]', (rows) => rows.map((r) => r.getAttribute('data-kind')));
    expect(kinds).toEqual(['admitted', 'resolved', 'attempt', 'switch', 'attempt', 'first_byte', 'end', 'ledger_queued', 'ledger_written']);
    const story = await page.textContent('[data-testid=timeline]');
    expect(story).toContain('Attempt up');
    expect(story).toContain('up → up2');
    // A bar per attempt and one for the whole request (admission is a bar too when it waited).
    expect(await page.$$('[data-testid=timeline-row][data-kind=attempt] [data-testid=timeline-bar]')).toHaveLength(2);
    expect(await page.$$('[data-testid=timeline-row][data-kind=end] [data-testid=timeline-bar]')).toHaveLength(1);
    await shots('request-detail');

    await page.click('[data-testid=rd-tab-response]');
    expect(await page.textContent('[data-testid=rd-answer]')).toBe('Echo: tell me about the relay');
    await page.click('[data-testid=rd-tab-upstream]');
    expect(await page.textContent('[data-testid=rd-upstream]')).toContain('"model": "m1"');
    await page.click('[data-testid=rd-tab-logs]');
    await page.waitForSelector('[data-testid=rd-logs]');
    expect(await page.textContent('[data-testid=rd-logs]')).toContain('request');
  });

  it('replays with an edited body and shows both answers side by side with their diff', async () => {
    await page.click('[data-testid=rd-tab-replay]');
    const editor = '[data-testid=rd-editor]';
    expect(JSON.parse(await page.inputValue(editor))).toMatchObject({ model: 'coder', messages: [{ role: 'user', content: 'tell me about the relay' }] });
    await page.fill(editor, '{"model": "coder", "messages": [}');
    expect(await page.textContent('[data-testid=rd-json-msg]')).toMatch(/^Not valid JSON at line 1, column 33: expected a value/);
    expect(await page.isDisabled('[data-testid=rd-send]')).toBe(true);
    await page.fill(editor, JSON.stringify({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'tell me more about the relay' }] }, null, 2));
    await page.selectOption('[data-testid=rd-target]', 'up2/m1');
    await page.click('[data-testid=rd-send]');
    await page.waitForSelector('[data-testid=rd-compare]');
    expect(await page.textContent('[data-testid=rd-diff-left]')).toBe('Echo: tell me about the relay');
    expect(await page.textContent('[data-testid=rd-diff-right]')).toBe('Echo: tell me more about the relay');
    expect(await page.$$eval('[data-testid=rd-diff-right] mark', (m) => m.map((x) => [x.className, x.textContent]))).toEqual([['diff-add', 'more ']]);
    expect(await page.textContent('[data-testid=rd-side-replay]')).toContain('up2/m1');
    await shots('request-replay', '[data-testid=rd-replay-link]');

    // The replay is its own request, linked both ways.
    const link = await page.getAttribute('[data-testid=rd-replay-link] a', 'href');
    expect(link).toMatch(/^#\/live\/requests\/replay-/);
    await page.click('[data-testid=rd-replay-link] a');
    await page.waitForSelector(`[data-testid=request-drawer] a[href="#/live/requests/${RID}"]`);
    await page.click('[data-testid=rd-tab-compare]');
    expect(await page.textContent('[data-testid=rd-diff-left]')).toBe('Echo: tell me about the relay');
    await page.click('[data-testid=rd-close]');
    await page.waitForSelector('[data-testid=request-drawer]', { state: 'detached' });
    expect(page.url()).toMatch(/#\/live$/);
  });

  it('opens the same request from Usage with its ledger row', async () => {
    await relay.ledger.flush();
    await page.click('[data-testid=nav-usage]');
    await page.waitForSelector(`[data-testid=usage-recent] a[href="#/usage/requests/${RID}"]`);
    await page.click(`[data-testid=usage-recent] a[href="#/usage/requests/${RID}"]`);
    await page.click('[data-testid=rd-tab-usage]');
    const row = await page.textContent('[data-testid=rd-ledger]');
    expect(row).toContain('up:upstream_error:500');
    expect(row).toContain('up2/m1');
    await page.click('[data-testid=rd-close]');
  });

  it('a request the inspector does not have is said plainly', async () => {
    await page.goto(`${url}/ui/#/requests/no-such-request`);
    await page.waitForSelector('[data-testid=rd-missing]');
    expect(await page.textContent('[data-testid=rd-missing]')).toContain("No captured request 'no-such-request'");
    await page.click('[data-testid=rd-close]');
  });

  it('"Test this backend" on an instance and on a provider shows the time to first token and the answer', async () => {
    await page.click('[data-testid=nav-instances]');
    await page.click('[data-testid=test-backend-up]');
    const out = await page.waitForSelector('[data-testid=test-result-up]');
    expect(await out.textContent()).toMatch(/up answered with m1: first token after \d+ ms/);
    await shots('backend-test');
    up2.enqueue({ status: 500 });
    await page.click('[data-testid=nav-overview]');
    await page.click('[data-testid=providers-card] [data-testid=test-backend-up2]');
    const bad = await page.waitForSelector('[data-testid=test-result-up2]');
    expect(await bad.textContent()).toMatch(/up2 did not answer/);
    await shots('provider-test', '[data-testid=providers-card]');
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });
});

/**
 * The setup of the dashboard's end-to-end files (dashboard.test.ts, dashboard-states.test.ts): a
 * real relay (createCore) with the Lingma simulator, whose login driver signs in on the simulated
 * login site with headless Chromium, the built dashboard it serves, and a headless Chromium page
 * on it (not signed in). Logs are debug-level text kept in `logText` and forwarded to the
 * dashboard's live logs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, openDashboardBrowser } from '../helpers/dashboard-browser';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { EventHub } from '../../src-main/core/events';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { MemorySecrets, SIM_BIN, silentLog, simSpawner, tmpDir } from '../lingma/helpers';

export { CHROMIUM };
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const RENDERER = join(ROOT, 'dist/renderer');
export const SHOTS = join(ROOT, 'test-artifacts/screens');
export const KEY = 'sk-relay-dashboard-e2e-0001';
export const ADMIN = 'admin-token-dashboard-e2e-0001';
export const MODEL = 'lingma/dashscope_qwen3_coder';

export interface DashboardRelay {
  relay: Relay;
  url: string;
  browser: Browser;
  page: Page;
  site: LoginSite;
  /** Every log line the relay wrote (debug level included). */
  logText: string[];
  close(): Promise<void>;
}

export async function startDashboardRelay(): Promise<DashboardRelay> {
  if (!existsSync(join(RENDERER, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const dataDir = tmpDir('relay-dash-e2e-');
  const profiles = tmpDir('relay-dash-profiles-');
  const logText: string[] = [];
  // The sign-in really happens: headless Chromium fills the simulated Alibaba Cloud form.
  const site = await startLoginSite({ users: { alice: 'alice-pw-123', 'alice.renamed': 'alice-pw-123', bob: 'bob-right-pw', carol: 'carol-pw-123' } });
  const driver = createPlaywrightLoginDriver({ executablePath: CHROMIUM, log: silentLog(), profilesDir: profiles, formWaitMs: 20_000, pollMs: 50 });
  const config = validateConfig({
    server: { apiKeys: [KEY], adminToken: ADMIN, logLevel: 'info' },
    // The simulated sign-in site is plain http on loopback: allowed as a user would for a test site.
    lingma: { binary: SIM_BIN, login: { auto: false, allowedOrigins: ['http://127.0.0.1:*'] } },
    ledger: { flushIntervalMs: 50 },
    // No background probe round during the run: one right after a sign-in re-checks the account
    // whatever its backoff, and would heal a cooled-down account while its screens are read.
    health: { probeIntervalMs: 3_600_000 },
  });
  // Quiet logs that still reach the dashboard: the logger forwards to a hub of ours, piped into
  // the relay's hub once it exists.
  const logHub = new EventHub();
  const logger = createLogger({ level: 'debug', hub: logHub, destination: { write: (line: string) => logText.push(line) } });
  const relay = await createCore({
    config,
    logger,
    dataDir,
    secrets: new MemorySecrets(),
    spawner: simSpawner({ LINGMA_SIM_LOGIN_BASE: site.baseUrl }),
    loginDriver: driver,
    lingma: 'always',
    processMetrics: false,
    rendererDir: RENDERER,
    env: { ...process.env, LINGMA_BIN: '', LINGMA_SIM_LOGIN_BASE: site.baseUrl },
  });
  logHub.on('log', (line) => relay.hub.emit('log', line));
  logHub.on('logText', (text) => relay.hub.emit('logText', text));
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  const { browser, page } = await openDashboardBrowser({ viewport: { width: 1280, height: 800 } });
  return {
    relay, url, browser, page, site, logText,
    async close() {
      await browser.close().catch(() => undefined);
      await relay.stop();
      await site.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(profiles, { recursive: true, force: true });
    },
  };
}

/**
 * A toast is short-lived (4 s, 8 s for an error): start looking for it before the action that
 * raises it, and await it after the slower checks, or a loaded machine may let it fade first.
 */
export function toastShown(page: Page, text: string): Promise<unknown> {
  const seen = page.waitForSelector(`.toast >> text=${text}`, { timeout: 90_000 });
  seen.catch(() => undefined); // awaited by the test; this only keeps an early failure from going unhandled
  return seen;
}

/** Open a screen from the navigation and wait for it. */
export async function go(page: Page, route: string): Promise<void> {
  await page.click(`[data-testid=nav-${route}]`);
  await page.waitForSelector(`[data-testid=screen-${route}]`);
}

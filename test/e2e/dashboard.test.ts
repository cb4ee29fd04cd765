/**
 * End to end: the built dashboard in headless Chromium against a real relay (createCore) with
 * the Lingma simulator. Walks a new user's path: sign in with the admin token, add an account,
 * log it in from the UI (the login driver's headless Chromium signs in on the simulated login
 * site), send a request through the API, find it in live logs and in usage, edit
 * the account and see the edit survive a reload; then the states that matter: a refused password
 * (Fix password), a captcha (Finish sign-in as …), a cooled-down and an out-of-credits account, each
 * with the one status the screen says. Screenshots of every screen go to test-artifacts/screens
 * (light and dark, 1440×900 and 900×600).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import WebSocket from 'ws';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, openDashboardBrowser, openSignedInPage } from '../helpers/dashboard-browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { EventHub } from '../../src-main/core/events';
import { createLogger } from '../../src-main/core/gateway/logging';
import { errors } from '../../src-main/core/errors';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { MemorySecrets, SIM_BIN, silentLog, sim, simSpawner, tmpDir, waitFor } from '../lingma/helpers';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RENDERER = join(ROOT, 'dist/renderer');
const SHOTS = join(ROOT, 'test-artifacts/screens');
const KEY = 'sk-relay-dashboard-e2e-0001';
const ADMIN = 'admin-token-dashboard-e2e-0001';
const MODEL = 'lingma/dashscope_qwen3_coder';

describe.skipIf(!existsSync(CHROMIUM))('dashboard in headless Chromium against a real relay', () => {
  let relay: Relay;
  let dataDir: string;
  let url: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  let site: LoginSite;
  let profiles: string;
  const logText: string[] = [];

  beforeAll(async () => {
    if (!existsSync(join(RENDERER, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: ROOT, stdio: 'ignore' });
    dataDir = tmpDir('relay-dash-e2e-');
    profiles = tmpDir('relay-dash-profiles-');
    // The sign-in really happens: headless Chromium fills the simulated Alibaba Cloud form.
    site = await startLoginSite({ users: { alice: 'alice-pw-123', 'alice.renamed': 'alice-pw-123', bob: 'bob-right-pw', carol: 'carol-pw-123' } });
    const driver = createPlaywrightLoginDriver({ executablePath: CHROMIUM, log: silentLog(), profilesDir: profiles, formWaitMs: 20_000, pollMs: 50 });
    const config = validateConfig({
      server: { apiKeys: [KEY], adminToken: ADMIN, logLevel: 'info' },
      // The simulated sign-in site is plain http on loopback: allowed as a user would for a test site.
      lingma: { binary: SIM_BIN, login: { auto: false, allowedOrigins: ['http://127.0.0.1:*'] } },
      ledger: { flushIntervalMs: 50 },
      // No background probe round during the run: one right after a sign-in re-checks the account
      // whatever its backoff, and would heal the cooled-down alice while her screens are read.
      health: { probeIntervalMs: 3_600_000 },
    });
    // Quiet logs that still reach the dashboard: the logger forwards to a hub of ours, piped into
    // the relay's hub once it exists.
    const logHub = new EventHub();
    const logger = createLogger({ level: 'debug', hub: logHub, destination: { write: (line: string) => logText.push(line) } });
    relay = await createCore({
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
    url = await relay.listen({ host: '127.0.0.1', port: 0 });
    ({ browser, page } = await openDashboardBrowser({ viewport: { width: 1280, height: 800 } }));
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await relay?.stop();
    await site?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profiles) rmSync(profiles, { recursive: true, force: true });
  }, 60_000);

  /**
   * A toast is short-lived (4 s, 8 s for an error): start looking for it before the action that
   * raises it, and await it after the slower checks, or a loaded machine may let it fade first.
   */
  const toastShown = (text: string) => {
    const seen = page.waitForSelector(`.toast >> text=${text}`, { timeout: 90_000 });
    seen.catch(() => undefined); // awaited by the test; this only keeps an early failure from going unhandled
    return seen;
  };

  const go = async (route: string) => {
    await page.click(`[data-testid=nav-${route}]`);
    await page.waitForSelector(`[data-testid=screen-${route}]`);
  };

  it('asks for the admin token, refuses a wrong one, then loads', async () => {
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    const head = await fetch(`${url}/ui/`);
    expect(head.headers.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'self'.*style-src 'self'/);
    await page.goto(`${url}/ui`);
    expect(page.url()).toBe(`${url}/ui/`);
    await page.waitForSelector('[data-testid=token-gate]');
    await page.fill('#admin-token', 'not-the-token-at-all');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=That token was not accepted');
    await page.fill('#admin-token', ADMIN);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=screen-overview]');
    await page.waitForSelector('[data-testid=conn]:has-text("Live")');
    expect(await page.textContent('[data-testid=endpoint-url]')).toBe(`${url}/v1`);
    // Nothing signed in yet (the Lingma pool starts with one unconfigured instance): the overview
    // tells a new user what to do next.
    await page.waitForSelector('[data-testid=empty-login-needed]', { timeout: 60_000 });
  });

  it('adds an account with validation; the instance appears; a login started from the UI completes', async () => {
    await go('instances');
    await page.click('[data-testid=screen-instances] button:has-text("Add account")');
    await page.fill('[data-testid=account-form-new] input[id$=username]', 'alice');
    await page.click('[data-testid=account-form-new] button[type=submit]');
    await page.waitForSelector('text=Enter the password for a new account.');
    await page.fill('[data-testid=account-form-new] input[id$=password]', 'alice-pw-123');
    await page.fill('[data-testid=account-form-new] input[id$=name]', 'alice');
    await page.click('[data-testid=account-form-new] button[type=submit]');
    await page.waitForSelector('[data-testid=instance-alice]');
    expect(await page.content()).not.toContain('alice-pw-123');

    // One status per row: signed out is "Needs a person", the process state is the grey line.
    const row = '[data-testid=instance-alice]';
    await page.waitForSelector(`${row}[data-kind=needs_person] [data-testid=process]:has-text("process ready · signed out")`, { timeout: 90_000 });
    expect(await page.textContent(`${row} [data-testid=status] .badge`)).toBe('Needs a person');
    const aliceIn = toastShown('alice is signed in');
    await page.click(`${row} >> button:has-text("Sign in")`);
    await page.waitForSelector(`${row}[data-kind=serving] [data-testid=process]:has-text("signed in as alice")`, { timeout: 90_000 });
    expect(await page.textContent(`${row} [data-testid=status] .badge`)).toBe('Serving');
    // The sign-in ended in a toast.
    await aliceIn;
    // The form got the password from the secret store, through the browser.
    expect(site.hits().users).toContain('alice');
  }, 120_000);

  it('a request made through the API shows up in live logs and in usage', async () => {
    await go('logs');
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    await waitFor(async () => (await client.models.list()).data.some((m) => m.id === MODEL), 'models after login', 30_000, 200);
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello from e2e' }] }).withResponse();
    expect(data.choices[0].message.content).toBeTruthy();
    const rid = response.headers.get('x-request-id')!;
    expect(rid).toBeTruthy();
    await page.fill('input[aria-label="Request id"]', rid);
    await page.waitForSelector(`[data-testid=log-lines] >> text=${rid.slice(0, 12)}`);

    await go('usage');
    await page.waitForSelector(`[data-testid=usage-recent] >> text=${rid.slice(0, 12)}`, { timeout: 30_000 });
    expect(await page.textContent('[data-testid=usage-recent]')).toContain('alice');
  }, 90_000);

  it('a streaming request in flight shows in Live requests with its instance, then finishes', async () => {
    const lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
    const alice = lingma.lingmaInstances().find((i) => i.name === 'alice')!;
    await sim(alice, { reply: { mode: 'fixed', text: 'a slow and steady answer', deltas: 12, delayMs: 150 } });
    await go('live');
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'take your time' }], stream: true });
    const done = (async () => { let t = ''; for await (const c of stream) t += c.choices[0]?.delta?.content ?? ''; return t; })();
    const row = await page.waitForSelector('[data-testid=live-table] tbody tr:has-text("answering")');
    const text = await row.textContent();
    expect(text).toContain(MODEL);
    expect(text).toContain('alice');
    expect(text).toContain('stream');
    expect(await done).toBe('a slow and steady answer');
    await page.waitForSelector('text=Recently finished');
    await page.waitForSelector('[data-testid=live-table] >> text=Nothing in flight right now.');
    await sim(alice, { reply: { mode: 'default' } });
  }, 60_000);

  it('an account edit persists across a reload', async () => {
    await go('instances');
    await page.click('[data-testid=instance-alice] >> button:has-text("Edit")');
    const form = '[data-testid=account-form-alice]';
    await page.fill(`${form} input[id$=domain]`, 'not a url');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector(`${form} >> text=Enter a full URL`);
    await page.fill(`${form} input[id$=domain]`, '');
    await page.fill(`${form} input[id$=username]`, 'alice.renamed');
    await page.click(`${form} button[type=submit]`);
    await page.waitForSelector('[data-testid=instance-alice] [data-testid=account-username]:has-text("alice.renamed")');
    await page.reload();
    await page.waitForSelector('[data-testid=screen-instances]');
    await page.waitForSelector('[data-testid=instance-alice] [data-testid=account-username]:has-text("alice.renamed")');
    const res = await fetch(`${url}/admin/accounts`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const accounts = (await res.json()) as { name: string; username: string; hasPassword: boolean }[];
    expect(accounts).toEqual([expect.objectContaining({ name: 'alice', username: 'alice.renamed', hasPassword: true })]);
    expect(JSON.stringify(accounts)).not.toContain('alice-pw-123');
    // SECURITY: the password was never logged either (debug level included).
    expect(logText.length).toBeGreaterThan(10);
    expect(logText.join('\n')).not.toContain('alice-pw-123');
  }, 60_000);

  it('creates an alias from the UI and shows its chain health', async () => {
    await go('aliases');
    await page.click('text=Create an alias');
    await page.fill('#alias-new-name', 'coder');
    await page.fill('#alias-new-chain', 'nope/model');
    await page.click('[data-testid=alias-new-form] button[type=submit]');
    await page.waitForSelector("text=unknown provider 'nope'");
    await page.fill('#alias-new-chain', MODEL);
    await page.fill('#alias-new-desc', 'Coding model with fallbacks');
    await page.click('[data-testid=alias-new-form] button[type=submit]');
    await page.waitForSelector(`[data-testid=alias-coder] >> text=${MODEL}`);
    expect(relay.resolver.aliases().map((a) => a.name)).toContain('coder');
  }, 60_000);

  it('a refused password, a captcha, a cooled-down and an out-of-credits account: one status each, the action that matches', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await page.setViewportSize({ width: 1440, height: 900 });
    await go('instances');
    const add = async (name: string, password: string) => {
      await page.click('[data-testid=screen-instances] button:has-text("Add account")');
      await page.fill('[data-testid=account-form-new] input[id$=username]', name);
      await page.fill('[data-testid=account-form-new] input[id$=password]', password);
      await page.fill('[data-testid=account-form-new] input[id$=name]', name);
      await page.click('[data-testid=account-form-new] button[type=submit]');
      await page.waitForSelector(`[data-testid=instance-${name}]`);
    };
    const signedOut = (name: string) => page.waitForSelector(`[data-testid=instance-${name}][data-kind=needs_person]`, { timeout: 90_000 });
    // The edit above restarted alice signed out (automatic sign-in is off here): sign her in again,
    // while bob and carol are added (their runtimes start side by side).
    const alice = '[data-testid=instance-alice]';
    await page.waitForSelector(`${alice}:is([data-kind=needs_person], [data-kind=serving])`, { timeout: 90_000 });
    if ((await page.getAttribute(alice, 'data-kind')) === 'needs_person') await page.click(`${alice} >> button:has-text("Sign in")`);
    await add('bob', 'not-the-password');
    await add('carol', 'carol-pw-123');
    // A wrong password: the sign-in page refuses it; the row offers Fix password.
    await signedOut('bob');
    const bobRefused = toastShown('bob: the password was refused');
    await page.click('[data-testid=instance-bob] >> button:has-text("Sign in")');
    await page.waitForSelector(`${alice}[data-kind=serving]`, { timeout: 90_000 });
    await page.waitForSelector('[data-testid=instance-bob] >> text=the password was refused', { timeout: 90_000 });
    await bobRefused;
    expect(await page.textContent('[data-testid=instance-bob] [data-testid=process]')).toBe('process ready · sign-in refused');

    // A captcha: the row says whom to finish the sign-in as. (The site's mode is global: alice's
    // and bob's sign-ins are over before it changes.)
    site.setMode('captcha');
    await signedOut('carol');
    const carolByHand = toastShown('carol: finish the sign-in by hand');
    await page.click('[data-testid=instance-carol] >> button:has-text("Sign in")');
    await page.waitForSelector('[data-testid=instance-carol] >> text=Finish sign-in as carol', { timeout: 90_000 });
    await carolByHand;
    site.setMode('normal');

    // A cooled-down account: time left and the last error, timestamped. (Six failures in a row: a
    // backoff of about a minute.)
    for (let i = 0; i < 6; i++) relay.health.recordFailure('alice', errors.upstream('Upstream failed (500).'));
    await page.waitForSelector('[data-testid=instance-alice][data-kind=cooling_down]');
    expect(await page.textContent('[data-testid=instance-alice] [data-testid=status] .badge')).toBe('Cooling down');
    expect(await page.textContent('[data-testid=instance-alice] [data-testid=last-error]')).toContain('Upstream failed (500).');
    expect(await page.getAttribute('[data-testid=instance-alice] [data-testid=last-error] time', 'datetime')).toMatch(/^\d{4}-\d\d-\d\dT/);
    await page.screenshot({ path: join(SHOTS, 'accounts-states-1440x900-light.png') });

    // Overview: names what is not serving and why.
    await go('overview');
    const stat = await page.textContent('[data-testid=stat-ready]');
    // lingma-1 (the unconfigured default instance), bob and carol need a person; alice cools down.
    expect(stat).toContain('3 need a person · 1 cooling down');
    expect(await page.textContent('[data-testid=empty-login-needed]')).toContain('Nothing else is serving right now either');
    expect(await page.textContent('[data-testid=not-serving-bob]')).toContain('the password was refused');
    expect(await page.textContent('[data-testid=not-serving-alice]')).toContain('Upstream failed (500).');
    await page.screenshot({ path: join(SHOTS, 'overview-states-1440x900-light.png') });

    // Out of credits, with the reset countdown; a person clears it from the row.
    relay.availability.recordQuota('alice', { resetsAt: Date.now() + 2 * 3_600_000 });
    await go('instances');
    await page.waitForSelector('[data-testid=instance-alice][data-kind=out_of_credits] [data-testid=countdown]:has-text("resets in")');
    await page.click('[data-testid=instance-alice] >> button:has-text("Clear cool-down")');
    await page.waitForSelector('[data-testid=instance-alice][data-kind=serving]', { timeout: 30_000 });

    // Test: the instance's own check, its outcome in a toast.
    await page.click('[data-testid=instance-alice] >> button:has-text("Test")');
    await page.waitForSelector('.toast >> text=alice answered');

    // Fix password opens the edit with the password field focused; the right one signs bob in.
    await page.click('[data-testid=instance-bob] >> button:has-text("Fix password")');
    await page.waitForSelector('[data-testid=account-form-bob] input[id$=password]:focus');
    await page.screenshot({ path: join(SHOTS, 'accounts-fix-password-1440x900-light.png') });
    await page.keyboard.type('bob-right-pw');
    const bobIn = toastShown('bob is signed in');
    await page.click('[data-testid=account-form-bob] button[type=submit]');
    await page.waitForSelector('[data-testid=instance-bob][data-kind=serving]', { timeout: 90_000 });
    await bobIn;
  }, 240_000);

  it('the events socket needs the token; foreign origins are refused (gateway guard)', async () => {
    const wsUrl = `${url.replace('http', 'ws')}/admin/events`;
    const status = (protocols: string[], origin?: string) => new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, protocols, origin ? { origin } : {});
      ws.on('error', () => undefined);
      ws.on('open', () => { resolve(101); ws.close(); });
      ws.on('unexpected-response', (req, res) => { resolve(res.statusCode ?? 0); req.destroy(); });
    });
    expect(await status(['relay-admin', 'bearer.wrong-token-0000000'])).toBe(401);

    expect(await status(['relay-admin', `bearer.${ADMIN}`], url)).toBe(101);
    // Foreign origins are refused by the gateway's guard before any admin route runs. (Checked over
    // plain HTTP: a refused WebSocket upgrade currently leaves its socket open, which would block stop.)
    const foreign = await fetch(`${url}/admin/state`, { headers: { authorization: `Bearer ${ADMIN}`, origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
  });

  it('screenshots every screen in light and dark at 1440×900 and 900×600', async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Some traffic so charts and tables have something to show.
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    // Only alice is signed in; whatever the pool does with the unsigned instance, the screens show it.
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'coder', messages: [{ role: 'user', content: `shot ${i}` }] }).catch(() => undefined);
    await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
    // carol still waits at her captcha; alice cools down again: the screens show both.
    for (let i = 0; i < 6; i++) relay.health.recordFailure('alice', errors.upstream('Upstream failed (500).'));
    await go('instances');
    await page.click('button:has-text("Sign in all")');
    const screens = ['overview', 'live', 'instances', 'aliases', 'usage', 'logs', 'settings'];
    // Light on this page, dark on a second signed-in page of the same browser, side by side.
    const walk = async (p: Page, scheme: 'light' | 'dark') => {
      for (const [w, h] of [[1440, 900], [900, 600]]) {
        await p.setViewportSize({ width: w, height: h });
        for (const s of screens) {
          await p.click(`[data-testid=nav-${s}]`);
          await p.waitForSelector(`[data-testid=screen-${s}]`);
          if (s === 'usage') await p.waitForSelector('[data-testid=usage-recent]');
          await p.screenshot({ path: join(SHOTS, `${s}-${w}x${h}-${scheme}.png`) });
        }
      }
    };
    await page.emulateMedia({ colorScheme: 'light' });
    const dark = await openSignedInPage(browser, url, ADMIN, { width: 1440, height: 900, scheme: 'dark' }, { onConsoleError: (e) => consoleErrors.push(e) });
    try {
      await Promise.all([walk(page, 'light'), walk(dark, 'dark')]);
    } finally {
      await dark.context().close();
    }
    expect(existsSync(join(SHOTS, 'overview-1440x900-light.png'))).toBe(true);
    // Every screen rendered under the strict CSP without a violation.
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  }, 120_000);
});

/**
 * End to end, the dashboard's states (setup: ./dashboard-relay.ts, a real relay with the Lingma
 * simulator and the simulated login site): a refused password (Fix password), a captcha (Finish
 * sign-in as …), a cooled-down and an out-of-credits account, each with the one status the screen
 * says; then screenshots of every screen go to test-artifacts/screens (light and dark, 1440×900
 * and 900×600). The new user's path (token gate, first account, requests, edits): dashboard.test.ts.
 */
import OpenAI from 'openai';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSignedInPage, signInToDashboard } from '../helpers/dashboard-browser';
import { errors } from '../../src-main/core/errors';
import type { Relay } from '../../src-main/core/relay';
import type { LoginSite } from '../sim/login-site';
import { ADMIN, CHROMIUM, KEY, MODEL, SHOTS, go, startDashboardRelay, toastShown, type DashboardRelay } from './dashboard-relay';

describe.skipIf(!existsSync(CHROMIUM))('dashboard states in headless Chromium against a real relay', () => {
  let d: DashboardRelay;
  let relay: Relay;
  let url: string;
  let browser: Browser;
  let page: Page;
  let site: LoginSite;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    d = await startDashboardRelay();
    ({ relay, url, browser, page, site } = d);
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    const admin = (method: string, path: string, body: unknown) =>
      fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // What the new user's path leaves behind (dashboard.test.ts does it through the screens):
    // alice's account, signed out (automatic sign-in is off here), and the alias `coder`.
    expect((await admin('POST', '/admin/accounts', { name: 'alice', username: 'alice', password: 'alice-pw-123' })).status).toBeLessThan(300);
    expect((await admin('PUT', '/admin/aliases', { text: `coder: ${MODEL}\n` })).status).toBeLessThan(300);
    await signInToDashboard(page, url, ADMIN);
  }, 120_000);

  afterAll(async () => {
    await d?.close();
  }, 60_000);

  it('a refused password, a captcha, a cooled-down and an out-of-credits account: one status each, the action that matches', async () => {
    mkdirSync(SHOTS, { recursive: true });
    await page.setViewportSize({ width: 1440, height: 900 });
    await go(page, 'instances');
    const add = async (name: string, password: string) => {
      await page.click('[data-testid=screen-instances] button:has-text("Add account")');
      await page.fill('[data-testid=account-form-new] input[id$=username]', name);
      await page.fill('[data-testid=account-form-new] input[id$=password]', password);
      await page.fill('[data-testid=account-form-new] input[id$=name]', name);
      await page.click('[data-testid=account-form-new] button[type=submit]');
      await page.waitForSelector(`[data-testid=instance-${name}]`);
    };
    const signedOut = (name: string) => page.waitForSelector(`[data-testid=instance-${name}][data-kind=needs_person]`, { timeout: 90_000 });
    // alice was added signed out (automatic sign-in is off here): sign her in, while bob and carol
    // are added (their runtimes start side by side).
    const alice = '[data-testid=instance-alice]';
    await page.waitForSelector(`${alice}:is([data-kind=needs_person], [data-kind=serving])`, { timeout: 90_000 });
    if ((await page.getAttribute(alice, 'data-kind')) === 'needs_person') await page.click(`${alice} >> button:has-text("Sign in")`);
    await add('bob', 'not-the-password');
    await add('carol', 'carol-pw-123');
    // A wrong password: the sign-in page refuses it; the row offers Fix password.
    await signedOut('bob');
    const bobRefused = toastShown(page, 'bob: the password was refused');
    await page.click('[data-testid=instance-bob] >> button:has-text("Sign in")');
    await page.waitForSelector(`${alice}[data-kind=serving]`, { timeout: 90_000 });
    await page.waitForSelector('[data-testid=instance-bob] >> text=the password was refused', { timeout: 90_000 });
    await bobRefused;
    expect(await page.textContent('[data-testid=instance-bob] [data-testid=process]')).toBe('process ready · sign-in refused');

    // A captcha: the row says whom to finish the sign-in as. (The site's mode is global: alice's
    // and bob's sign-ins are over before it changes.)
    site.setMode('captcha');
    await signedOut('carol');
    const carolByHand = toastShown(page, 'carol: finish the sign-in by hand');
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
    await go(page, 'overview');
    const stat = await page.textContent('[data-testid=stat-ready]');
    // lingma-1 (the unconfigured default instance), bob and carol need a person; alice cools down.
    expect(stat).toContain('3 need a person · 1 cooling down');
    expect(await page.textContent('[data-testid=empty-login-needed]')).toContain('Nothing else is serving right now either');
    expect(await page.textContent('[data-testid=not-serving-bob]')).toContain('the password was refused');
    expect(await page.textContent('[data-testid=not-serving-alice]')).toContain('Upstream failed (500).');
    await page.screenshot({ path: join(SHOTS, 'overview-states-1440x900-light.png') });

    // Out of credits, with the reset countdown; a person clears it from the row.
    relay.availability.recordQuota('alice', { resetsAt: Date.now() + 2 * 3_600_000 });
    await go(page, 'instances');
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
    const bobIn = toastShown(page, 'bob is signed in');
    await page.click('[data-testid=account-form-bob] button[type=submit]');
    await page.waitForSelector('[data-testid=instance-bob][data-kind=serving]', { timeout: 90_000 });
    await bobIn;
  }, 240_000);

  it('screenshots every screen in light and dark at 1440×900 and 900×600', async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Some traffic so charts and tables have something to show.
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    // Only alice is signed in; whatever the pool does with the unsigned instance, the screens show it.
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'coder', messages: [{ role: 'user', content: `shot ${i}` }] }).catch(() => undefined);
    await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);
    // carol still waits at her captcha; alice cools down again: the screens show both.
    for (let i = 0; i < 6; i++) relay.health.recordFailure('alice', errors.upstream('Upstream failed (500).'));
    await go(page, 'instances');
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

/**
 * The headless Playwright login driver against the simulated login site and a fake instance
 * (setup: ./driver-fixture.ts): browser discovery; signing in, refusals, captchas, an abort. The
 * sign-in origin policy and the page variants: driver-pages.test.ts.
 */
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { BROWSER_ARGS, browserCandidates, findBrowser, sandboxFor } from '../../src-main/cli/login-browser';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import { LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { captureLogger } from './helpers';
import { haveChromium, useDriverFixture } from './driver-fixture';

describe('browser discovery', () => {
  it('lists per-OS candidates', () => {
    expect(browserCandidates('linux')).toContain('/usr/bin/chromium');
    expect(browserCandidates('darwin').some((p) => p.includes('Google Chrome.app'))).toBe(true);
    const win = browserCandidates('win32', { PROGRAMFILES: 'C:\\Program Files', LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' });
    expect(win).toContain('C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe');
    expect(win.some((p) => p.endsWith('msedge.exe'))).toBe(true);
  });

  it('honours an explicit path and reports none found', () => {
    expect(findBrowser('/nope/chrome', () => false)).toBeUndefined();
    expect(findBrowser('/opt/chrome', (p) => p === '/opt/chrome')).toBe('/opt/chrome');
    expect(findBrowser('auto', () => false)).toBeUndefined();
  });

  it('without a browser the driver asks for a manual login with a clear reason', async () => {
    const { log } = captureLogger();
    const driver = createPlaywrightLoginDriver({ executablePath: '/nope/chromium', log, profilesDir: join(tmpdir(), 'relay-no-browser-never-created') });
    expect(driver.executablePath).toBeUndefined();
    const out = await driver.login({
      instance: 'a', loginUrl: 'https://example.invalid/lingma/login?state=s', callbackUrl: 'http://127.0.0.1:1/auth/callback',
      credentials: { username: 'u', password: 'p' }, recipe: DEFAULT_LOGIN_RECIPE, timeoutMs: 5000,
      isLoggedIn: async () => false, signal: new AbortController().signal,
      policy: createSignInPolicy({ callbackUrl: 'http://127.0.0.1:1/auth/callback' }),
    });
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.noBrowser, url: 'https://example.invalid/lingma/login?state=s' });
    expect(out.kind === 'manual' && out.reason).toMatch(/Chromium/);
  });

  it('SECURITY: Chromium keeps its sandbox unless running as root', () => {
    expect(sandboxFor(false)).toEqual({ chromiumSandbox: true });
    expect(sandboxFor(true)).toEqual({ chromiumSandbox: false });
    expect(BROWSER_ARGS).not.toContain('--no-sandbox');
  });
});

describe.skipIf(!haveChromium)('playwright login driver', () => {
  const f = useDriverFixture();

  it('signs in: success once the top window reaches the callback; the profile is removed', async () => {
    f.site.setMode('normal');
    const out = await f.driver.login(f.request());
    expect(out).toEqual({ kind: 'success' });
    expect(f.cb.loggedInAs()).toBe('alice');
    expect(await readdir(f.profiles)).toEqual([]);
  }, 60000);

  it('an unreachable login page fails, and its address is logged without the query string', async () => {
    const out = await f.driver.login(f.request({ loginUrl: 'http://127.0.0.1:9/lingma/login?nonce=n0nce-secret-1&state=st4te-secret-2&challenge=c' }));
    expect(out.kind).not.toBe('success');
    const text = f.logs.text();
    expect(text).toContain('auto-login');
    expect(text).not.toContain('n0nce-secret-1');
    expect(text).not.toContain('st4te-secret-2');
    expect(text).not.toMatch(/\u001b\[/);
  }, 60000);

  it('a refused password fails with the rejected reason (and is not submitted twice)', async () => {
    f.site.setMode('normal');
    const before = f.site.hits().attempts;
    const out = await f.driver.login(f.request({ credentials: { username: 'alice', password: 'wrong' } }));
    expect(out).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    expect(f.site.hits().attempts - before).toBe(1);
    expect(f.cb.loggedInAs()).toBeUndefined();
  }, 60000);

  it('an error page after submitting is a refusal too', async () => {
    f.site.setMode('wrong-password-page');
    const out = await f.driver.login(f.request());
    expect(out).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
  }, 60000);

  it('captcha: manual login with the URL, nothing submitted', async () => {
    f.site.setMode('captcha');
    const before = f.site.hits().attempts;
    const req = f.request();
    const out = await f.driver.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl });
    expect(f.site.hits().attempts).toBe(before);
  }, 60000);

  it('captcha after submitting (a verification page replaces the sign-in): manual at once, submitted once', async () => {
    f.site.setMode('captcha-after-submit');
    const before = f.site.hits();
    const req = f.request();
    const out = await f.driver.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl });
    expect(f.site.hits().attempts - before.attempts).toBe(1);
    expect(f.site.hits().verifyPage - before.verifyPage).toBe(1);
  }, 60000);

  it('an abort stops the login and closes the browser', async () => {
    f.site.setMode('unknown');
    const ac = new AbortController();
    const p = f.driver.login(f.request({ signal: ac.signal }));
    setTimeout(() => ac.abort(), 300);
    expect(await p).toEqual({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
    expect(await readdir(f.profiles)).toEqual([]);
  }, 60000);
});

/** The headless Playwright login driver against the simulated login site and a fake instance. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { BROWSER_ARGS, browserCandidates, findBrowser, sandboxFor } from '../../src-main/cli/login-browser';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import { LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import type { LoginRequest } from '../../src-main/core/ports';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { captureLogger, loginUrlFor, startCallbackServer } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[login tests] ${CHROMIUM} not found: browser tests are skipped`);

const PASSWORD = 'S3cret-pass!';

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
  let site: LoginSite;
  let cb: Awaited<ReturnType<typeof startCallbackServer>>;
  const profiles = mkdtempSync(join(tmpdir(), 'relay-login-test-'));
  const logs = captureLogger();
  const driver = createPlaywrightLoginDriver({ executablePath: 'auto', log: logs.log, profilesDir: profiles, formWaitMs: 3000, pollMs: 200 });
  let n = 0;

  beforeAll(async () => {
    site = await startLoginSite({ users: { alice: PASSWORD }, slowMs: 400 });
    cb = await startCallbackServer();
  });

  afterAll(async () => {
    await site?.close();
    await cb?.close();
    rmSync(profiles, { recursive: true, force: true });
    // SECURITY: nothing secret reached the logs: no password, no state/nonce, no token.
    const text = logs.text();
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('nonce');
    expect(text).not.toContain('state=');
    expect(text).not.toContain('token=');
  });

  function request(over: Partial<LoginRequest> = {}): LoginRequest {
    const state = `drv-state-${++n}`;
    cb.expect(state);
    cb.reset();
    return {
      instance: 'acct-1',
      loginUrl: loginUrlFor(site.baseUrl, cb.port, state),
      callbackUrl: cb.callbackUrl,
      credentials: { username: 'alice', password: PASSWORD },
      recipe: DEFAULT_LOGIN_RECIPE,
      timeoutMs: 30000,
      isLoggedIn: async () => false,
      signal: new AbortController().signal,
      policy: createSignInPolicy({ allowedOrigins: ['http://127.0.0.1:*'], callbackUrl: cb.callbackUrl }),
      ...over,
    };
  }

  /** Only the Lingma page and the sign-in frame are allowed: the foreign site (a third port) is not. */
  const strict = (): LoginRequest['policy'] =>
    createSignInPolicy({ allowedOrigins: [site.baseUrl, site.signinUrl], callbackUrl: cb.callbackUrl });

  /** SECURITY: nothing the foreign site received carries the password. */
  function foreignGotNoPassword(): void {
    const got = site.foreignReceived().join('\n');
    expect(got).not.toContain(PASSWORD);
    expect(got).not.toContain(encodeURIComponent(PASSWORD));
    expect(site.foreignReceived().some((r) => r.startsWith('POST'))).toBe(false);
  }

  it('signs in: success once the top window reaches the callback; the profile is removed', async () => {
    site.setMode('normal');
    const out = await driver.login(request());
    expect(out).toEqual({ kind: 'success' });
    expect(cb.loggedInAs()).toBe('alice');
    expect(await readdir(profiles)).toEqual([]);
  }, 60000);

  it('an unreachable login page fails, and its address is logged without the query string', async () => {
    const out = await driver.login(request({ loginUrl: 'http://127.0.0.1:9/lingma/login?nonce=n0nce-secret-1&state=st4te-secret-2&challenge=c' }));
    expect(out.kind).not.toBe('success');
    const text = logs.text();
    expect(text).toContain('auto-login');
    expect(text).not.toContain('n0nce-secret-1');
    expect(text).not.toContain('st4te-secret-2');
    expect(text).not.toMatch(/\u001b\[/);
  }, 60000);

  it('a refused password fails with the rejected reason (and is not submitted twice)', async () => {
    site.setMode('normal');
    const before = site.hits().attempts;
    const out = await driver.login(request({ credentials: { username: 'alice', password: 'wrong' } }));
    expect(out).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    expect(site.hits().attempts - before).toBe(1);
    expect(cb.loggedInAs()).toBeUndefined();
  }, 60000);

  it('an error page after submitting is a refusal too', async () => {
    site.setMode('wrong-password-page');
    const out = await driver.login(request());
    expect(out).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
  }, 60000);

  it('captcha: manual login with the URL, nothing submitted', async () => {
    site.setMode('captcha');
    const before = site.hits().attempts;
    const req = request();
    const out = await driver.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl });
    expect(site.hits().attempts).toBe(before);
  }, 60000);

  it('captcha after submitting (a verification page replaces the sign-in): manual at once, submitted once', async () => {
    site.setMode('captcha-after-submit');
    const before = site.hits();
    const req = request();
    const out = await driver.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl });
    expect(site.hits().attempts - before.attempts).toBe(1);
    expect(site.hits().verifyPage - before.verifyPage).toBe(1);
  }, 60000);

  it('SECURITY: a redirect of the top window to a foreign origin stops the login; that origin never gets the password', async () => {
    site.setMode('foreign-redirect');
    const req = request({ policy: strict() });
    const out = await driver.login(req);
    expect(out.kind).toBe('manual');
    expect(out.kind === 'manual' && out.reason).toContain(site.foreignUrl);
    expect(out.kind === 'manual' && out.reason).toMatch(/not an official sign-in origin/);
    foreignGotNoPassword();
  }, 60000);

  it('SECURITY: a sign-in frame on a foreign origin gets nothing typed', async () => {
    site.setMode('foreign-frame');
    const req = request({ policy: strict() });
    const out = await driver.login(req);
    expect(out.kind).toBe('manual');
    expect(out.kind === 'manual' && out.reason).toContain(site.foreignUrl);
    foreignGotNoPassword();
  }, 60000);

  it('SECURITY: a login URL off the policy is not opened', async () => {
    site.setMode('normal');
    const before = site.foreignReceived().length;
    const state = `foreign-${++n}`;
    const req = request({ policy: strict(), loginUrl: `${site.foreignUrl}/signin?state=${state}&port=${cb.port}` });
    expect(await driver.login(req)).toEqual({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy, url: req.loginUrl });
    expect(site.foreignReceived().length).toBe(before);
  }, 60000);

  it('SECURITY: plain http sign-in pages are refused by the default policy (no allowedOrigins)', async () => {
    site.setMode('normal');
    const before = site.hits();
    const req = request({ policy: createSignInPolicy({ callbackUrl: cb.callbackUrl }) });
    expect(await driver.login(req)).toMatchObject({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy });
    expect(site.hits().loginPage).toBe(before.loginPage);
    expect(site.hits().attempts).toBe(before.attempts);
  }, 60000);

  it('unknown page: manual login', async () => {
    site.setMode('unknown');
    const req = request();
    // No form ever shows: the verdict comes when the form wait ends (the shortest one allowed).
    const quick = createPlaywrightLoginDriver({ executablePath: 'auto', log: logs.log, profilesDir: profiles, formWaitMs: 1000, pollMs: 200 });
    const out = await quick.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl });
  }, 60000);

  it('success is also detected through isLoggedIn', async () => {
    // The page never gets anywhere (unknown page), but the instance reports logged in.
    site.setMode('unknown');
    const out = await driver.login(request({ isLoggedIn: async () => true }));
    expect(out).toEqual({ kind: 'success' });
  }, 60000);

  it('slow form: still signs in', async () => {
    site.setMode('slow');
    const out = await driver.login(request());
    expect(out).toEqual({ kind: 'success' });
    expect(cb.loggedInAs()).toBe('alice');
  }, 60000);

  it('a form in the page itself (no frame in the recipe, or the frame missing) is used too', async () => {
    site.setMode('normal');
    const state = `direct-${++n}`;
    // The sign-in page opened directly: its form is in the top document.
    const direct = `${site.signinUrl}/signin?state=${state}&port=${cb.port}`;
    const before = site.hits().attempts;
    const { frame: _omit, ...noFrame } = DEFAULT_LOGIN_RECIPE;
    const bad = { username: 'alice', password: 'not-it' };
    expect(await driver.login(request({ loginUrl: direct, recipe: noFrame, credentials: bad }))).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    const missingFrame = { ...DEFAULT_LOGIN_RECIPE, frame: '#no-such-frame' };
    expect(await driver.login(request({ loginUrl: direct, recipe: missingFrame, credentials: bad }))).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    expect(site.hits().attempts - before).toBe(2);
  }, 60000);

  it('an abort stops the login and closes the browser', async () => {
    site.setMode('unknown');
    const ac = new AbortController();
    const p = driver.login(request({ signal: ac.signal }));
    setTimeout(() => ac.abort(), 300);
    expect(await p).toEqual({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
    expect(await readdir(profiles)).toEqual([]);
  }, 60000);
});

/**
 * The headless Playwright login driver against the simulated login site (setup:
 * ./driver-fixture.ts): the sign-in origin policy (foreign redirects and frames, login URLs off
 * the policy, plain http) and the page variants (unknown page, success seen through isLoggedIn, a
 * slow form, a form in the page itself). Signing in, refusals, captchas: driver.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import { LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { haveChromium, useDriverFixture } from './driver-fixture';

describe.skipIf(!haveChromium)('playwright login driver: sign-in origin policy and page variants', () => {
  const f = useDriverFixture();

  it('SECURITY: a redirect of the top window to a foreign origin stops the login; that origin never gets the password', async () => {
    f.site.setMode('foreign-redirect');
    const req = f.request({ policy: f.strict() });
    const out = await f.driver.login(req);
    expect(out.kind).toBe('manual');
    expect(out.kind === 'manual' && out.reason).toContain(f.site.foreignUrl);
    expect(out.kind === 'manual' && out.reason).toMatch(/not an official sign-in origin/);
    f.foreignGotNoPassword();
  }, 60000);

  it('SECURITY: a sign-in frame on a foreign origin gets nothing typed', async () => {
    f.site.setMode('foreign-frame');
    const req = f.request({ policy: f.strict() });
    const out = await f.driver.login(req);
    expect(out.kind).toBe('manual');
    expect(out.kind === 'manual' && out.reason).toContain(f.site.foreignUrl);
    f.foreignGotNoPassword();
  }, 60000);

  it('SECURITY: a login URL off the policy is not opened', async () => {
    f.site.setMode('normal');
    const before = f.site.foreignReceived().length;
    const state = f.nextState('foreign');
    const req = f.request({ policy: f.strict(), loginUrl: `${f.site.foreignUrl}/signin?state=${state}&port=${f.cb.port}` });
    expect(await f.driver.login(req)).toEqual({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy, url: req.loginUrl });
    expect(f.site.foreignReceived().length).toBe(before);
  }, 60000);

  it('SECURITY: plain http sign-in pages are refused by the default policy (no allowedOrigins)', async () => {
    f.site.setMode('normal');
    const before = f.site.hits();
    const req = f.request({ policy: createSignInPolicy({ callbackUrl: f.cb.callbackUrl }) });
    expect(await f.driver.login(req)).toMatchObject({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy });
    expect(f.site.hits().loginPage).toBe(before.loginPage);
    expect(f.site.hits().attempts).toBe(before.attempts);
  }, 60000);

  it('unknown page: manual login', async () => {
    f.site.setMode('unknown');
    const req = f.request();
    // No form ever shows: the verdict comes when the form wait ends (the shortest one allowed).
    const quick = createPlaywrightLoginDriver({ executablePath: 'auto', log: f.logs.log, profilesDir: f.profiles, formWaitMs: 1000, pollMs: 200 });
    const out = await quick.login(req);
    expect(out).toEqual({ kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl });
  }, 60000);

  it('success is also detected through isLoggedIn', async () => {
    // The page never gets anywhere (unknown page), but the instance reports logged in.
    f.site.setMode('unknown');
    const out = await f.driver.login(f.request({ isLoggedIn: async () => true }));
    expect(out).toEqual({ kind: 'success' });
  }, 60000);

  it('slow form: still signs in', async () => {
    f.site.setMode('slow');
    const out = await f.driver.login(f.request());
    expect(out).toEqual({ kind: 'success' });
    expect(f.cb.loggedInAs()).toBe('alice');
  }, 60000);

  it('a form in the page itself (no frame in the recipe, or the frame missing) is used too', async () => {
    f.site.setMode('normal');
    const state = f.nextState('direct');
    // The sign-in page opened directly: its form is in the top document.
    const direct = `${f.site.signinUrl}/signin?state=${state}&port=${f.cb.port}`;
    const before = f.site.hits().attempts;
    const { frame: _omit, ...noFrame } = DEFAULT_LOGIN_RECIPE;
    const bad = { username: 'alice', password: 'not-it' };
    expect(await f.driver.login(f.request({ loginUrl: direct, recipe: noFrame, credentials: bad }))).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    const missingFrame = { ...DEFAULT_LOGIN_RECIPE, frame: '#no-such-frame' };
    expect(await f.driver.login(f.request({ loginUrl: direct, recipe: missingFrame, credentials: bad }))).toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    expect(f.site.hits().attempts - before).toBe(2);
  }, 60000);
});

/**
 * The recipe runner in a real Chromium against the simulated login site: the same script both
 * hosts evaluate in the sign-in frame.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import {
  buildInspectScript,
  buildRecipeScript,
  classifyPage,
  safeUrl,
  validateRecipe,
  type PageFacts,
  type RecipeResult,
} from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import type { LoginRecipe } from '../../src-main/core/ports';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { loginUrlFor, startCallbackServer, waitFor } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[login tests] ${CHROMIUM} not found: browser tests are skipped`);

const recipe: LoginRecipe = DEFAULT_LOGIN_RECIPE;
const creds = { username: 'alice', password: 'p@ss "w0rd" </script>' };

describe('recipe helpers (pure)', () => {
  it('classifies pages: captcha wins, then a refusal, then the form', () => {
    const base: PageFacts = { captcha: false, form: false };
    expect(classifyPage({ ...base, captcha: true, form: true, error: 'x' })).toBe('captcha');
    expect(classifyPage({ ...base, form: true, error: 'Wrong password' })).toBe('rejected');
    expect(classifyPage({ ...base, form: true })).toBe('form');
    expect(classifyPage(base)).toBe('unknown');
  });

  it('validates recipes with errors naming the field', () => {
    expect(() => validateRecipe({ ...recipe, username: '' })).toThrow(/lingma\.login\.recipe\.username/);
    expect(() => validateRecipe({ ...recipe, captcha: ['ok', ' '] })).toThrow(/captcha\[1\]/);
    expect(() => validateRecipe({ ...recipe, captcha: 'x' as unknown as string[] })).toThrow(/captcha must be a list/);
    expect(() => validateRecipe(recipe)).not.toThrow();
  });

  it('keeps only origin and path of URLs for logs', () => {
    expect(safeUrl('http://127.0.0.1:5/auth/callback?state=s&token=t')).toBe('http://127.0.0.1:5/auth/callback');
    expect(safeUrl('not a url')).toBe('(invalid url)');
  });

  it('builds a self-contained expression (no references to compiled helpers)', () => {
    const script = buildRecipeScript(recipe, creds, { origin: 'https://signin.alibabacloud.com' });
    // Evaluates in a bare function scope: it only needs `document` and `window`.
    expect(() => new Function('document', 'window', `return ${script}`)).not.toThrow();
    expect(buildInspectScript(recipe)).not.toContain(creds.password);
  });

  it('SECURITY: refuses to build a script without the approved origin', () => {
    expect(() => buildRecipeScript(recipe, creds, undefined as never)).toThrow(/approved origin/);
    expect(() => buildRecipeScript(recipe, creds, { origin: 'https://x.example/path' })).toThrow(/approved origin/);
  });
});

describe.skipIf(!haveChromium)('recipe runner in Chromium', () => {
  let browser: Browser;
  let site: LoginSite;
  let cb: Awaited<ReturnType<typeof startCallbackServer>>;
  let page: Page;
  let n = 0;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    site = await startLoginSite({ users: { alice: creds.password, bob: 'hunter2' }, slowMs: 400 });
    cb = await startCallbackServer();
  }, 60000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await cb?.close();
  });

  afterEach(async () => {
    await page?.close();
    cb.reset();
    site.setMode('normal');
  });

  /** Open the login page and return the sign-in frame (cross-origin). */
  async function open(): Promise<{ frame: Frame; state: string }> {
    const state = `st${++n}`;
    cb.expect(state);
    page = await browser.newPage();
    await page.goto(loginUrlFor(site.baseUrl, cb.port, state));
    const handle = await page.waitForSelector(recipe.frame as string);
    const frame = (await handle.contentFrame()) as Frame;
    await frame.waitForLoadState('domcontentloaded');
    return { frame, state };
  }

  it('the sign-in frame is on another origin', async () => {
    const { frame } = await open();
    expect(new URL(frame.url()).origin).toBe(site.signinUrl);
    expect(new URL(frame.url()).origin).not.toBe(new URL(page.url()).origin);
  });

  it('normal: fills like typing, submits, and the top window reaches the callback', async () => {
    const { frame } = await open();
    const callback = page.waitForURL((u) => u.href.startsWith(cb.callbackUrl), { timeout: 20000 });
    const result = (await frame.evaluate(buildRecipeScript(recipe, creds, { origin: site.signinUrl }))) as RecipeResult;
    expect(result).toEqual({ status: 'submitted' });
    await callback;
    expect(await page.content()).toContain('Login successful');
    expect(cb.loggedInAs()).toBe('alice');
    expect(site.hits().accepted).toBeGreaterThanOrEqual(1);
  }, 30000);

  it('the simulated form ignores plain value assignment (framework-tracked inputs)', async () => {
    const before = site.hits().attempts;
    const { frame } = await open();
    await frame.evaluate(`(() => {
      document.querySelector('#fm-login-id').value = 'alice';
      document.querySelector('#fm-login-id').dispatchEvent(new Event('input', { bubbles: true }));
      document.querySelector('#fm-login-password').value = 'x';
      document.querySelector('#fm-login-password').dispatchEvent(new Event('input', { bubbles: true }));
      document.querySelector('button[type=submit]').click();
    })()`);
    const facts = await waitFor(async () => {
      const f = (await frame.evaluate(buildInspectScript(recipe))) as PageFacts;
      return f.error ? f : undefined;
    });
    expect(facts.error).toMatch(/enter your account/);
    expect(site.hits().attempts).toBe(before);
  }, 30000);

  it('wrong password: submitted, then the frame shows the refusal', async () => {
    const { frame } = await open();
    const result = (await frame.evaluate(buildRecipeScript(recipe, { username: 'bob', password: 'wrong' }, { origin: site.signinUrl }))) as RecipeResult;
    expect(result.status).toBe('submitted');
    const facts = await waitFor(async () => {
      const f = (await frame.evaluate(buildInspectScript(recipe))) as PageFacts;
      return f.error ? f : undefined;
    });
    expect(classifyPage(facts)).toBe('rejected');
    expect(site.hits().rejected).toBeGreaterThanOrEqual(1);
    expect(site.hits().lastSubmittedUser).toBe('bob');
    expect(cb.loggedInAs()).toBeUndefined();
  }, 30000);

  it('SECURITY: a document on another origin than the approved one gets nothing typed', async () => {
    const before = site.hits().attempts;
    const { frame } = await open();
    const result = (await frame.evaluate(buildRecipeScript(recipe, creds, { origin: site.foreignUrl }))) as RecipeResult;
    expect(result).toEqual({ status: 'off_policy' });
    expect(await frame.evaluate(`document.querySelector('#fm-login-password').value`)).toBe('');
    expect(site.hits().attempts).toBe(before);
  }, 30000);

  it('captcha: reports the captcha and does not submit', async () => {
    site.setMode('captcha');
    const before = site.hits().attempts;
    const { frame } = await open();
    const result = (await frame.evaluate(buildRecipeScript(recipe, creds, { origin: site.signinUrl }))) as RecipeResult;
    expect(result.status).toBe('captcha');
    expect(site.hits().attempts).toBe(before);
  }, 30000);

  it('unknown page: form_not_found naming what is missing', async () => {
    site.setMode('unknown');
    const { frame } = await open();
    const result = (await frame.evaluate(buildRecipeScript(recipe, creds, { origin: site.signinUrl, waitMs: 300, pollMs: 50 }))) as RecipeResult;
    expect(result).toEqual({ status: 'form_not_found', missing: ['username', 'password'] });
    const facts = (await frame.evaluate(buildInspectScript(recipe))) as PageFacts;
    expect(classifyPage(facts)).toBe('unknown');
  }, 30000);

  it('slow: waits for the form to appear', async () => {
    site.setMode('slow');
    const { frame } = await open();
    const callback = page.waitForURL((u) => u.href.startsWith(cb.callbackUrl), { timeout: 20000 });
    const result = (await frame.evaluate(buildRecipeScript(recipe, creds, { origin: site.signinUrl, waitMs: 10000, pollMs: 100 }))) as RecipeResult;
    expect(result.status).toBe('submitted');
    await callback;
    expect(cb.loggedInAs()).toBe('alice');
  }, 30000);

  it('clicks the `before` selectors first and reports a bad selector as an error', async () => {
    const { frame } = await open();
    await frame.evaluate(`(() => {
      const b = document.createElement('button'); b.id = 'pw-tab'; b.textContent = 'Password login';
      b.addEventListener('click', () => { document.body.dataset.tab = 'clicked'; });
      document.body.prepend(b);
    })()`);
    const r1 = (await frame.evaluate(
      buildRecipeScript({ ...recipe, before: ['#pw-tab'], submit: '#does-not-exist' }, creds, { origin: site.signinUrl, waitMs: 300, pollMs: 50 }),
    )) as RecipeResult;
    expect(r1).toEqual({ status: 'form_not_found', missing: ['submit'] });
    expect(await frame.evaluate('document.body.dataset.tab')).toBe('clicked');
    const r2 = (await frame.evaluate(buildRecipeScript({ ...recipe, username: '##bad[' }, creds, { origin: site.signinUrl }))) as RecipeResult;
    expect(r2.status).toBe('error');
    expect(r2.message).not.toContain(creds.password);
  }, 30000);
});

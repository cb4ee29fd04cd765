/**
 * The headless host's `LoginDriver`: playwright-core driving the system's Chromium-family browser
 * (never a downloaded one). One browser per login, with a fresh profile directory for the
 * instance under `<dataDir>/login-profiles/` (0700), always closed and removed afterwards.
 *
 * SECURITY: credentials only travel inside the recipe script evaluated in the sign-in frame, and
 * only into a frame the request's `SignInPolicy` allows (https official sign-in origins, the
 * account's dedicated domain, `lingma.login.allowedOrigins`); the script re-checks the origin in
 * the page before typing. The top window going off the policy stops the automation and hands the
 * login to a person. Chromium keeps its sandbox unless we run as root. Credentials are never
 * logged. Login URLs carry nonces and states, callbacks carry tokens: logs get origin and path
 * only (`safeUrl`).
 *
 * Which browser and where its profiles live: `login-browser.ts`. The steps shared with the
 * desktop window (checks before opening, the `isLoggedIn` poll, recipe results, page looks):
 * `core/backends/lingma/login/driver-steps.ts`.
 */
import { safeErrorText } from '../core/redact';
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { BrowserContext, ElementHandle, Frame, Page, Request, Route } from 'playwright-core';
import { childEnv } from '../core/child-env';
import { nameProblem } from '../core/names';
import type { LoginDriver, LoginOutcome, LoginRequest } from '../core/ports';
import { removeTreeAsync, safeJoin } from '../core/safe-path';
import { buildInspectScript, buildRecipeScript, classifyPage, LOGIN_REASONS, safeUrl, type PageFacts, type PageKind } from '../core/backends/lingma/login/recipe';
import { asPageFacts, asRecipeResult, judgeCallbackFailure, pageJudge, pollLoggedIn, preflight, RECIPE_REASONS } from '../core/backends/lingma/login/driver-steps';
import { originOf } from '../core/sign-in-policy';
import { BROWSER_ARGS, ensureProfilesDir, findBrowser, sandboxFor } from './login-browser';

export interface PlaywrightLoginDriverOptions {
  /** A browser path, or `auto` (default) to search the usual install locations. */
  executablePath?: string | 'auto';
  log: Logger;
  /** Default true. */
  headless?: boolean;
  /**
   * Where per-instance browser profiles live during a login: `loginProfilesDir(dataDir)`, a 0700
   * folder of ours (never a shared temp path another user could prepare).
   */
  profilesDir: string;
  /** How long the recipe waits for the sign-in form to appear. Default 20 s (bounded by the login timeout). */
  formWaitMs?: number;
  /** How often the page and `isLoggedIn` are checked after submitting. Default 500 ms. */
  pollMs?: number;
}

/** Where the sign-in form was found while waiting for the recipe's frame (`frameOrPageForm`). */
type FrameSearch = { frame: ElementHandle } | { page: 'form' | 'captcha' } | undefined;

export function createPlaywrightLoginDriver(opts: PlaywrightLoginDriverOptions): LoginDriver & { readonly executablePath?: string } {
  const log = opts.log;
  const executablePath = findBrowser(opts.executablePath ?? 'auto');
  const headless = opts.headless ?? true;
  const profilesDir = opts.profilesDir;
  const pollMs = opts.pollMs ?? 500;
  const sandbox = sandboxFor();
  if (!sandbox.chromiumSandbox) log.warn('running as root: the login browser runs without its sandbox (run Lingma Relay as a normal user to keep it)');

  async function login(req: LoginRequest): Promise<LoginOutcome> {
    const ilog = log.child({ instance: req.instance, driver: 'playwright' });
    if (!executablePath) {
      const wanted = opts.executablePath && opts.executablePath !== 'auto' ? ` (configured path ${opts.executablePath} does not exist)` : '';
      ilog.warn(`no browser for automatic login${wanted}`);
      return { kind: 'manual', reason: LOGIN_REASONS.noBrowser, url: req.loginUrl };
    }
    // SECURITY: among others, the login URL must be on the sign-in policy before a browser opens it.
    const refused = preflight(req);
    if (refused) {
      if (refused.kind === 'manual') ilog.warn({ origin: originOf(req.loginUrl) }, 'auto-login: the login link is off the sign-in origin policy');
      return refused;
    }

    // SECURITY: the instance name becomes a folder only through the name rule and safeJoin.
    const badName = nameProblem(req.instance, 'instance name');
    if (badName) return { kind: 'failed', reason: badName };
    let dir: string;
    try {
      await ensureProfilesDir(profilesDir);
      dir = safeJoin(profilesDir, req.instance);
    } catch (e) {
      ilog.warn({ err: safeErrorText(e) }, 'auto-login: no usable browser profile folder');
      return { kind: 'failed', reason: `No usable browser profile folder: ${safeErrorText(e)}` };
    }
    const deadline = Date.now() + req.timeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    let context: BrowserContext | undefined;
    let finished = false;
    const cleanups: Array<() => void> = [];
    try {
      // A fresh profile per login: no cookies or storage carried over from an earlier attempt.
      await removeTreeAsync(profilesDir, req.instance);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      ilog.info({ url: safeUrl(req.loginUrl) }, 'auto-login: opening the login page');
      // Loaded at the first login, not at start: playwright-core alone is ~80 MB of RSS, and the
      // serve bundle would otherwise import it at the top (esbuild hoists external imports).
      const { chromium } = await import('playwright-core');
      context = await chromium.launchPersistentContext(dir, {
        executablePath,
        headless,
        args: headless ? ['--headless', ...BROWSER_ARGS] : BROWSER_ARGS,
        ...sandbox,
        timeout: Math.min(30000, Math.max(5000, left())),
        acceptDownloads: false,
        // SECURITY: the browser gets the filtered environment, never LINGMA_ACCOUNTS or RELAY_*.
        env: childEnv(),
      });
      const ctx = context;
      // Nothing but the sign-in needs a permission.
      await ctx.clearPermissions();
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      // The sign-in has one window: pop-ups are closed.
      ctx.on('page', (p) => {
        if (p !== page) void p.close().catch(() => undefined);
      });

      // SECURITY: the top window stays on the policy. A navigation off it is blocked (routed
      // requests) or, for a redirect the route does not see, ends the attempt at once; either way
      // a person takes over. Sub-frames off the policy that are not https are blocked too.
      let offPolicy!: (o: LoginOutcome) => void;
      const offPolicyOutcome = new Promise<LoginOutcome>((r) => (offPolicy = r));
      const offPolicyNav = (r: Request): boolean => {
        if (!r.isNavigationRequest()) return false;
        let main: boolean;
        try {
          main = r.frame() === page.mainFrame();
        } catch {
          return false;
        }
        const url = r.url();
        if (main ? req.policy.navigation(url) !== 'deny' : req.policy.subframeAllowed(url)) return false;
        ilog.warn({ origin: originOf(url), mainFrame: main }, 'auto-login: blocked a navigation off the sign-in origin policy');
        if (main) offPolicy({ kind: 'manual', reason: req.policy.refusal(url), url: req.loginUrl });
        return true;
      };
      await ctx.route('**/*', (route: Route) => (offPolicyNav(route.request()) ? route.abort('blockedbyclient') : route.continue()).catch(() => undefined));
      page.on('request', (r) => {
        if (r.redirectedFrom()) offPolicyNav(r);
      });

      // Completion, whichever comes first: the top window reaches the callback, or the instance
      // reports logged in.
      const done = new Promise<LoginOutcome>((resolve) => {
        page.on('response', (res) => {
          const r = res.request();
          if (!r.isNavigationRequest() || r.frame() !== page.mainFrame() || !r.url().startsWith(req.callbackUrl)) return;
          ilog.info({ url: safeUrl(r.url()), status: res.status() }, 'auto-login: callback reached');
          resolve(res.status() < 400 ? { kind: 'success' } : { kind: 'failed', reason: LOGIN_REASONS.callbackRejected });
        });
        page.on('requestfailed', (r) => {
          // After success the browser is closed on purpose: its callback load ending is no news.
          if (finished || !r.isNavigationRequest() || r.frame() !== page.mainFrame() || !r.url().startsWith(req.callbackUrl)) return;
          const url = safeUrl(r.url());
          const err = r.failure()?.errorText;
          void judgeCallbackFailure(() => req.isLoggedIn()).then((verdict) => {
            if (finished) return;
            if (verdict === 'success') {
              ilog.info({ url }, 'auto-login: the callback page closed after the sign-in took');
              resolve({ kind: 'success' });
              return;
            }
            ilog.warn({ url, err }, 'auto-login: the callback could not be reached');
            resolve({ kind: 'failed', reason: LOGIN_REASONS.callbackUnreachable });
          });
        });
        const stopPoll = pollLoggedIn(() => req.isLoggedIn(), pollMs, () => {
          if (finished) return;
          ilog.info('auto-login: the instance reports logged in');
          resolve({ kind: 'success' });
        });
        cleanups.push(stopPoll);
        const t = setTimeout(() => resolve({ kind: 'failed', reason: LOGIN_REASONS.timeout }), left());
        cleanups.push(() => clearTimeout(t));
        const onAbort = (): void => resolve({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
        if (req.signal.aborted) onAbort();
        req.signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => req.signal.removeEventListener('abort', onAbort));
      });

      const automation = drive(page, req, left, ilog, () => finished).catch((e: unknown): LoginOutcome | undefined => {
        if (finished) return undefined;
        ilog.warn({ err: safeErrorText(e) }, 'auto-login: browser automation error');
        return { kind: 'failed', reason: LOGIN_REASONS.scriptError };
      });
      // The automation only settles with an outcome when it knows the login cannot complete
      // without help (captcha, unknown page, refused password); otherwise `done` decides.
      const outcome = await Promise.race([done, offPolicyOutcome, automation.then((o) => o ?? done)]);
      finished = true;
      ilog.info({ outcome: outcome.kind, reason: outcome.kind === 'success' ? undefined : outcome.reason }, 'auto-login: finished');
      return outcome.kind === 'manual' ? { ...outcome, url: req.loginUrl } : outcome;
    } catch (e) {
      finished = true;
      // Launch failures name the binary and flags, not secrets.
      ilog.warn({ err: safeErrorText(e) }, 'auto-login: browser failed');
      return { kind: 'failed', reason: 'The browser for automatic login could not be started or failed.' };
    } finally {
      finished = true;
      for (const c of cleanups) c();
      if (context) await context.close().catch(() => undefined);
      await removeTreeAsync(profilesDir, req.instance).catch(() => undefined);
    }
  }

  /**
   * Open the page, fill the form (only in a frame the policy allows), and watch every frame of the
   * page for the whole attempt: a captcha, slider, SMS or verification page before or after the
   * submit, a refusal after it, or an unknown page. Resolves with an outcome only when the login
   * needs a person or failed; undefined leaves the decision to the completion watcher.
   */
  async function drive(page: Page, req: LoginRequest, left: () => number, ilog: Logger, over: () => boolean): Promise<LoginOutcome | undefined> {
    await page.goto(req.loginUrl, { waitUntil: 'domcontentloaded', timeout: Math.max(1000, left()) });
    let submitted = false;
    const watcher = watchPage(page, req, left, ilog, () => submitted, over);
    const filling = fill(page, req, left, ilog);
    // The fill may still be running when the watcher decides (the browser then closes under it).
    filling.catch(() => undefined);
    const first = await Promise.race([
      watcher.then((o) => ({ from: 'watch' as const, o })),
      filling.then((r) => ({ from: 'fill' as const, r })),
    ]);
    if (first.from === 'watch') return first.o;
    if (first.r !== 'submitted') return first.r;
    submitted = true;
    return watcher;
  }

  /** Finds the form's frame, checks it against the policy, runs the recipe. */
  async function fill(page: Page, req: LoginRequest, left: () => number, ilog: Logger): Promise<LoginOutcome | 'submitted'> {
    const formWait = Math.max(1000, Math.min(opts.formWaitMs ?? 20000, left()));
    let frame: Frame = page.mainFrame();
    let src: string | null = null;
    if (req.recipe.frame) {
      const found = await frameOrPageForm(page, req, formWait);
      const handle = found && 'frame' in found ? found.frame : null;
      if (handle) {
        src = await handle.getAttribute('src').catch(() => null);
        const child = await handle.contentFrame();
        if (!child) return { kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl };
        await child.waitForLoadState('domcontentloaded', { timeout: formWait }).catch(() => undefined);
        frame = child;
      } else {
        // No frame: some variants put the form straight in the page.
        let kind: PageKind;
        if (found && 'page' in found) kind = found.page;
        else {
          const facts = await inspect(page.mainFrame(), req);
          kind = facts ? classifyPage(facts) : 'unknown';
        }
        ilog.info({ page: kind }, 'auto-login: the sign-in frame was not found');
        if (kind === 'captcha') return { kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl };
        if (kind !== 'form') return { kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl };
      }
    }
    // SECURITY: credentials only into a frame on the sign-in policy; the recipe re-checks the
    // origin inside the page right before typing.
    let url = frame.url();
    if (!/^https?:/i.test(url) && src) {
      // A blocked frame shows an error page: name what it was meant to load.
      try {
        url = new URL(src, page.url()).href;
      } catch {
        /* keep the frame's own URL */
      }
    }
    if (!req.policy.credentialsAllowed(url)) {
      ilog.warn({ origin: originOf(url) }, 'auto-login: the sign-in form is off the sign-in origin policy; nothing typed');
      return { kind: 'manual', reason: req.policy.refusal(url), url: req.loginUrl };
    }
    ilog.info({ frame: safeUrl(url) }, 'auto-login: running the sign-in recipe');
    // SECURITY: the script holds the password; it is passed straight to the browser, never logged.
    const result = asRecipeResult(
      await frame.evaluate(buildRecipeScript(req.recipe, req.credentials, { origin: new URL(url).origin, waitMs: formWait, pollMs: Math.min(250, pollMs) })),
    );
    ilog.info({ status: result.status, missing: result.missing }, 'auto-login: recipe result');
    if (result.status === 'submitted') return 'submitted';
    if (result.status !== 'error') return { kind: 'manual', reason: RECIPE_REASONS[result.status], url: req.loginUrl };
    ilog.warn({ err: result.message ? safeErrorText(result.message) : undefined }, 'auto-login: recipe error');
    return { kind: 'failed', reason: RECIPE_REASONS.error };
  }

  /**
   * Waits up to `formWait` for the recipe's frame element, or for a sign-in form (or a human
   * check) straight in the page, whichever shows first: a page variant without the frame does
   * not wait the frame out. Undefined when neither showed in time. (A frame wait that lost the
   * race ends at its timeout or when the browser closes.)
   */
  async function frameOrPageForm(page: Page, req: LoginRequest, formWait: number): Promise<FrameSearch> {
    let searching = true;
    const frameWait: Promise<FrameSearch> = page
      .waitForSelector(req.recipe.frame as string, { state: 'attached', timeout: formWait })
      .then((frame) => (frame ? { frame } : undefined), () => undefined);
    const inPage = (async (): Promise<FrameSearch> => {
      while (searching && !page.isClosed()) {
        const facts = await inspect(page.mainFrame(), req);
        const kind = facts ? classifyPage(facts) : 'unknown';
        if (searching && (kind === 'form' || kind === 'captcha')) return { page: kind };
        await new Promise((r) => setTimeout(r, Math.min(250, pollMs)));
      }
      return undefined;
    })();
    try {
      return await Promise.race([frameWait, inPage.then((f) => f ?? frameWait)]);
    } finally {
      searching = false;
    }
  }

  /**
   * Looks at every frame of the page every `pollMs` until the attempt ends. A human check anywhere
   * (before or after the submit) hands over to a person; after the submit, a visible error is a
   * refused password and a page with no form, check or error for a few looks is an unknown step.
   */
  async function watchPage(
    page: Page,
    req: LoginRequest,
    left: () => number,
    ilog: Logger,
    submitted: () => boolean,
    over: () => boolean,
  ): Promise<LoginOutcome | undefined> {
    const judge = pageJudge();
    while (left() > 0 && !req.signal.aborted && !over()) {
      await new Promise((r) => setTimeout(r, pollMs));
      if (page.isClosed() || over()) return undefined;
      const seen = (await Promise.all(page.frames().map((f) => inspect(f, req)))).filter((f): f is PageFacts => !!f);
      const look = judge(seen, submitted());
      if (look === 'captcha') {
        ilog.info({ afterSubmit: submitted() }, 'auto-login: the page asks for a human check');
        return { kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl };
      }
      if (look === 'rejected') {
        ilog.info('auto-login: the sign-in page refused the credentials');
        return { kind: 'failed', reason: LOGIN_REASONS.rejected };
      }
      // A page with no form for a few looks in a row (2FA, organisation picker): a person must act.
      if (look === 'unknown-step') return { kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl };
    }
    return undefined;
  }

  async function inspect(frame: Frame, req: LoginRequest): Promise<PageFacts | undefined> {
    try {
      return asPageFacts(await frame.evaluate(buildInspectScript(req.recipe)));
    } catch {
      // Navigating or detached: no verdict this time.
      return undefined;
    }
  }

  return {
    name: 'playwright',
    executablePath,
    login,
    async clear(instance: string) {
      if (nameProblem(instance)) return;
      await removeTreeAsync(profilesDir, instance);
    },
  };
}

/**
 * SECURITY: the desktop `LoginDriver`. One hidden, sandboxed window per sign-in, without preload,
 * on its own persistent partition (`persist:login-<instance>`, cleared on logout). Where the
 * window may go and where the password may be typed is the request's `SignInPolicy` (core's one
 * origin policy, `core/sign-in-policy.ts`): main-frame navigation off it is
 * blocked and hands the sign-in to a person; the recipe runs only in a frame it allows.
 * Downloads and permissions are denied; certificate errors are never overridden (global guard).
 *
 * The controller (`WindowLoginDriver`) holds every decision and works over a small `LoginPage`
 * port; `electronLoginPageFactory` (`login-page.ts`) adapts a real BrowserWindow to it. The steps
 * shared with the headless driver are in `core/backends/lingma/login/driver-steps.ts`.
 * Flow: load the login URL → run the recipe script in the sign-in frame → success when the main
 * frame reaches the callback URL or `isLoggedIn()` says so. A captcha, a verification step or an
 * unknown page (looked for during the whole attempt, before and after the submit) shows the window
 * with a short banner and tells the coordinator at once (`needsPerson`); the person finishes and
 * success is detected the same way. Passwords live only inside the recipe script, never logged.
 */
import type { BrowserWindow as BrowserWindowT, Session } from 'electron';
import { isSafeName } from '../core/names';
import type { LoginDriver, LoginOutcome, LoginRequest } from '../core/ports';
import { buildInspectScript, buildRecipeScript, LOGIN_REASONS, type PageFacts, type RecipeResult } from '../core/backends/lingma/login/recipe';
import { asPageFacts, asRecipeResult, judgeCallbackFailure, pageJudge, pollLoggedIn, preflight, RECIPE_REASONS } from '../core/backends/lingma/login/driver-steps';
import type { LoginDriverLimits } from '../core/backends/lingma/login/attempt';
import { safeOrigin, type Log } from './security';

export interface LoginFrame {
  readonly url: string;
  /** True once the frame left the frame tree (its page was replaced). */
  readonly detached?: boolean;
  executeJavaScript(code: string): Promise<unknown>;
}

export interface NavigationAttempt {
  url: string;
  isMainFrame: boolean;
  /** Blocks the navigation. */
  prevent(): void;
}

/** What the controller needs from a window. */
export interface LoginPage {
  onNavigate(listener: (nav: NavigationAttempt) => void): void;
  /** The main frame committed a navigation to `url` with this HTTP status (the response arrived). */
  onNavigated(listener: (url: string, httpStatus: number) => void): void;
  /** The main frame failed to load `url` (not an abort). */
  onLoadFailed(listener: (url: string) => void): void;
  /** The person closed the window. */
  onClosed(listener: () => void): void;
  /** Resolves when the first page loaded; rejects when it cannot be loaded at all. */
  load(url: string): Promise<void>;
  mainFrame(): LoginFrame | undefined;
  /** Every frame, main frame included. */
  frames(): LoginFrame[];
  /** Shows the window with a one-line explanation on top of the page. */
  showWithBanner(message: string): void;
  destroy(): void;
}

export type LoginPageFactory = (opts: { instance: string; partition: string }) => LoginPage;

export interface WindowLoginDriverOptions {
  createPage: LoginPageFactory;
  /** Forgets cookies and storage of a partition. */
  clearPartition(partition: string): Promise<void>;
  log?: Log;
  /**
   * Bound of a whole sign-in that needed a person (from opening the window to the end), at least
   * the request's `timeoutMs`. Default 10 minutes. Declared to the coordinator as `maxLoginMs`.
   */
  manualTimeoutMs?: number;
  /** How long to look for the sign-in form (frame and fields). Default 20 s. */
  formWaitMs?: number;
  /** Pause between two looks at the page. Default 500 ms. */
  pollMs?: number;
  /** After submitting: how long the form may stay up with no verdict before asking a person. Default 20 s. */
  submitSettleMs?: number;
}

/** The banner shown on top of the sign-in page when a person must act. */
export const BANNERS = {
  captcha: 'Lingma Relay needs you: please complete the security check to finish signing in.',
  unknownPage: 'Lingma Relay needs you: this sign-in page was not recognised. Please sign in here.',
  afterSubmit: 'Lingma Relay needs you: sign-in did not finish by itself. Please complete it in this window.',
  scriptError: 'Lingma Relay needs you: automatic sign-in failed. Please sign in here.',
  offPolicy: 'Lingma Relay stopped: this page is not an official sign-in page, so your password was not typed. Sign in only if you trust it.',
} as const;

/**
 * `persist:login-<instance>` (Electron keeps it as a folder under `Partitions/`). SECURITY: names
 * follow the name rule (`core/names.ts`) before they get here; anything else is hex-encoded, so it
 * can neither leave that folder nor share another account's cookies.
 */
export function partitionFor(instance: string): string {
  return `persist:login-${isSafeName(instance) ? instance : `~${Buffer.from(instance, 'utf8').toString('hex').slice(0, 128)}`}`;
}

/** Script (no secrets) that returns the `src` of the recipe's iframe in the main frame, or null. */
export function frameSrcScript(selector: string): string {
  return `(function(){try{var f=document.querySelector(${JSON.stringify(selector)});return f&&f.src?String(f.src):null}catch(e){return null}})()`;
}

function sameDocument(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.origin === y.origin && x.pathname === y.pathname;
  } catch {
    return false;
  }
}

class Finished extends Error {}

/** The banner and the log note when a recipe that did not submit hands over to a person. */
const RECIPE_STOPS: Record<keyof typeof RECIPE_REASONS, [banner: string, why: string]> = {
  captcha: [BANNERS.captcha, 'captcha'],
  form_not_found: [BANNERS.unknownPage, 'sign-in form not found'],
  off_policy: [BANNERS.offPolicy, 'form left the origin policy'],
  error: [BANNERS.scriptError, 'recipe error'],
};

export class WindowLoginDriver implements LoginDriver, LoginDriverLimits {
  readonly name = 'electron-window';
  /** Tells the login coordinator that a sign-in may wait this long for a person in the window. */
  readonly maxLoginMs: number;
  private readonly active = new Map<string, { promise: Promise<LoginOutcome>; cancel: () => void }>();

  constructor(private readonly opts: WindowLoginDriverOptions) {
    this.maxLoginMs = opts.manualTimeoutMs ?? 600_000;
  }

  /** A second call for an instance already signing in joins the first. */
  login(req: LoginRequest): Promise<LoginOutcome> {
    const running = this.active.get(req.instance);
    if (running) return running.promise;
    let cancel: () => void = () => undefined;
    const promise = new Promise<LoginOutcome>((resolve) => {
      cancel = this.run(req, resolve);
    }).finally(() => {
      if (this.active.get(req.instance)?.promise === promise) this.active.delete(req.instance);
    });
    this.active.set(req.instance, { promise, cancel });
    return promise;
  }

  /** Logout: stop any sign-in of the instance and forget its browser state. */
  async clear(instance: string): Promise<void> {
    this.active.get(instance)?.cancel();
    await this.opts.clearPartition(partitionFor(instance));
  }

  /** Is a sign-in window open for this instance? */
  busy(instance: string): boolean {
    return this.active.has(instance);
  }

  /** Runs one sign-in; returns a cancel function. */
  private run(req: LoginRequest, resolve: (o: LoginOutcome) => void): () => void {
    const log = this.opts.log;
    const policy = req.policy;
    const refused = preflight(req);
    if (refused) {
      resolve(refused);
      return () => undefined;
    }

    const startedAt = Date.now();
    const manualUntil = startedAt + Math.max(req.timeoutMs, this.maxLoginMs);
    const formWaitMs = this.opts.formWaitMs ?? 20_000;
    const pollMs = this.opts.pollMs ?? 500;
    const submitSettleMs = this.opts.submitSettleMs ?? 20_000;

    let phase: 'auto' | 'manual' = 'auto';
    let done = false;
    let deadline: NodeJS.Timeout | undefined;
    let stopPoll: (() => void) | undefined;
    const sleepers = new Set<() => void>();

    const page = this.opts.createPage({ instance: req.instance, partition: partitionFor(req.instance) });
    const tag = `login window for ${req.instance}`;

    const finish = (o: LoginOutcome) => {
      if (done) return;
      done = true;
      if (deadline) clearTimeout(deadline);
      stopPoll?.();
      req.signal.removeEventListener('abort', onAbort);
      for (const wake of sleepers) wake();
      try {
        page.destroy();
      } catch {
        /* already gone */
      }
      log?.('info', `${tag}: ${o.kind}${o.kind === 'success' ? '' : ` (${o.reason})`}`);
      resolve(o);
    };
    const setDeadline = (ms: number, reason: string) => {
      if (deadline) clearTimeout(deadline);
      deadline = setTimeout(() => finish({ kind: 'failed', reason }), ms);
    };
    const onAbort = () => finish({ kind: 'failed', reason: LOGIN_REASONS.cancelled });

    /** Sleeps; throws Finished when the sign-in ended meanwhile (stops the automation). */
    const sleep = (ms: number) =>
      new Promise<void>((res, rej) => {
        const wake = () => {
          clearTimeout(t);
          sleepers.delete(wake);
          if (done || phase !== 'auto') rej(new Finished());
          else res();
        };
        const t = setTimeout(wake, ms);
        sleepers.add(wake);
      });
    const alive = () => {
      if (done || phase !== 'auto') throw new Finished();
    };

    /**
     * Hands over to a person: show the window with a banner, tell the coordinator at once (the
     * account shows "needs a person"), and wait (longer) for completion.
     */
    const goManual = (banner: string, why: string, reason: string) => {
      if (done || phase === 'manual') return;
      phase = 'manual';
      for (const wake of sleepers) wake();
      log?.('info', `${tag}: a person must finish the sign-in (${why})`);
      try {
        req.needsPerson?.(reason);
      } catch {
        /* the coordinator's bookkeeping must not stop the window */
      }
      setDeadline(Math.max(0, manualUntil - Date.now()), LOGIN_REASONS.timeout);
      try {
        page.showWithBanner(banner);
      } catch {
        finish({ kind: 'failed', reason: 'The sign-in window could not be shown.' });
      }
    };

    const run = async (frame: LoginFrame | undefined, code: string): Promise<unknown> => {
      if (!frame || frame.detached) return undefined;
      try {
        return await frame.executeJavaScript(code);
      } catch {
        return undefined; // navigating or detached: no answer this time
      }
    };

    /** The frame holding the form: the recipe's iframe (matched by its src), or the main frame. */
    const findFormFrame = async (): Promise<LoginFrame | undefined> => {
      const main = page.mainFrame();
      if (!main || !req.recipe.frame) return main;
      const src = await run(main, frameSrcScript(req.recipe.frame));
      if (typeof src !== 'string' || !src) return undefined;
      const frames = page.frames().filter((f) => f !== main && !f.detached);
      return frames.find((f) => f.url === src) ?? frames.find((f) => sameDocument(f.url, src));
    };

    const inspect = async (frame: LoginFrame | undefined): Promise<PageFacts | undefined> => asPageFacts(await run(frame, buildInspectScript(req.recipe)));
    /** What every frame shows (no secrets in the inspection script). */
    const inspectAll = async (): Promise<PageFacts[]> => {
      const frames = page.frames().filter((f) => !f.detached);
      const all = await Promise.all((frames.length ? frames : [page.mainFrame()]).map((f) => inspect(f)));
      return all.filter((f): f is PageFacts => !!f);
    };
    const captchaReason = LOGIN_REASONS.captcha;
    const judge = pageJudge();

    const drive = async (): Promise<void> => {
      // 1. Find the sign-in frame (pages redirect and build their iframes late).
      const until = Date.now() + formWaitMs;
      let frame: LoginFrame | undefined;
      for (;;) {
        alive();
        // A human check may come before any form (a verification page first).
        if (judge(await inspectAll(), false) === 'captcha') return goManual(BANNERS.captcha, 'captcha before the form', captchaReason);
        alive();
        frame = await findFormFrame();
        if (frame) break;
        if (Date.now() >= until) return goManual(BANNERS.unknownPage, 'sign-in frame not found', LOGIN_REASONS.unknownPage);
        await sleep(pollMs);
      }
      alive();
      // 2. Fill and submit. SECURITY: the script carries the password; it goes only to a frame the
      // policy allows (and re-checks its origin in the page) and is never logged.
      if (!policy.credentialsAllowed(frame.url)) {
        log?.('warn', `${tag}: the sign-in form is on ${safeOrigin(frame.url)}, off the sign-in origin policy; nothing typed`);
        return goManual(BANNERS.offPolicy, 'form off the origin policy', policy.refusal(frame.url));
      }
      const left = Math.max(1000, until - Date.now());
      const origin = new URL(frame.url).origin;
      const raw = await run(frame, buildRecipeScript(req.recipe, req.credentials, { origin, waitMs: left, pollMs: Math.min(250, pollMs) }));
      alive();
      const result: RecipeResult = asRecipeResult(raw);
      log?.('info', `${tag}: recipe ${result.status}${result.missing?.length ? ` (missing ${result.missing.join(', ')})` : ''}`);
      if (result.status !== 'submitted') {
        const [banner, why] = RECIPE_STOPS[result.status];
        return goManual(banner, why, RECIPE_REASONS[result.status]);
      }

      // 3. Submitted: watch for a verdict; the callback/isLoggedIn watchers decide success.
      const settleUntil = Date.now() + submitSettleMs;
      for (;;) {
        await sleep(pollMs);
        // Every frame: a verification page may replace the form's frame or the whole page.
        const look = judge(await inspectAll(), true);
        alive();
        if (look === 'captcha') return goManual(BANNERS.captcha, 'captcha after submitting', captchaReason);
        if (look === 'rejected') return finish({ kind: 'failed', reason: LOGIN_REASONS.rejected });
        // A second step (2FA, organisation picker) shows an unknown page for a while.
        if (look === 'unknown-step') return goManual(BANNERS.unknownPage, 'unknown page after submitting', LOGIN_REASONS.unknownPage);
        if (look === 'form' && Date.now() >= settleUntil) return goManual(BANNERS.afterSubmit, 'form still showing after submitting', LOGIN_REASONS.unknownPage);
      }
    };

    page.onNavigate((nav) => {
      if (done) return;
      if (!nav.isMainFrame) {
        if (!policy.subframeAllowed(nav.url)) {
          nav.prevent();
          log?.('warn', `${tag}: blocked a frame navigation to ${safeOrigin(nav.url)}`);
        }
        return;
      }
      if (policy.navigation(nav.url) === 'deny') {
        nav.prevent();
        log?.('warn', `${tag}: blocked navigation to ${safeOrigin(nav.url)}`);
        // SECURITY: off the policy the automation stops; a person decides.
        goManual(BANNERS.offPolicy, 'navigation off the origin policy', policy.refusal(nav.url));
      }
      // `callback` is let through: the backend must receive it; success is taken on commit.
    });
    page.onNavigated((url, status) => {
      if (done || policy.navigation(url) !== 'callback') return;
      finish(status > 0 && status < 400 ? { kind: 'success' } : { kind: 'failed', reason: LOGIN_REASONS.callbackRejected });
    });
    page.onLoadFailed((url) => {
      if (done || policy.navigation(url) !== 'callback') return;
      // Lingma closes the callback page on purpose once it took the sign-in: ask before failing.
      void judgeCallbackFailure(() => req.isLoggedIn()).then((verdict) => {
        if (done) return;
        finish(verdict === 'success' ? { kind: 'success' } : { kind: 'failed', reason: LOGIN_REASONS.callbackUnreachable });
      });
    });
    page.onClosed(() => {
      if (done) return;
      if (phase === 'manual') finish({ kind: 'manual', reason: 'The sign-in window was closed before the sign-in finished.', url: req.loginUrl });
      else finish({ kind: 'failed', reason: 'The sign-in window closed unexpectedly.' });
    });

    req.signal.addEventListener('abort', onAbort);
    setDeadline(req.timeoutMs, LOGIN_REASONS.timeout);
    stopPoll = pollLoggedIn(() => req.isLoggedIn(), pollMs, () => finish({ kind: 'success' }));

    log?.('info', `${tag}: opening ${safeOrigin(req.loginUrl)}`);
    page
      .load(req.loginUrl)
      .then(() => drive())
      .catch((e: unknown) => {
        if (e instanceof Finished || done) return;
        if (e instanceof PageLoadError) finish({ kind: 'failed', reason: 'The sign-in page could not be loaded.' });
        else goManual(BANNERS.scriptError, 'automation error', LOGIN_REASONS.scriptError);
      });
    return () => finish({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
  }
}

/** The first page could not be loaded at all (offline, DNS...). */
export class PageLoadError extends Error {
  constructor() {
    super('sign-in page failed to load');
    this.name = 'PageLoadError';
  }
}

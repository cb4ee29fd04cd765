/**
 * The auto-login recipe runner: browser-side code that signs in on the login page's form, driven
 * by a `LoginRecipe` (selectors as data). The same scripts run in both hosts: the headless driver
 * evaluates them in a Playwright frame, the desktop shell in a hidden window's frame
 * (`webFrameMain.executeJavaScript`).
 *
 * The browser-side functions are self-contained (no closures over Node values) because they are
 * shipped as source text. Core has no DOM types, so they are written against the small structural
 * interfaces below.
 *
 * SECURITY: the script built by `buildRecipeScript` embeds the password. Never log it, never put it
 * in an error message, never keep it after use.
 */
import type { LoginCredentials, LoginRecipe } from '../../../ports';

/** What the recipe runner reports back. Never contains credentials. */
export interface RecipeResult {
  /** `off_policy`: the document is not on the origin the driver approved; nothing was typed. */
  status: 'submitted' | 'captcha' | 'form_not_found' | 'error' | 'off_policy';
  /** Which recipe parts were not found (`username`, `password`, `submit`, `frame`). */
  missing?: string[];
  message?: string;
}

/** What the page inspector sees (after submit, or to explain a failure). */
export interface PageFacts {
  captcha: boolean;
  form: boolean;
  /** Text of a visible sign-in error message, truncated. */
  error?: string;
  title?: string;
}

export type PageKind = 'form' | 'captcha' | 'rejected' | 'unknown';

/**
 * Selectors of the error message a sign-in page shows for a refused password. Not part of the
 * configurable recipe (the contract fixes its shape); these cover the Alibaba sign-in pages and
 * common ARIA practice.
 */
export const ERROR_MARKERS = ['.login-error', '.fm-error', '.error-msg', '.login-error-msg', '[role="alert"]'];

/**
 * Client-safe reasons shared by the drivers (headless and desktop) and the coordinator. The
 * coordinator never retries `rejected` (a wrong password retried can lock the account) and never
 * retries any `manual` outcome.
 */
export const LOGIN_REASONS = {
  rejected: 'The sign-in page did not accept the user name or password.',
  captcha: 'The sign-in page asks for a human check (captcha, slider, SMS or verification). Finish the login by hand.',
  offPolicy: 'The sign-in form is not on an official sign-in origin; the password was not typed. Finish the login by hand.',
  loginUrlOffPolicy:
    "Lingma's login link is not on an official sign-in origin (or one listed in lingma.login.allowedOrigins); it was not opened automatically. Open it by hand only if you trust it.",
  expired: 'The login expired; signing in again.',
  expiredAgain: 'The login expired again after an automatic re-login. Log in by hand.',
  unknownPage: 'The sign-in page did not look as expected (no sign-in form found). Finish the login by hand.',
  timeout: 'The login did not finish in time.',
  noBrowser:
    'No Chromium-family browser was found for automatic login. Install Chromium, Google Chrome or Microsoft Edge, ' +
    'or set lingma.login.browser to its path; or log in by hand.',
  noPassword: 'No password is stored for this account. Log in by hand or add the password.',
  noAccount: 'No account is set up for this instance. Sign in by hand with the link, or add an account with its password under Accounts.',
  autoOff: 'Automatic login is turned off. Log in by hand.',
  scriptError: 'The sign-in script failed on the login page.',
  callbackRejected: 'The Lingma process refused the login callback.',
  callbackUnreachable: 'The browser could not reach the Lingma process to finish the login.',
  notLoggedIn: 'The browser finished but the account still reports logged out.',
  cancelled: 'The login was cancelled.',
} as const;

// ---- minimal DOM shapes (core is compiled without the DOM lib) ----
interface DomRect {
  width: number;
  height: number;
}
interface DomElement {
  click(): void;
  focus(): void;
  blur(): void;
  dispatchEvent(ev: unknown): boolean;
  getClientRects(): { length: number };
  getBoundingClientRect(): DomRect;
  textContent: string | null;
  tagName: string;
  disabled?: boolean;
}
interface DomDocument {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): ArrayLike<DomElement>;
  readyState: string;
  title: string;
}
interface DomWindow {
  HTMLInputElement: { prototype: object };
  HTMLTextAreaElement?: { prototype: object };
  Event: new (type: string, init?: { bubbles?: boolean; cancelable?: boolean }) => unknown;
  getComputedStyle(el: DomElement): { visibility: string; display: string };
  setTimeout(fn: () => void, ms: number): unknown;
  location: { origin: string };
}

export interface RecipeArgs {
  recipe: Pick<LoginRecipe, 'username' | 'password' | 'submit' | 'captcha' | 'before'>;
  username: string;
  password: string;
  /** How long to wait for the form (or a captcha) to appear. */
  waitMs: number;
  pollMs: number;
  /**
   * SECURITY: the origin the driver approved for this document (`SignInPolicy`). The runner types
   * nothing anywhere else, so a frame that navigated between the check and the run gets nothing.
   */
  origin: string;
}

/**
 * Browser side: fill and submit the sign-in form. Runs inside the document that holds the form
 * (the frame's document when the recipe names a frame).
 */
export async function runRecipeInPage(doc: DomDocument, win: DomWindow, args: RecipeArgs): Promise<RecipeResult> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => void win.setTimeout(r, ms));
  const visible = (el: DomElement | null): boolean => {
    if (!el || el.getClientRects().length === 0) return false;
    const st = win.getComputedStyle(el);
    return st.visibility !== 'hidden' && st.display !== 'none';
  };
  const find = (selector: string): DomElement | null => {
    // A selector list may match hidden copies (templates, other tabs) first: prefer a visible one.
    const all = doc.querySelectorAll(selector);
    for (let i = 0; i < all.length; i++) if (visible(all[i])) return all[i];
    return null;
  };
  const captchaShowing = (): boolean => args.recipe.captcha.some((s) => find(s) !== null);
  // Set a value the way typing does, so frameworks that track values (React's value tracker)
  // see the change: the prototype's native setter, then input and change events.
  const type = (el: DomElement, value: string): void => {
    const proto = el.tagName === 'TEXTAREA' && win.HTMLTextAreaElement ? win.HTMLTextAreaElement.prototype : win.HTMLInputElement.prototype;
    const desc = Object.getOwnPropertyDescriptor(proto, 'value');
    el.focus();
    if (desc && desc.set) desc.set.call(el, value);
    else (el as unknown as { value: string }).value = value;
    el.dispatchEvent(new win.Event('input', { bubbles: true }));
    el.dispatchEvent(new win.Event('change', { bubbles: true }));
    el.blur();
  };

  const onOrigin = (): boolean => win.location.origin === args.origin;

  try {
    if (!onOrigin()) return { status: 'off_policy' };
    const deadline = Date.now() + args.waitMs;
    const clicked: Record<string, boolean> = {};
    let user: DomElement | null = null;
    let pass: DomElement | null = null;
    for (;;) {
      if (captchaShowing()) return { status: 'captcha' };
      for (const sel of args.recipe.before ?? []) {
        if (clicked[sel]) continue;
        const el = find(sel);
        if (el) {
          el.click();
          clicked[sel] = true;
        }
      }
      user = find(args.recipe.username);
      pass = find(args.recipe.password);
      if (user && pass) break;
      if (!onOrigin()) return { status: 'off_policy' };
      if (Date.now() >= deadline) {
        const missing: string[] = [];
        if (!user) missing.push('username');
        if (!pass) missing.push('password');
        return { status: 'form_not_found', missing };
      }
      await sleep(args.pollMs);
    }
    if (!onOrigin()) return { status: 'off_policy' };
    type(user, args.username);
    type(pass, args.password);
    // A captcha may appear once the fields are filled (risk checks on input).
    await sleep(Math.min(200, args.pollMs));
    if (captchaShowing()) return { status: 'captcha' };
    let submit = find(args.recipe.submit);
    const submitDeadline = Date.now() + Math.min(5000, Math.max(args.waitMs, 0));
    while (!submit || submit.disabled) {
      if (Date.now() >= submitDeadline) return { status: 'form_not_found', missing: ['submit'] };
      await sleep(args.pollMs);
      submit = find(args.recipe.submit);
    }
    submit.click();
    return { status: 'submitted' };
  } catch (e) {
    // Only the error's own text (a DOM error names a selector at most); the password is never in it.
    return { status: 'error', message: e instanceof Error ? e.message.slice(0, 200) : 'script error' };
  }
}

/** Browser side: what the sign-in document shows right now. */
export function inspectPage(
  doc: DomDocument,
  win: DomWindow,
  args: { recipe: Pick<LoginRecipe, 'username' | 'password' | 'captcha'>; errorMarkers: string[] },
): PageFacts {
  const visible = (el: DomElement | null): boolean => {
    if (!el || el.getClientRects().length === 0) return false;
    const st = win.getComputedStyle(el);
    return st.visibility !== 'hidden' && st.display !== 'none';
  };
  const anyVisible = (selector: string): DomElement | null => {
    try {
      const all = doc.querySelectorAll(selector);
      for (let i = 0; i < all.length; i++) if (visible(all[i])) return all[i];
    } catch {
      // A bad selector in settings must not break the inspection.
    }
    return null;
  };
  let error: string | undefined;
  for (const sel of args.errorMarkers) {
    const el = anyVisible(sel);
    const text = el && el.textContent ? el.textContent.replace(/\s+/g, ' ').trim() : '';
    if (text) {
      error = text.slice(0, 160);
      break;
    }
  }
  return {
    captcha: args.recipe.captcha.some((s) => anyVisible(s) !== null),
    form: anyVisible(args.recipe.username) !== null && anyVisible(args.recipe.password) !== null,
    error,
    title: (doc.title || '').slice(0, 120),
  };
}

/**
 * Pure: what a page is, from its facts. A captcha wins (a person must act); a visible error
 * message means the credentials were refused; a form without error is still the sign-in form.
 */
export function classifyPage(facts: PageFacts): PageKind {
  if (facts.captcha) return 'captcha';
  if (facts.error) return 'rejected';
  if (facts.form) return 'form';
  return 'unknown';
}

// esbuild with keepNames (tsx) wraps inner functions in `__name(...)`, a helper that does not
// exist in the page; the shim makes the shipped source independent of how it was compiled.
const NAME_SHIM = 'var __name = function (f) { return f; };';

function embed(fn: (...a: never[]) => unknown, args: unknown): string {
  return `(function () { ${NAME_SHIM} return (${fn.toString()})(document, window, ${JSON.stringify(args)}); })()`;
}

export interface RecipeScriptOptions {
  /** SECURITY: the origin the policy approved for the document the script runs in (`new URL(frameUrl).origin`). */
  origin: string;
  /** Wait this long for the form to appear. Default 15 s. */
  waitMs?: number;
  pollMs?: number;
}

/**
 * A JS expression that signs in when evaluated in the form's document and evaluates to a
 * `Promise<RecipeResult>`.
 * SECURITY: the string contains the password: do not log it or keep it.
 */
export function buildRecipeScript(recipe: LoginRecipe, credentials: LoginCredentials, opts: RecipeScriptOptions): string {
  validateRecipe(recipe);
  if (!opts || typeof opts.origin !== 'string' || !/^https?:\/\/[^/]+$/.test(opts.origin)) throw new Error('buildRecipeScript: the approved origin is required');
  const args: RecipeArgs = {
    recipe: { username: recipe.username, password: recipe.password, submit: recipe.submit, captcha: recipe.captcha, before: recipe.before },
    username: credentials.username,
    password: credentials.password,
    waitMs: opts.waitMs ?? 15000,
    pollMs: opts.pollMs ?? 250,
    origin: opts.origin,
  };
  return embed(runRecipeInPage as (...a: never[]) => unknown, args);
}

/** A JS expression evaluating to the `PageFacts` of the document it runs in. */
export function buildInspectScript(recipe: LoginRecipe, errorMarkers: string[] = ERROR_MARKERS): string {
  return embed(inspectPage as (...a: never[]) => unknown, {
    recipe: { username: recipe.username, password: recipe.password, captcha: recipe.captcha },
    errorMarkers,
  });
}

/** Throws a clear error naming the bad field of a recipe from settings. */
export function validateRecipe(recipe: LoginRecipe): void {
  const need = (v: unknown, name: string): void => {
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`lingma.login.recipe.${name} must be a non-empty CSS selector`);
  };
  need(recipe.username, 'username');
  need(recipe.password, 'password');
  need(recipe.submit, 'submit');
  if (recipe.frame !== undefined) need(recipe.frame, 'frame');
  if (!Array.isArray(recipe.captcha)) throw new Error('lingma.login.recipe.captcha must be a list of CSS selectors');
  recipe.captcha.forEach((s, i) => need(s, `captcha[${i}]`));
  (recipe.before ?? []).forEach((s, i) => need(s, `before[${i}]`));
}

/**
 * Origin + path of a URL, for logs: login URLs and callbacks carry nonces, states and tokens in
 * their query strings. SECURITY: never log a full login URL.
 */
export function safeUrl(u: string): string {
  try {
    const url = new URL(u);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

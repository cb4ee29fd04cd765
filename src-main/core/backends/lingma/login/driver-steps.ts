/**
 * The steps both login drivers take the same way, written once so they cannot drift: the desktop
 * window (`electron/login-window.ts`) and the headless browser (`cli/playwright-login.ts`) differ
 * only in how they reach a page. Here: the checks before any browser opens, the `isLoggedIn`
 * poll, what a recipe result means, and what one look at every frame of the page means.
 * Plain Node (no browser, no electron).
 */
import type { LoginOutcome, LoginRequest } from '../../../ports';
import { LOGIN_REASONS, validateRecipe, type PageFacts, type RecipeResult } from './recipe';

/**
 * Before a browser opens: a broken recipe fails, a cancelled request is cancelled, and a login URL
 * off the sign-in policy goes to a person. Undefined when the sign-in may start.
 */
export function preflight(req: LoginRequest): LoginOutcome | undefined {
  try {
    validateRecipe(req.recipe);
  } catch (e) {
    return { kind: 'failed', reason: (e as Error).message };
  }
  if (req.signal.aborted) return { kind: 'failed', reason: LOGIN_REASONS.cancelled };
  // SECURITY: the login URL from the runtime is held to the policy like any page: its origin is
  // not trusted because the runtime returned it (the endpoint can be switched).
  if (req.policy.navigation(req.loginUrl) !== 'allow') return { kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy, url: req.loginUrl };
  return undefined;
}

/**
 * The callback page did not load. Lingma takes the sign-in and then closes that page on purpose,
 * and a driver closes its browser once the sign-in succeeded, so a failed callback load alone is
 * no failure: the instance is asked first. `success` when it reports logged in (nothing to warn
 * about), else `unreachable` (a real failure, warned and reported).
 */
export async function judgeCallbackFailure(isLoggedIn: () => Promise<boolean>): Promise<'success' | 'unreachable'> {
  try {
    return (await isLoggedIn()) ? 'success' : 'unreachable';
  } catch {
    return 'unreachable';
  }
}

/**
 * Asks `isLoggedIn` every `max(200, 2 × pollMs)` ms, one question at a time, and calls
 * `onLoggedIn` on a yes. Returns the stop function.
 */
export function pollLoggedIn(isLoggedIn: () => Promise<boolean>, pollMs: number, onLoggedIn: () => void): () => void {
  let polling = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (polling || stopped) return;
    polling = true;
    isLoggedIn()
      .then((ok) => {
        if (ok && !stopped) onLoggedIn();
      })
      .catch(() => undefined)
      .finally(() => {
        polling = false;
      });
  }, Math.max(200, pollMs * 2));
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** What the recipe script answered; anything else counts as a recipe error. */
export function asRecipeResult(v: unknown): RecipeResult {
  const s = (v as { status?: unknown } | null)?.status;
  if (s === 'submitted' || s === 'captcha' || s === 'form_not_found' || s === 'error' || s === 'off_policy') return v as RecipeResult;
  return { status: 'error', message: 'no answer from the sign-in frame' };
}

/** What the inspection script answered, or undefined (navigating, detached, not our script). */
export function asPageFacts(v: unknown): PageFacts | undefined {
  return !!v && typeof v === 'object' && typeof (v as PageFacts).captcha === 'boolean' && typeof (v as PageFacts).form === 'boolean' ? (v as PageFacts) : undefined;
}

/** Why a recipe that did not submit stopped (the client-safe reason both drivers report). */
export const RECIPE_REASONS: Record<Exclude<RecipeResult['status'], 'submitted'>, string> = {
  captcha: LOGIN_REASONS.captcha,
  form_not_found: LOGIN_REASONS.unknownPage,
  off_policy: LOGIN_REASONS.offPolicy,
  error: LOGIN_REASONS.scriptError,
};

/** Looks in a row with no form, no check and no error after the submit before it is an unknown step. */
export const UNKNOWN_STEP_LOOKS = 6;

/**
 * What one look at every frame says: `captcha` (a human check, before or after the submit),
 * `rejected` (a visible sign-in error after the submit), `unknown-step` (after the submit, no form
 * for `UNKNOWN_STEP_LOOKS` looks in a row: 2FA, an organisation picker), `form` (after the submit,
 * the form still shows), else `wait` (navigating, or nothing decided yet).
 */
export type PageLook = 'captcha' | 'rejected' | 'unknown-step' | 'form' | 'wait';

/** A judge of successive looks at one sign-in (it counts the looks with no form). */
export function pageJudge(): (seen: PageFacts[], submitted: boolean) => PageLook {
  let unknownStreak = 0;
  return (seen, submitted) => {
    if (!seen.length) return 'wait';
    if (seen.some((f) => f.captcha)) return 'captcha';
    if (!submitted) return 'wait';
    if (seen.some((f) => f.error)) return 'rejected';
    if (seen.some((f) => f.form)) {
      unknownStreak = 0;
      return 'form';
    }
    unknownStreak++;
    return unknownStreak >= UNKNOWN_STEP_LOOKS ? 'unknown-step' : 'wait';
  };
}

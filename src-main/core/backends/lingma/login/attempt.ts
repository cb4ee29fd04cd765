/**
 * One login attempt: a `LoginDriver` run with its request (credentials, recipe, the sign-in origin
 * policy), bounded by the timeout, ended early when the instance reports logged in, and always
 * wound down (the driver is aborted and given a moment to close its browser).
 */
import type { Logger } from 'pino';
import { safeErrorText } from '../../../redact';
import type { Clock, LoginCredentials, LoginDriver, LoginOutcome, LoginRecipe, SignInPolicy, TimerHandle } from '../../../ports';
import type { LoginTarget } from './types';
import { LOGIN_REASONS } from './recipe';

/**
 * A driver that may hand the sign-in to a person inside its own window (the desktop shell) says
 * how long one `login()` may take in all; the coordinator then does not cut it off at `timeoutMs`.
 */
export interface LoginDriverLimits {
  readonly maxLoginMs?: number;
}

export interface AttemptOptions {
  driver: LoginDriver;
  target: Pick<LoginTarget, 'instance' | 'callbackUrl' | 'isLoggedIn'>;
  credentials: LoginCredentials;
  url: string;
  policy: SignInPolicy;
  /** The driver handed the sign-in to a person in its own window. */
  needsPerson: (reason: string) => void;
  /** The coordinator's cancel signal. */
  outer: AbortSignal;
  recipe: LoginRecipe;
  timeoutMs: number;
  pollMs: number;
  graceMs: number;
  clock: Clock;
  log: Logger;
}

/** One driver run, bounded by the timeout (or the driver's declared bound), ended early when `isLoggedIn` turns true. */
export async function runAttempt(o: AttemptOptions): Promise<LoginOutcome> {
const { driver, target, credentials, url, policy, needsPerson, outer, clock } = o;
  const ac = new AbortController();
  const onOuter = (): void => ac.abort();
  outer.addEventListener('abort', onOuter, { once: true });
  const timers: TimerHandle[] = [];
  let settled = false;
  let resolveWatch!: (o: LoginOutcome) => void;
  const watch = new Promise<LoginOutcome>((r) => (resolveWatch = r));
  const poll = (): void => {
    if (settled) return;
    target
      .isLoggedIn()
      .then((ok) => {
        if (ok) resolveWatch({ kind: 'success' });
      })
      .catch(() => undefined)
      .finally(() => {
        if (!settled) timers.push(clock.setTimeout(poll, o.pollMs));
      });
  };
  timers.push(clock.setTimeout(poll, o.pollMs));
  // The driver gets the timeout too; this guard covers a driver that ignores it. A driver that
  // waits for a person in its own window declares a longer bound.
  const declared = (driver as LoginDriver & LoginDriverLimits).maxLoginMs;
  const bound = Math.max(o.timeoutMs, typeof declared === 'number' && Number.isFinite(declared) ? declared : 0);
  timers.push(clock.setTimeout(() => resolveWatch({ kind: 'failed', reason: LOGIN_REASONS.timeout }), bound + o.graceMs));
  ac.signal.addEventListener('abort', () => resolveWatch({ kind: 'failed', reason: LOGIN_REASONS.cancelled }), { once: true });

  const run = Promise.resolve()
    .then(() =>
      driver.login({
        instance: target.instance,
        loginUrl: url,
        callbackUrl: target.callbackUrl,
        credentials,
        recipe: o.recipe,
        timeoutMs: o.timeoutMs,
        isLoggedIn: () => target.isLoggedIn(),
        signal: ac.signal,
        policy,
        needsPerson,
      }),
    )
    .catch((e: unknown): LoginOutcome => {
      o.log.warn({ instance: target.instance, err: safeErrorText(e) }, 'login: driver error');
      return { kind: 'failed', reason: 'The login browser failed.' };
    });
  try {
    return await Promise.race([run, watch]);
  } finally {
    settled = true;
    for (const t of timers) clock.clearTimeout(t);
    outer.removeEventListener('abort', onOuter);
    // Stop the driver if it is still going, and let it close its browser before anything else
    // starts (bounded, so a stuck driver cannot hold the instance forever).
    ac.abort();
    let guard: TimerHandle | undefined;
    await Promise.race([run, new Promise<void>((r) => (guard = clock.setTimeout(r, o.graceMs)))]);
    if (guard) clock.clearTimeout(guard);
  }
}

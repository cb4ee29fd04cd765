/**
 * Login coordinator: decides when and how an instance logs in, and keeps its login state. The
 * run itself is ./flow.ts, the manual-login watch ./watch.ts, the shapes ./types.ts.
 *
 * - At most one login per instance at a time: concurrent callers share one promise.
 * - Flow: `isLoggedIn` → `prepare()` (dedicated-domain endpoint switch) → `generateUrl()` → the
 *   `LoginDriver` → completion when the browser reaches the callback or `isLoggedIn()` turns true
 *   (polled here too, so any driver benefits), whichever comes first.
 * - A captcha, two-factor check or unknown page ends in `needs_manual` with the URL: never
 *   retried automatically, never a loop. Manual completion is then detected by polling
 *   `isLoggedIn()` in the background for a bounded time.
 * - Other failures are retried up to `maxRetries` with exponential backoff and jitter, then
 *   `failed` with a reason. A refused password is never retried (it can lock the account).
 * - The login URL from `generateUrl()` must pass the sign-in origin policy (`core/sign-in-policy.ts`)
 *   before any driver opens it; each driver gets the policy with the request and types the
 *   credentials only where it allows.
 * - `expired()` (login expiry seen by the instance) starts exactly one automatic re-login; a second
 *   expiry soon after hands the login to a person instead of looping.
 * - After a final failure, automatic attempts pause for a cool-down (or until the credentials
 *   change); `ensureLoggedIn(target, { force: true })` (the dashboard's "log in") always tries.
 *
 * SECURITY: states and reasons are client-safe: no passwords, no login URLs in reasons or logs.
 * The URL appears only in the `needs_manual` state, which the dashboard shows as a link; client
 * errors come from `loginStateError`, which never includes it.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { safeErrorText } from '../../../redact';
import { systemClock, type Clock, type LoginDriver, type LoginRecipe } from '../../../ports';
import type { LoginState } from '../../types';
import { runLogin, type FlowHost } from './flow';
import { LOGIN_REASONS, validateRecipe } from './recipe';
import {
  LOGGED_OUT,
  originsGetter,
  sameState,
  type EnsureLoginOptions,
  type Entry,
  type LoginCoordinatorEvents,
  type LoginCoordinatorOptions,
  type LoginTarget,
  type LoginTimings,
  type RunOptions,
} from './types';
import { stopWatch } from './watch';

export type { LoginDriverLimits } from './attempt';
export {
  loginStateError,
  type EnsureLoginOptions,
  type LoginCoordinatorEvents,
  type LoginCoordinatorOptions,
  type LoginTarget,
} from './types';

export class LoginCoordinator extends EventEmitter<LoginCoordinatorEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private driver?: LoginDriver;
  private recipe: LoginRecipe;
  private auto: boolean;
  private timeoutMs: number;
  private maxRetries: number;
  private allowedOrigins: () => readonly string[];
  private readonly o: LoginTimings;
  /** What a login run (./flow.ts) sees of this coordinator: settings read live. */
  private readonly host: FlowHost;

  constructor(opts: LoginCoordinatorOptions) {
    super();
    validateRecipe(opts.recipe);
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0) throw new Error('login timeoutMs must be a positive number');
    if (!Number.isInteger(opts.maxRetries) || opts.maxRetries < 0) throw new Error('login maxRetries must be a non-negative integer');
    this.driver = opts.driver;
    this.recipe = opts.recipe;
    this.auto = opts.auto;
    this.timeoutMs = opts.timeoutMs;
    this.maxRetries = opts.maxRetries;
    this.allowedOrigins = originsGetter(opts.allowedOrigins);
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.o = {
      pollMs: opts.pollMs ?? 1000,
      backoffMs: opts.backoffMs ?? 2000,
      manualWatchMs: opts.manualWatchMs ?? 15 * 60_000,
      manualPollMs: opts.manualPollMs ?? 3000,
      failedCooldownMs: opts.failedCooldownMs ?? 5 * 60_000,
      confirmMs: opts.confirmMs ?? 15_000,
      graceMs: opts.graceMs ?? 5000,
      expiryWindowMs: opts.expiryWindowMs ?? 10 * 60_000,
    };
    const self = this;
    this.host = {
      log: this.log,
      clock: this.clock,
      timings: this.o,
      get driver() {
        return self.driver;
      },
      get recipe() {
        return self.recipe;
      },
      get auto() {
        return self.auto;
      },
      get timeoutMs() {
        return self.timeoutMs;
      },
      get maxRetries() {
        return self.maxRetries;
      },
      allowedOrigins: () => this.allowedOrigins(),
      set: (instance, state) => this.set(instance, state),
      loggedIn: (instance) => this.loggedIn(instance),
    };
  }

  /** Apply changed settings (config reload). Running logins keep their settings. */
  configure(opts: Partial<Pick<LoginCoordinatorOptions, 'driver' | 'recipe' | 'auto' | 'timeoutMs' | 'maxRetries' | 'allowedOrigins'>>): void {
    if (opts.recipe) validateRecipe(opts.recipe);
    if ('driver' in opts) this.driver = opts.driver;
    if (opts.recipe) this.recipe = opts.recipe;
    if (opts.auto !== undefined) this.auto = opts.auto;
    if (opts.timeoutMs !== undefined) this.timeoutMs = opts.timeoutMs;
    if (opts.maxRetries !== undefined) this.maxRetries = opts.maxRetries;
    if (opts.allowedOrigins !== undefined) this.allowedOrigins = originsGetter(opts.allowedOrigins);
  }

  state(instance: string): LoginState {
    return this.entries.get(instance)?.state ?? LOGGED_OUT;
  }

  /** Is a login running for this instance? */
  busy(instance: string): boolean {
    return !!this.entries.get(instance)?.inflight;
  }

  /**
   * Make sure the instance is logged in. Resolves with the resulting state (never throws for a
   * login failure: the state says what happened). Concurrent callers share one attempt.
   */
  ensureLoggedIn(target: LoginTarget, opts: EnsureLoginOptions = {}): Promise<LoginState> {
    const entry = this.entry(target.instance);
    if (entry.inflight) return entry.inflight;
    return this.start(target, entry, opts);
  }

  private start(target: LoginTarget, entry: Entry, opts: RunOptions): Promise<LoginState> {
    const p = runLogin(this.host, target, entry, opts)
      .catch((e: unknown): LoginState => {
        // run() handles its own failures; this is a last resort that keeps callers safe.
        this.log.error({ instance: target.instance, err: safeErrorText(e) }, 'login: unexpected error');
        return this.set(target.instance, { state: 'failed', reason: 'Login failed unexpectedly.' });
      })
      .finally(() => {
        if (entry.inflight === p) entry.inflight = undefined;
      });
    entry.inflight = p;
    return p;
  }

  /**
   * The login expired: a 401 `ExpiredTokenError` / `InvalidTokenError`, or `auth/status` turned
   * logged out while the account was logged in. Starts exactly one automatic re-login (joined by
   * concurrent callers; the state turns `logging_in` at once, so requests fail over meanwhile).
   * A re-login that fails ends like any login (`failed` / `needs_manual`) and is not repeated; an
   * expiry again within `expiryWindowMs` of the last automatic re-login hands the login to a
   * person (`needs_manual`, reason `LOGIN_REASONS.expiredAgain`) instead of looping.
   * `reason` is for the log only (e.g. `ExpiredTokenError`).
   */
  expired(target: LoginTarget, reason = 'login expired'): Promise<LoginState> {
    const name = target.instance;
    const entry = this.entry(name);
    if (entry.inflight) return entry.inflight;
    const s = entry.state.state;
    // Already handed over or failed: a person (or the cool-down) decides, not another expiry.
    if (s === 'needs_manual' || s === 'failed') return Promise.resolve(entry.state);
    const now = this.clock.now();
    const again = entry.expiryAt !== undefined && now - entry.expiryAt < this.o.expiryWindowMs;
    this.log.info({ instance: name, reason: reason.slice(0, 120), again }, again ? 'login: expired again; a person must log in' : 'login: expired; logging in again');
    if (!again) entry.expiryAt = now;
    this.set(name, { state: 'logging_in' });
    return this.start(target, entry, { force: true, skipStatusCheck: true, manualReason: again ? LOGIN_REASONS.expiredAgain : undefined });
  }

  /** Record a state observed elsewhere (the instance's `auth/status`, a logout). */
  report(instance: string, state: LoginState): void {
    const entry = this.entry(instance);
    if (state.state === 'logged_in') {
      stopWatch(entry, this.clock);
      entry.final = undefined;
    }
    this.set(instance, state);
  }

  /**
   * Stop a running login and any manual-login watch (instance stopping). A login in progress
   * becomes logged out; a settled state (logged in, failed) is kept.
   */
  cancel(instance: string): void {
    const entry = this.entries.get(instance);
    if (!entry) return;
    entry.abort?.abort();
    stopWatch(entry, this.clock);
    const s = entry.state.state;
    if (s === 'logging_in' || s === 'needs_manual' || entry.inflight) this.set(instance, LOGGED_OUT);
  }

  /** On logout: cancel, forget failures and the browser state for the instance. */
  async clear(instance: string): Promise<void> {
    this.cancel(instance);
    const entry = this.entry(instance);
    entry.final = undefined;
    this.set(instance, LOGGED_OUT);
    await this.driver?.clear?.(instance).catch((e: unknown) => {
      this.log.warn({ instance, err: safeErrorText(e) }, 'login: clearing browser state failed');
    });
  }

  /** Stop everything (gateway shutdown). Waits for running logins to wind down. */
  async close(): Promise<void> {
    const running: Promise<unknown>[] = [];
    for (const [name, entry] of this.entries) {
      if (entry.inflight) running.push(entry.inflight);
      this.cancel(name);
    }
    await Promise.allSettled(running);
  }

  // ---------------------------------------------------------------------------------------

  private entry(instance: string): Entry {
    let e = this.entries.get(instance);
    if (!e) {
      e = { state: LOGGED_OUT };
      this.entries.set(instance, e);
    }
    return e;
  }

  private set(instance: string, state: LoginState): LoginState {
    const entry = this.entry(instance);
    const previous = entry.state;
    entry.state = state;
    if (!sameState(previous, state)) {
      // SECURITY: the manual URL is not logged (it carries a nonce and state).
      const reason = 'reason' in state ? state.reason : undefined;
      this.log.info({ instance, login: state.state, reason }, `login state: ${previous.state} -> ${state.state}`);
      this.emit('state', instance, state, previous);
    }
    return state;
  }

  /** Logged in; keeps the user and quota facts if the instance already reported them. */
  private loggedIn(instance: string): LoginState {
    const current = this.entry(instance).state;
    return current.state === 'logged_in' ? current : this.set(instance, { state: 'logged_in' });
  }

}

/**
 * Login coordinator: decides when and how an instance logs in, and keeps its login state.
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
import { safeErrorText } from '../../../redact';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { errors, type RelayError } from '../../../errors';
import {
  systemClock,
  type Clock,
  type LoginCredentials,
  type LoginDriver,
  type LoginRecipe,
  type SignInPolicy,
} from '../../../ports';
import type { LoginState } from '../../types';
import { runAttempt } from './attempt';
import { createSignInPolicy, originOf } from '../../../sign-in-policy';
import { LOGIN_REASONS, validateRecipe } from './recipe';
import { backoffDelay } from '../../../backoff';

export type { LoginDriverLimits } from './attempt';

export interface LoginTarget {
  instance: string;
  credentials?: LoginCredentials;
  /** The instance has no account behind it (the default one created when none is configured). */
  accountless?: boolean;
  /** `login/generateUrl` on the instance. */
  generateUrl(): Promise<string>;
  /** `http://127.0.0.1:<httpPort>/auth/callback`. */
  callbackUrl: string;
  /** `auth/status` reports a non-empty `id`. */
  isLoggedIn(): Promise<boolean>;
  /** Runs before each URL is generated (dedicated-domain accounts switch the endpoint here). */
  prepare?(): Promise<void>;
  /** The account's https dedicated domain: its origin is a sign-in origin for this target. */
  dedicatedDomain?: string;
}

export interface LoginCoordinatorOptions {
  /** No driver means no browser: logins end in `needs_manual`. */
  driver?: LoginDriver;
  recipe: LoginRecipe;
  /** `lingma.login.auto`: log in automatically when an instance is found logged out. */
  auto: boolean;
  /** Per attempt. */
  timeoutMs: number;
  maxRetries: number;
  /**
   * `lingma.login.allowedOrigins`: extra origins credentials may be typed into (validated at
   * config load). A function is read at every attempt, so settings changes apply.
   */
  allowedOrigins?: readonly string[] | (() => readonly string[]);
  log: Logger;
  clock?: Clock;
  /** `isLoggedIn` polling during an attempt. Default 1000 ms. */
  pollMs?: number;
  /** First retry delay; doubles per retry, capped at 30 s, ±20 % jitter. Default 2000 ms. */
  backoffMs?: number;
  /** How long to watch for a manual login to complete. Default 15 min. */
  manualWatchMs?: number;
  manualPollMs?: number;
  /** After a final failure, no automatic attempt for this long (unless forced). Default 5 min. */
  failedCooldownMs?: number;
  /** After the driver reports success, how long `isLoggedIn` may take to agree. Default 15 s. */
  confirmMs?: number;
  /** Extra time a driver gets past the timeout, and to wind down once stopped. Default 5 s. */
  graceMs?: number;
  /** A second expiry within this long of an automatic re-login goes to a person. Default 10 min. */
  expiryWindowMs?: number;
}

export interface EnsureLoginOptions {
  /** Try now even after a final failure or while waiting for a manual login (dashboard "log in"). */
  force?: boolean;
  /** Override `auto` for this call (an explicit "log in" from the dashboard uses true). */
  auto?: boolean;
}

export interface LoginCoordinatorEvents {
  state: [instance: string, state: LoginState, previous: LoginState];
}

interface Entry {
  state: LoginState;
  inflight?: Promise<LoginState>;
  abort?: AbortController;
  /** Background watch for a manual login. */
  watch?: { timer?: NodeJS.Timeout; until: number; stopped: boolean };
  /** Final failure: when, why, and for which credentials. */
  final?: { at: number; rejected: boolean; credKey: string };
  /** When the last automatic re-login after an expiry started. */
  expiryAt?: number;
}

interface RunOptions extends EnsureLoginOptions {
  /** Do not ask `isLoggedIn` first (an expired login may still look logged in to the runtime). */
  skipStatusCheck?: boolean;
  /** Skip automation: hand out a link with this reason. */
  manualReason?: string;
}

const LOGGED_OUT: LoginState = { state: 'logged_out' };

/** In-memory fingerprint of credentials, to notice a changed password. Never stored or logged. */
function credKey(c?: LoginCredentials): string {
  if (!c) return '';
  return createHash('sha256').update(c.username).update('\0').update(c.password).digest('hex');
}

const sameState = (a: LoginState, b: LoginState): boolean => JSON.stringify(a) === JSON.stringify(b);

const originsGetter = (o: LoginCoordinatorOptions['allowedOrigins']): (() => readonly string[]) =>
  typeof o === 'function' ? o : () => o ?? [];

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
  private readonly o: Required<
    Pick<LoginCoordinatorOptions, 'pollMs' | 'backoffMs' | 'manualWatchMs' | 'manualPollMs' | 'failedCooldownMs' | 'confirmMs' | 'graceMs' | 'expiryWindowMs'>
  >;

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
    const p = this.run(target, entry, opts)
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
      this.stopWatch(entry);
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
    this.stopWatch(entry);
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

  private async run(target: LoginTarget, entry: Entry, opts: RunOptions): Promise<LoginState> {
    const name = target.instance;
    const abort = new AbortController();
    entry.abort = abort;
    const cancelled = (): boolean => abort.signal.aborted;

    try {
      if (!opts.skipStatusCheck && (await target.isLoggedIn())) {
        this.stopWatch(entry);
        entry.final = undefined;
        return this.loggedIn(name);
      }
    } catch (e) {
      this.log.warn({ instance: name, err: safeErrorText(e) }, 'login: status check failed');
      return this.set(name, { state: 'failed', reason: 'Could not check the login status.' });
    }

    const key = credKey(target.credentials);
    if (!opts.force) {
      // A person is on it: keep waiting for them, do not start automation behind their back.
      if (entry.state.state === 'needs_manual' && entry.watch && !entry.watch.stopped) return entry.state;
      const f = entry.final;
      if (f && f.credKey === key && entry.state.state === 'failed') {
        if (f.rejected) return entry.state;
        if (this.clock.now() - f.at < this.o.failedCooldownMs) return entry.state;
      }
    }
    this.stopWatch(entry);
    entry.final = undefined;

    const auto = opts.auto ?? this.auto;
    const manualReason = opts.manualReason
      ? opts.manualReason
      : !auto
      ? LOGIN_REASONS.autoOff
      : target.accountless
        ? LOGIN_REASONS.noAccount
        : !target.credentials || !target.credentials.password
          ? LOGIN_REASONS.noPassword
          : !this.driver
            ? LOGIN_REASONS.noBrowser
            : undefined;
    if (manualReason) {
      // No automation possible: hand out a login link and watch for the person to finish.
      let url: string;
      try {
        url = await this.freshUrl(target);
      } catch (e) {
        return this.fail(name, entry, key, false, 'Could not get a login link from Lingma.', e);
      }
      if (cancelled()) return entry.state;
      return this.manual(target, entry, url, manualReason);
    }

    // SECURITY: the origin policy of this sign-in. Malformed settings stop here (config load
    // refuses them; this covers settings changed at run time).
    let policy: SignInPolicy;
    try {
      policy = createSignInPolicy({ allowedOrigins: this.allowedOrigins(), dedicatedDomain: target.dedicatedDomain, callbackUrl: target.callbackUrl });
    } catch (e) {
      return this.fail(name, entry, key, false, (e as Error).message);
    }

    const driver = this.driver as LoginDriver;
    const credentials = target.credentials as LoginCredentials;
    let lastReason: string = LOGIN_REASONS.timeout;
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      if (cancelled()) return entry.state;
      if (attempt > 0) {
        const delay = backoffDelay(attempt - 1, { baseMs: this.o.backoffMs, maxMs: 30_000, jitter: 0.2 });
        this.log.info({ instance: name, attempt: attempt + 1, delayMs: delay }, 'login: retrying after a failure');
        await this.sleep(delay, abort.signal);
        if (cancelled()) return entry.state;
      }
      this.set(name, { state: 'logging_in' });
      let url: string;
      try {
        url = await this.freshUrl(target);
      } catch (e) {
        lastReason = 'Could not get a login link from Lingma.';
        this.log.warn({ instance: name, err: safeErrorText(e) }, 'login: generating the login link failed');
        continue;
      }
      if (cancelled()) return entry.state;
      // SECURITY: the runtime's login URL is held to the policy too (its endpoint can be switched).
      if (policy.navigation(url) !== 'allow') {
        this.log.warn({ instance: name, origin: originOf(url) }, 'login: the login link is off the sign-in origin policy; not opened');
        return this.manual(target, entry, url, LOGIN_REASONS.loginUrlOffPolicy);
      }

      let handedOver: string | undefined;
      const needsPerson = (reason: string): void => {
        if (handedOver || cancelled()) return;
        handedOver = reason;
        this.set(name, { state: 'needs_manual', url, reason });
      };
      const outcome = await runAttempt({
        driver,
        target,
        credentials,
        url,
        policy,
        needsPerson,
        outer: abort.signal,
        recipe: this.recipe,
        timeoutMs: this.timeoutMs,
        pollMs: this.o.pollMs,
        graceMs: this.o.graceMs,
        clock: this.clock,
        log: this.log,
      });
      if (cancelled()) return entry.state;
      // Handed to a person during the attempt: never retried automatically.
      if (handedOver && outcome.kind === 'failed' && outcome.reason !== LOGIN_REASONS.rejected) {
        return this.manual(target, entry, url, handedOver);
      }
      if (outcome.kind === 'success') {
        if (await this.confirm(target, abort.signal)) {
          this.stopWatch(entry);
          return this.loggedIn(name);
        }
        if (cancelled()) return entry.state;
        lastReason = LOGIN_REASONS.notLoggedIn;
        continue;
      }
      if (outcome.kind === 'manual') return this.manual(target, entry, outcome.url || url, outcome.reason);
      lastReason = outcome.reason;
      if (outcome.reason === LOGIN_REASONS.rejected) return this.fail(name, entry, key, true, outcome.reason);
      this.log.warn({ instance: name, attempt: attempt + 1, of: this.maxRetries + 1, reason: outcome.reason }, 'login: attempt failed');
    }
    return this.fail(name, entry, key, false, lastReason);
  }

  private async freshUrl(target: LoginTarget): Promise<string> {
    if (target.prepare) await target.prepare();
    const url = await target.generateUrl();
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw new Error('login/generateUrl returned no usable URL');
    return url;
  }

  /** After a driver success: wait for the instance to agree it is logged in. */
  private async confirm(target: LoginTarget, signal: AbortSignal): Promise<boolean> {
    const until = this.clock.now() + this.o.confirmMs;
    for (;;) {
      try {
        if (await target.isLoggedIn()) return true;
      } catch {
        // The instance may be busy storing the login; keep asking until the bound.
      }
      if (signal.aborted || this.clock.now() >= until) return false;
      await this.sleep(Math.min(500, this.o.pollMs), signal);
    }
  }

  private manual(target: LoginTarget, entry: Entry, url: string, reason: string): LoginState {
    const state = this.set(target.instance, { state: 'needs_manual', url, reason });
    this.startWatch(target, entry);
    return state;
  }

  private fail(name: string, entry: Entry, key: string, rejected: boolean, reason: string, err?: unknown): LoginState {
    if (err !== undefined) this.log.warn({ instance: name, err: safeErrorText(err) }, 'login: failed');
    entry.final = { at: this.clock.now(), rejected, credKey: key };
    return this.set(name, rejected ? { state: 'failed', reason, rejected: true } : { state: 'failed', reason });
  }

  /** Poll `isLoggedIn` in the background until the person finishes or the watch expires. */
  private startWatch(target: LoginTarget, entry: Entry): void {
    this.stopWatch(entry);
    const w: NonNullable<Entry['watch']> = { until: this.clock.now() + this.o.manualWatchMs, stopped: false };
    entry.watch = w;
    const tick = (): void => {
      if (w.stopped) return;
      if (this.clock.now() >= w.until) {
        w.stopped = true;
        this.log.info({ instance: target.instance }, 'login: stopped waiting for a manual login');
        return;
      }
      target
        .isLoggedIn()
        .then((ok) => {
          if (w.stopped || !ok) return;
          w.stopped = true;
          this.loggedIn(target.instance);
        })
        .catch(() => undefined)
        .finally(() => {
          if (!w.stopped) w.timer = this.clock.setTimeout(tick, this.o.manualPollMs);
        });
    };
    w.timer = this.clock.setTimeout(tick, this.o.manualPollMs);
  }

  private stopWatch(entry: Entry): void {
    const w = entry.watch;
    if (!w) return;
    w.stopped = true;
    if (w.timer) this.clock.clearTimeout(w.timer);
    entry.watch = undefined;
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = (): void => {
        this.clock.clearTimeout(t);
        resolve();
      };
      const t = this.clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/**
 * The client-facing error for an instance that cannot serve because of its login. SECURITY: says
 * only that the account needs attention; never the URL, the reason's details or credentials.
 */
export function loginStateError(state: LoginState): RelayError {
  switch (state.state) {
    case 'logging_in':
      return errors.unavailable('The Lingma account is logging in; try again shortly.', { retryAfter: 5, code: 'login_in_progress' });
    case 'needs_manual':
      return errors.unavailable('The Lingma account needs a manual login in the Lingma Relay dashboard.', { code: 'login_required' });
    case 'failed':
      return errors.unavailable('The Lingma account could not log in; see the Lingma Relay dashboard.', { code: 'login_failed' });
    default:
      return errors.unavailable('The Lingma account is not logged in.', { code: 'login_required' });
  }
}

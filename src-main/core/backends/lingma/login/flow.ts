/**
 * One login run for one instance (the coordinator's single-flight job): the status check, the
 * cool-down after a final failure, a hand-off to a person when automation cannot run, the origin
 * policy, then driver attempts with retries (backoff and jitter), each confirmed by `isLoggedIn`.
 * A captcha or other hand-off is never retried; a refused password is never retried.
 *
 * SECURITY: reasons are client-safe; the login URL reaches only the `needs_manual` state.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../../../backoff';
import { sleep, type Clock, type LoginCredentials, type LoginDriver, type LoginRecipe, type SignInPolicy } from '../../../ports';
import { safeErrorText } from '../../../redact';
import { createSignInPolicy, originOf } from '../../../sign-in-policy';
import type { LoginState } from '../../types';
import { runAttempt } from './attempt';
import { LOGIN_REASONS } from './recipe';
import { credKey, type Entry, type LoginTarget, type LoginTimings, type RunOptions } from './types';
import { startWatch, stopWatch, type WatchHost } from './watch';

/** The coordinator as a run sees it: settings are read live (a config reload applies at once). */
export interface FlowHost extends WatchHost {
  readonly log: Logger;
  readonly clock: Clock;
  readonly timings: LoginTimings;
  readonly driver: LoginDriver | undefined;
  readonly recipe: LoginRecipe;
  readonly auto: boolean;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  allowedOrigins(): readonly string[];
  set(instance: string, state: LoginState): LoginState;
}

/** Wait `ms` on the host's clock; an abort ends the wait early (the caller checks the signal). */
const pause = (host: FlowHost, ms: number, signal: AbortSignal): Promise<void> => sleep(host.clock, ms, signal).catch(() => undefined);

export async function runLogin(host: FlowHost, target: LoginTarget, entry: Entry, opts: RunOptions): Promise<LoginState> {
  const name = target.instance;
  const abort = new AbortController();
  entry.abort = abort;
  const cancelled = (): boolean => abort.signal.aborted;

  try {
    if (!opts.skipStatusCheck && (await target.isLoggedIn())) {
      stopWatch(entry, host.clock);
      entry.final = undefined;
      return host.loggedIn(name);
    }
  } catch (e) {
    host.log.warn({ instance: name, err: safeErrorText(e) }, 'login: status check failed');
    return host.set(name, { state: 'failed', reason: 'Could not check the login status.' });
  }

  const key = credKey(target.credentials);
  if (!opts.force) {
    // A person is on it: keep waiting for them, do not start automation behind their back.
    if (entry.state.state === 'needs_manual' && entry.watch && !entry.watch.stopped) return entry.state;
    const f = entry.final;
    if (f && f.credKey === key && entry.state.state === 'failed') {
      if (f.rejected) return entry.state;
      if (host.clock.now() - f.at < host.timings.failedCooldownMs) return entry.state;
    }
  }
  stopWatch(entry, host.clock);
  entry.final = undefined;

  const auto = opts.auto ?? host.auto;
  const manualReason = opts.manualReason
    ? opts.manualReason
    : !auto
    ? LOGIN_REASONS.autoOff
    : target.accountless
      ? LOGIN_REASONS.noAccount
      : !target.credentials || !target.credentials.password
        ? LOGIN_REASONS.noPassword
        : !host.driver
          ? LOGIN_REASONS.noBrowser
          : undefined;
  if (manualReason) {
    // No automation possible: hand out a login link and watch for the person to finish.
    let url: string;
    try {
      url = await freshUrl(target);
    } catch (e) {
      return fail(host, name, entry, key, false, 'Could not get a login link from Lingma.', e);
    }
    if (cancelled()) return entry.state;
    return manual(host, target, entry, url, manualReason);
  }

  // SECURITY: the origin policy of this sign-in. Malformed settings stop here (config load
  // refuses them; this covers settings changed at run time).
  let policy: SignInPolicy;
  try {
    policy = createSignInPolicy({ allowedOrigins: host.allowedOrigins(), dedicatedDomain: target.dedicatedDomain, callbackUrl: target.callbackUrl });
  } catch (e) {
    return fail(host, name, entry, key, false, (e as Error).message);
  }

  const driver = host.driver as LoginDriver;
  const credentials = target.credentials as LoginCredentials;
  let lastReason: string = LOGIN_REASONS.timeout;
  for (let attempt = 0; attempt <= host.maxRetries; attempt++) {
    if (cancelled()) return entry.state;
    if (attempt > 0) {
      const delay = backoffDelay(attempt - 1, { baseMs: host.timings.backoffMs, maxMs: 30_000, jitter: 0.2 });
      host.log.info({ instance: name, attempt: attempt + 1, delayMs: delay }, 'login: retrying after a failure');
      await pause(host, delay, abort.signal);
      if (cancelled()) return entry.state;
    }
    host.set(name, { state: 'logging_in' });
    let url: string;
    try {
      url = await freshUrl(target);
    } catch (e) {
      lastReason = 'Could not get a login link from Lingma.';
      host.log.warn({ instance: name, err: safeErrorText(e) }, 'login: generating the login link failed');
      continue;
    }
    if (cancelled()) return entry.state;
    // SECURITY: the runtime's login URL is held to the policy too (its endpoint can be switched).
    if (policy.navigation(url) !== 'allow') {
      host.log.warn({ instance: name, origin: originOf(url) }, 'login: the login link is off the sign-in origin policy; not opened');
      return manual(host, target, entry, url, LOGIN_REASONS.loginUrlOffPolicy);
    }

    let handedOver: string | undefined;
    const needsPerson = (reason: string): void => {
      if (handedOver || cancelled()) return;
      handedOver = reason;
      host.set(name, { state: 'needs_manual', url, reason });
    };
    const outcome = await runAttempt({
      driver,
      target,
      credentials,
      url,
      policy,
      needsPerson,
      outer: abort.signal,
      recipe: host.recipe,
      timeoutMs: host.timeoutMs,
      pollMs: host.timings.pollMs,
      graceMs: host.timings.graceMs,
      clock: host.clock,
      log: host.log,
    });
    if (cancelled()) return entry.state;
    // Handed to a person during the attempt: never retried automatically.
    if (handedOver && outcome.kind === 'failed' && outcome.reason !== LOGIN_REASONS.rejected) {
      return manual(host, target, entry, url, handedOver);
    }
    if (outcome.kind === 'success') {
      if (await confirm(host, target, abort.signal)) {
        stopWatch(entry, host.clock);
        return host.loggedIn(name);
      }
      if (cancelled()) return entry.state;
      lastReason = LOGIN_REASONS.notLoggedIn;
      continue;
    }
    if (outcome.kind === 'manual') return manual(host, target, entry, outcome.url || url, outcome.reason);
    lastReason = outcome.reason;
    if (outcome.reason === LOGIN_REASONS.rejected) return fail(host, name, entry, key, true, outcome.reason);
    host.log.warn({ instance: name, attempt: attempt + 1, of: host.maxRetries + 1, reason: outcome.reason }, 'login: attempt failed');
  }
  return fail(host, name, entry, key, false, lastReason);
}

async function freshUrl(target: LoginTarget): Promise<string> {
  if (target.prepare) await target.prepare();
  const url = await target.generateUrl();
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) throw new Error('login/generateUrl returned no usable URL');
  return url;
}

/** After a driver success: wait for the instance to agree it is logged in. */
async function confirm(host: FlowHost, target: LoginTarget, signal: AbortSignal): Promise<boolean> {
  const until = host.clock.now() + host.timings.confirmMs;
  for (;;) {
    try {
      if (await target.isLoggedIn()) return true;
    } catch {
      // The instance may be busy storing the login; keep asking until the bound.
    }
    if (signal.aborted || host.clock.now() >= until) return false;
    await pause(host, Math.min(500, host.timings.pollMs), signal);
  }
}

function manual(host: FlowHost, target: LoginTarget, entry: Entry, url: string, reason: string): LoginState {
  const state = host.set(target.instance, { state: 'needs_manual', url, reason });
  startWatch(host, target, entry);
  return state;
}

function fail(host: FlowHost, name: string, entry: Entry, key: string, rejected: boolean, reason: string, err?: unknown): LoginState {
  if (err !== undefined) host.log.warn({ instance: name, err: safeErrorText(err) }, 'login: failed');
  entry.final = { at: host.clock.now(), rejected, credKey: key };
  return host.set(name, rejected ? { state: 'failed', reason, rejected: true } : { state: 'failed', reason });
}

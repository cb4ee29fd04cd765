/**
 * The login coordinator's shapes: what it logs in (`LoginTarget`), its options, the per-instance
 * entry it keeps, and the one client-facing error for a login state (`loginStateError`).
 */
import { createHash } from 'node:crypto';
import { errors, type RelayError } from '../../../errors';
import type { Clock, LoginCredentials, LoginDriver, LoginRecipe, TimerHandle } from '../../../ports';
import type { LoginState } from '../../types';
import type { Logger } from 'pino';

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

export interface Entry {
  state: LoginState;
  inflight?: Promise<LoginState>;
  abort?: AbortController;
  /** Background watch for a manual login. */
  watch?: ManualWatch;
  /** Final failure: when, why, and for which credentials. */
  final?: { at: number; rejected: boolean; credKey: string };
  /** When the last automatic re-login after an expiry started. */
  expiryAt?: number;
}

export interface RunOptions extends EnsureLoginOptions {
  /** Do not ask `isLoggedIn` first (an expired login may still look logged in to the runtime). */
  skipStatusCheck?: boolean;
  /** Skip automation: hand out a link with this reason. */
  manualReason?: string;
}

export const LOGGED_OUT: LoginState = { state: 'logged_out' };

/** In-memory fingerprint of credentials, to notice a changed password. Never stored or logged. */
export function credKey(c?: LoginCredentials): string {
  if (!c) return '';
  return createHash('sha256').update(c.username).update('\0').update(c.password).digest('hex');
}

export const sameState = (a: LoginState, b: LoginState): boolean => JSON.stringify(a) === JSON.stringify(b);

export const originsGetter = (o: LoginCoordinatorOptions['allowedOrigins']): (() => readonly string[]) =>
  typeof o === 'function' ? o : () => o ?? [];

/** The timings of the flow, defaults filled in. */
export type LoginTimings = Required<
  Pick<LoginCoordinatorOptions, 'pollMs' | 'backoffMs' | 'manualWatchMs' | 'manualPollMs' | 'failedCooldownMs' | 'confirmMs' | 'graceMs' | 'expiryWindowMs'>
>;

/** A background watch for a person finishing a login (./watch.ts). */
export interface ManualWatch {
  timer?: TimerHandle;
  until: number;
  stopped: boolean;
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

/**
 * "Can this instance serve?" — the one answer. Every consumer (the pool, the dispatcher,
 * `/healthz`, the admin snapshot and so the dashboard, the tray) reads `availabilityOf`, through
 * the stateful model in `./availability-model.ts` that feeds it (health cache, credit cool-downs,
 * the instance's own snapshot).
 *
 * An instance is serving when its process is ready, it is signed in (or needs no sign-in), it is
 * not out of credits, and it is not in health backoff. Otherwise exactly one status says why,
 * checked in this order: process state, sign-in, credits, health.
 *
 * Pure and import-free at run time (types only), so tests can enumerate every combination.
 */
import type { QuotaState } from '../backends/types';
import type { AvailabilityStatus, AvailabilityView, InstanceState, LoginState } from '../state-types';
import { statusDisplay } from './status';

export type { AvailabilityStatus, AvailabilityView } from '../state-types';

/**
 * What a request may do about an instance that is not serving:
 * - `self`: it becomes serving on its own (starting, signing in): wait on the pool for it;
 * - `kick`: a request may try it as a last resort (`ensureReady` starts, reconnects or signs it
 *   in; a health backoff may have healed): stopped, failed, signed out, cooling down;
 * - `never`: only time or a person helps (out of credits, captcha, refused sign-in, removed).
 */
export type AvailabilityWait = 'none' | 'self' | 'kick' | 'never';

export interface Availability extends AvailabilityView {
  wait: AvailabilityWait;
}

export interface AvailabilityInput {
  name: string;
  state: InstanceState;
  /** Why the process is not ready (the snapshot's client-safe `reason`). */
  stateReason?: string;
  login: LoginState;
  /** The backend's own word on the account's limits (`snapshot().quota`), unless a person cleared it. */
  quota?: QuotaState;
  /** A credit cool-down recorded after a quota error: until when (may lie in the past: re-check due). */
  cooldownUntil?: number;
  /** The health cache's view; absent = healthy. */
  health?: { healthy: boolean; unhealthyUntil?: number; lastError?: string; lastErrorAt?: number };
  now: number;
}

/**
 * Worth routing to first: serving, or about to be without anything going wrong (starting, signing
 * in, stopped or signed out until a request starts it). Failed, cooling down, out of credits,
 * waiting for a person: not. The dispatcher puts chain targets with none of these last.
 */
export function mayServeSoon(a: Availability): boolean {
  return a.serving || a.wait === 'self' || (a.wait === 'kick' && a.status !== 'failed' && a.status !== 'cooling_down');
}

/** `2026-12-05T00:00:00Z` */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Keep outside text short and on one line (it ends up in a 503 reason and the dashboard). */
function short(text: string | undefined, max = 120): string {
  return (text ?? '').replace(/\s+/g, ' ').trim().slice(0, max);
}

type Decided = Omit<Availability, 'display'>;

function make(status: AvailabilityStatus, reason: string, wait: AvailabilityWait, extra: Partial<Decided> = {}): Decided {
  return { serving: status === 'serving', status, reason, wait, clearable: false, ...extra };
}

/** The one answer, with what a person reads (`display`, core/pool/status.ts) attached. */
export function availabilityOf(i: AvailabilityInput): Availability {
  const a = decide(i);
  return { ...a, display: statusDisplay({ status: a.status, state: i.state, login: i.login, until: a.until, health: i.health, now: i.now }) };
}

function decide(i: AvailabilityInput): Decided {
  const n = i.name;
  const quotaView = quotaOf(i);
  const withQuota = (a: Decided): Decided => (quotaView ? { ...a, quota: quotaView } : a);

  // 1. The process.
  switch (i.state) {
    case 'closed':
      return withQuota(make('stopped', `${n} was removed`, 'never'));
    case 'stopped':
      return withQuota(make('stopped', i.stateReason ? `${n} is stopped (${short(i.stateReason)})` : `${n} is stopped`, 'kick'));
    case 'failed':
      return withQuota(make('failed', i.stateReason ? `${n} failed (${short(i.stateReason)})` : `${n} failed`, 'kick'));
    case 'starting':
    case 'reconnecting':
      return withQuota(make('starting', `${n} is ${i.state}`, 'self'));
    case 'ready':
      break;
  }
  // 2. Sign-in.
  switch (i.login.state) {
    case 'logging_in':
      return withQuota(make('signing_in', `${n} is logging in`, 'self'));
    case 'logged_out':
      return withQuota(make('needs_person', `${n} needs login`, 'kick'));
    case 'needs_manual':
      // SECURITY: never the login URL or the page's detail; the dashboard shows the link itself.
      return withQuota(make('needs_person', `${n} needs a person to finish signing in`, 'never'));
    case 'failed':
      return withQuota(make('needs_person', `${n} needs login (sign-in failed)`, 'never'));
    case 'logged_in':
    case 'not_applicable':
      break;
  }
  // 3. Credits.
  if (quotaView?.exceeded) {
    const until = quotaView.resetsAt;
    const reason = until === undefined
      ? `${n} is out of credits`
      : until > i.now
        ? `${n} is out of credits until ${isoTime(until)}`
        : `${n} is out of credits; checking again`;
    return { ...make('out_of_credits', reason, 'never', { clearable: true }), quota: quotaView, ...(until !== undefined ? { until } : {}) };
  }
  // 4. Health.
  if (i.health && !i.health.healthy) {
    const detail = i.health.lastError ? ` (${short(i.health.lastError)})` : '';
    const a = make('cooling_down', `${n} unhealthy${detail}`, 'kick', { clearable: true });
    if (i.health.unhealthyUntil !== undefined) a.until = i.health.unhealthyUntil;
    return withQuota(a);
  }
  return withQuota(make('serving', `${n} is serving`, 'none'));
}

/** The `quota` shown for an account with a known limit; undefined when nothing is known. */
function quotaOf(i: AvailabilityInput): { exceeded: boolean; resetsAt?: number } | undefined {
  const cooling = i.cooldownUntil !== undefined && i.cooldownUntil > i.now;
  const fromLogin = i.login.state === 'logged_in' && i.login.quotaExceeded === true;
  const said = i.quota?.exceeded === true || fromLogin;
  if (!said && !cooling) {
    if (i.quota) return i.quota.resetsAt !== undefined ? { exceeded: false, resetsAt: i.quota.resetsAt } : { exceeded: false };
    return undefined;
  }
  // The later of the backend's reset time and the cool-down's end (when it is checked again).
  const times = [said ? i.quota?.resetsAt : undefined, i.cooldownUntil].filter((t): t is number => t !== undefined);
  const resetsAt = times.length ? Math.max(...times) : undefined;
  return resetsAt !== undefined ? { exceeded: true, resetsAt } : { exceeded: true };
}

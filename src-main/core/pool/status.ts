/**
 * The one status a person sees per instance, from the one availability answer
 * (`./availability.ts`): Serving, Cooling down, Needs a person, Out of credits, Starting, Stopped,
 * with the process state as secondary text and the action that matches. `availabilityOf` attaches
 * it to every answer (`display`), so `/healthz`, the admin snapshot (and so the dashboard) and the
 * tray all show the same value.
 *
 * Pure and import-free at run time (types only).
 */
import type { AvailabilityStatus, InstanceState, LoginState, StatusAction, StatusDisplay, StatusKind } from '../state-types';

export type { StatusAction, StatusDisplay, StatusKind } from '../state-types';

export const STATUS_LABEL: Record<StatusKind, string> = {
  serving: 'Serving',
  cooling_down: 'Cooling down',
  needs_person: 'Needs a person',
  out_of_credits: 'Out of credits',
  starting: 'Starting',
  stopped: 'Stopped',
};

export interface StatusFacts {
  status: AvailabilityStatus;
  state: InstanceState;
  login: LoginState;
  /** Epoch ms the cool-down or reset ends (the availability answer's `until`). */
  until?: number;
  health?: { lastError?: string; lastErrorAt?: number };
  now: number;
}

const PROCESS: Record<InstanceState, string> = {
  ready: 'process ready',
  starting: 'process starting',
  reconnecting: 'process reconnecting',
  stopped: 'process stopped',
  failed: 'process failed',
  closed: 'removed',
};

function processText(f: StatusFacts): string {
  const p = PROCESS[f.state] ?? `process ${f.state}`;
  if (f.state !== 'ready') return p;
  switch (f.login.state) {
    case 'logged_in': return `${p} · signed in${f.login.user ? ` as ${f.login.user}` : ''}`;
    case 'logging_in': return `${p} · signing in`;
    case 'logged_out': return `${p} · signed out`;
    case 'needs_manual': return `${p} · sign-in waiting for a person`;
    case 'failed': return `${p} · sign-in ${f.login.rejected ? 'refused' : 'failed'}`;
    default: return p;
  }
}

const oneLine = (t: string, max = 160): string => t.replace(/\s+/g, ' ').trim().slice(0, max);

/** The kind: exactly one per availability status (signing in is starting; a failed process is stopped). */
export function statusKind(status: AvailabilityStatus): StatusKind {
  switch (status) {
    case 'serving': return 'serving';
    case 'cooling_down': return 'cooling_down';
    case 'needs_person': return 'needs_person';
    case 'out_of_credits': return 'out_of_credits';
    case 'starting':
    case 'signing_in': return 'starting';
    case 'failed':
    case 'stopped': return 'stopped';
  }
}

function needsPerson(login: LoginState): { detail: string; action: StatusAction } {
  switch (login.state) {
    case 'needs_manual':
      // SECURITY: never the login URL; the dashboard shows the link from the login state itself.
      return { detail: 'the sign-in waits for a person (a captcha, a verification): finish it by hand', action: 'finish_sign_in' };
    case 'failed':
      return login.rejected
        ? { detail: 'the password was refused: fix it, then sign in', action: 'fix_password' }
        : { detail: 'the sign-in failed: sign in again', action: 'sign_in' };
    default:
      return { detail: 'not signed in', action: 'sign_in' };
  }
}

export function statusDisplay(f: StatusFacts): StatusDisplay {
  const kind = statusKind(f.status);
  const d: StatusDisplay = { kind, label: STATUS_LABEL[kind], detail: '', process: processText(f) };
  switch (f.status) {
    case 'serving':
      break;
    case 'starting':
      d.detail = f.state === 'reconnecting' ? 'reconnecting to the process' : 'the process is starting';
      break;
    case 'signing_in':
      d.detail = 'signing in';
      break;
    case 'needs_person':
      Object.assign(d, needsPerson(f.login));
      break;
    case 'cooling_down': {
      d.detail = 'recent requests failed; retried after the cool-down';
      d.action = 'clear_cooldown';
      if (f.until !== undefined) d.until = f.until;
      const text = f.health?.lastError ? oneLine(f.health.lastError) : undefined;
      if (text) d.lastError = f.health?.lastErrorAt !== undefined ? { text, at: f.health.lastErrorAt } : { text };
      break;
    }
    case 'out_of_credits':
      d.detail = f.until === undefined ? 'no reset time known' : f.until > f.now ? 'credits reset at the time shown' : 'checking again';
      d.action = 'clear_cooldown';
      if (f.until !== undefined) d.until = f.until;
      break;
    case 'failed':
      d.detail = 'the process failed';
      d.action = 'restart';
      break;
    case 'stopped':
      d.detail = f.state === 'closed' ? 'removed' : 'the process is stopped; a request or Restart starts it';
      if (f.state !== 'closed') d.action = 'restart';
      break;
  }
  return d;
}

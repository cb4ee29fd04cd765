/**
 * The one status a person sees (core/pool/status.ts), through the one availability answer:
 * every combination of process state, sign-in, health and credits gives exactly one of the six
 * statuses, with the action that matches and the process as secondary text. Table-driven and
 * exhaustive; the expectations are the rules written out independently.
 */
import { describe, expect, it } from 'vitest';
import { availabilityOf } from '../../src-main/core/pool/availability';
import { STATUS_LABEL, statusDisplay, type StatusAction, type StatusKind } from '../../src-main/core/pool/status';
import type { InstanceState, LoginState } from '../../src-main/core/state-types';

const NOW = Date.UTC(2026, 11, 4, 12);
const ERR_AT = NOW - 5_000;
const STATES: InstanceState[] = ['stopped', 'starting', 'ready', 'reconnecting', 'failed', 'closed'];
const LOGINS: LoginState[] = [
  { state: 'not_applicable' },
  { state: 'logged_out' },
  { state: 'logging_in' },
  { state: 'logged_in', user: 'u' },
  { state: 'logged_in', user: 'u', quotaExceeded: true },
  { state: 'needs_manual', url: 'https://login.example/?t=1', reason: 'captcha' },
  { state: 'failed', reason: 'The sign-in page did not accept the user name or password.', rejected: true },
  { state: 'failed', reason: 'The login did not finish in time.' },
];
const HEALTH = [
  undefined,
  { healthy: true },
  { healthy: false, unhealthyUntil: NOW + 30_000, lastError: 'Upstream failed:\n500', lastErrorAt: ERR_AT },
  { healthy: false, lastError: 'Upstream failed.' },
];
const CREDITS: Array<{ quota?: { exceeded: boolean; resetsAt?: number }; cooldownUntil?: number }> = [
  {},
  { quota: { exceeded: false } },
  { quota: { exceeded: true, resetsAt: NOW + 3_600_000 } },
  { quota: { exceeded: true } },
  { cooldownUntil: NOW + 60_000 },
  { cooldownUntil: NOW - 1 },
];

function expectedKind(state: InstanceState, login: LoginState, healthy: boolean, credits: (typeof CREDITS)[number]): StatusKind {
  if (state === 'stopped' || state === 'closed' || state === 'failed') return 'stopped';
  if (state === 'starting' || state === 'reconnecting') return 'starting';
  if (login.state === 'logging_in') return 'starting';
  if (login.state === 'logged_out' || login.state === 'needs_manual' || login.state === 'failed') return 'needs_person';
  const out = credits.quota?.exceeded === true || (login.state === 'logged_in' && login.quotaExceeded === true) || (credits.cooldownUntil ?? 0) > NOW;
  if (out) return 'out_of_credits';
  return healthy ? 'serving' : 'cooling_down';
}

function expectedAction(kind: StatusKind, state: InstanceState, login: LoginState): StatusAction | undefined {
  switch (kind) {
    case 'needs_person':
      if (login.state === 'needs_manual') return 'finish_sign_in';
      if (login.state === 'failed' && login.rejected) return 'fix_password';
      return 'sign_in';
    case 'cooling_down':
    case 'out_of_credits':
      return 'clear_cooldown';
    case 'stopped':
      return state === 'closed' ? undefined : 'restart';
    default:
      return undefined;
  }
}

describe('one status per instance', () => {
  it('every combination of process, sign-in, health and credits gives exactly one status, its action and the process text', () => {
    const kinds = new Set<StatusKind>();
    let n = 0;
    for (const state of STATES) {
      for (const login of LOGINS) {
        for (const health of HEALTH) {
          for (const credits of CREDITS) {
            const ctx = JSON.stringify({ state, login, health, credits });
            const a = availabilityOf({ name: 'acc', state, login, health, now: NOW, ...credits });
            const d = a.display;
            const want = expectedKind(state, login, health?.healthy !== false, credits);
            expect(d.kind, ctx).toBe(want);
            expect(d.label, ctx).toBe(STATUS_LABEL[want]);
            expect(d.action, ctx).toBe(expectedAction(want, state, login));
            // The serving flag and the status agree: only "Serving" serves.
            expect(a.serving, ctx).toBe(want === 'serving');
            // Secondary text: the process state, always.
            expect(d.process, ctx).toMatch(state === 'closed' ? /^removed$/ : new RegExp(`^process ${state}`));
            // Never the login URL.
            expect(JSON.stringify(d), ctx).not.toContain('login.example');
            if (want === 'cooling_down') {
              expect(d.until, ctx).toBe(health?.healthy === false ? health.unhealthyUntil : undefined);
              expect(d.lastError?.text, ctx).toBe(health?.lastError?.replace(/\s+/g, ' '));
              expect(d.lastError?.at, ctx).toBe(health?.healthy === false ? health.lastErrorAt : undefined);
            } else {
              expect(d.lastError, ctx).toBeUndefined();
            }
            if (want === 'out_of_credits') {
              const times = [credits.quota?.exceeded ? credits.quota.resetsAt : undefined, credits.cooldownUntil].filter((t) => t !== undefined) as number[];
              expect(d.until, ctx).toBe(times.length ? Math.max(...times) : undefined);
            }
            if (want === 'serving') expect(d.detail).toBe('');
            else expect(d.detail.length, ctx).toBeGreaterThan(0);
            kinds.add(d.kind);
            n++;
          }
        }
      }
    }
    expect(n).toBe(STATES.length * LOGINS.length * HEALTH.length * CREDITS.length);
    expect([...kinds].sort()).toEqual(['cooling_down', 'needs_person', 'out_of_credits', 'serving', 'starting', 'stopped']);
  });

  it('names the sign-in state next to a ready process', () => {
    const d = (login: LoginState) => statusDisplay({ status: 'serving', state: 'ready', login, now: NOW }).process;
    expect(d({ state: 'logged_in', user: 'ann' })).toBe('process ready · signed in as ann');
    expect(d({ state: 'not_applicable' })).toBe('process ready');
    expect(statusDisplay({ status: 'signing_in', state: 'ready', login: { state: 'logging_in' }, now: NOW }).process).toBe('process ready · signing in');
    expect(statusDisplay({ status: 'needs_person', state: 'ready', login: { state: 'failed', reason: 'x', rejected: true }, now: NOW }).process).toBe('process ready · sign-in refused');
  });
});

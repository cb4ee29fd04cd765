// @vitest-environment happy-dom
/**
 * Status mapping: every combination of process state, sign-in, health and credits gives exactly
 * one status (the relay's one function), and the dashboard shows exactly that one, with a
 * countdown to a reset.
 */
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AvailabilityStatus, InstanceState, LoginState } from '../../src-main/core/admin/api-types';
import { availabilityOf } from '../../src-main/core/pool/availability';
import { AvailabilityBadge, STATUS_TONE } from '../../src-renderer/components/ui';
import { Instances } from '../../src-renderer/screens/Instances';
import { Overview } from '../../src-renderer/screens/Overview';
import { useDash } from '../../src-renderer/store';
import { instance, snapshot } from './fixtures';

afterEach(cleanup);

const NOW = Date.UTC(2026, 11, 4, 12);
const STATES: InstanceState[] = ['stopped', 'starting', 'ready', 'reconnecting', 'failed', 'closed'];
const LOGINS: LoginState[] = [
  { state: 'not_applicable' },
  { state: 'logged_out' },
  { state: 'logging_in' },
  { state: 'logged_in', user: 'u' },
  { state: 'logged_in', user: 'u', quotaExceeded: true },
  { state: 'needs_manual', url: 'https://login.example/?t=1', reason: 'captcha' },
  { state: 'failed', reason: 'password refused' },
];
const HEALTH = [undefined, { healthy: true }, { healthy: false, unhealthyUntil: NOW + 30_000, lastError: 'Upstream failed.' }];
const CREDITS = [
  {},
  { quota: { exceeded: false } },
  { quota: { exceeded: true, resetsAt: NOW + 3_600_000 } },
  { quota: { exceeded: true } },
  { cooldownUntil: NOW + 60_000 },
  { cooldownUntil: NOW - 1 },
];

/** What the status must be, from the rules written out independently. */
function expected(state: InstanceState, login: LoginState, healthy: boolean, credits: (typeof CREDITS)[number]): AvailabilityStatus {
  if (state === 'stopped' || state === 'closed') return 'stopped';
  if (state === 'failed') return 'failed';
  if (state !== 'ready') return 'starting';
  if (login.state === 'logging_in') return 'signing_in';
  if (login.state === 'logged_out' || login.state === 'needs_manual' || login.state === 'failed') return 'needs_person';
  const out = (credits as { quota?: { exceeded: boolean } }).quota?.exceeded === true
    || (login.state === 'logged_in' && login.quotaExceeded === true)
    || ((credits as { cooldownUntil?: number }).cooldownUntil ?? 0) > NOW;
  if (out) return 'out_of_credits';
  return healthy ? 'serving' : 'cooling_down';
}

describe('availability status mapping', () => {
  it('every combination of process state, sign-in, health and credits gives exactly one status, shown as exactly one badge', () => {
    let n = 0;
    const seen = new Set<AvailabilityStatus>();
    const withUntil = new Set<AvailabilityStatus>();
    const shown: ReturnType<typeof availabilityOf>[] = [];
    for (const state of STATES) {
      for (const login of LOGINS) {
        for (const health of HEALTH) {
          for (const credits of CREDITS) {
            const a = availabilityOf({ name: 'acc', state, login, health, now: NOW, ...credits });
            const want = expected(state, login, health?.healthy !== false, credits);
            expect(a.status, JSON.stringify({ state, login, health, credits })).toBe(want);
            expect(a.serving).toBe(want === 'serving');
            expect(a.reason).toMatch(/^acc /);
            expect(a.reason).not.toContain('login.example');
            if (!seen.has(a.status) || (a.until !== undefined && !withUntil.has(a.status))) {
              shown.push(a);
              if (a.until !== undefined) withUntil.add(a.status);
            }
            seen.add(a.status);
            n++;
          }
        }
      }
    }
    // Each distinct status (and each with a countdown) renders as exactly one pill saying its one
    // status, with the process as secondary text.
    for (const a of shown) {
      const { container, unmount } = render(<AvailabilityBadge a={a} now={NOW} />);
      const pills = container.querySelectorAll('[data-testid="status"]');
      expect(pills).toHaveLength(1);
      expect(pills[0].getAttribute('data-kind')).toBe(a.display.kind);
      expect(container.querySelectorAll('.badge')).toHaveLength(1);
      expect(container.querySelector('.badge')!.className).toContain(`badge-${STATUS_TONE[a.display.kind]}`);
      expect(container.querySelector('.badge')!.textContent).toBe(a.display.label);
      expect(container.querySelector('[data-testid="process"]')!.textContent).toBe(a.display.process);
      unmount();
    }
    expect(n).toBe(STATES.length * LOGINS.length * HEALTH.length * CREDITS.length);
    expect([...seen].sort()).toEqual(['cooling_down', 'failed', 'needs_person', 'out_of_credits', 'serving', 'signing_in', 'starting', 'stopped']);
    expect(new Set(shown.map((a) => a.display.kind)).size).toBe(Object.keys(STATUS_TONE).length);
  });

  it('an account out of credits shows a countdown to its reset and a clear button that calls the admin API', async () => {
    const resetsAt = Date.now() + 2 * 3_600_000 + 5 * 60_000;
    const { wait: _w, ...availability } = availabilityOf({ name: 'bob', state: 'ready', login: { state: 'logged_in' }, quota: { exceeded: true, resetsAt }, now: Date.now() });
    const out = instance({ name: 'bob', availability });
    const clearCooldown = vi.fn(async () => ({ ok: true as const }));
    useDash.setState({ client: { clearCooldown } as never });
    render(<Instances snap={snapshot({ instances: [instance(), out] })} />);
    const row = screen.getByTestId('instance-bob');
    expect(row.querySelector('[data-testid="status"]')!.getAttribute('data-kind')).toBe('out_of_credits');
    expect(row.textContent).toMatch(/resets in 2h [45]m/);
    fireEvent.click(screen.getByText('Clear cool-down'));
    await vi.waitFor(() => expect(clearCooldown).toHaveBeenCalledWith('bob'));
    expect(screen.getByTestId('instance-alice').textContent).not.toContain('Clear cool-down');
  });

  it('marks an instance served through an already running app as attached', () => {
    const app = instance({ name: 'lingma-app', extra: { attached: true, appName: 'Lingma' } });
    render(<Instances snap={snapshot({ instances: [instance(), app] })} />);
    expect(screen.getByTestId('instance-lingma-app').textContent).toContain('attached to the Lingma app');
    expect(screen.getByTestId('instance-alice').textContent).not.toContain('attached');
  });

  it('the overview says when every account is out of credits, with the next reset', () => {
    const a = (name: string, until: number) => {
      const { wait: _w, ...availability } = availabilityOf({ name, state: 'ready', login: { state: 'logged_in' }, quota: { exceeded: true, resetsAt: until }, now: Date.now() });
      return instance({ name, availability });
    };
    render(<Overview snap={snapshot({ instances: [a('x', Date.now() + 3_600_000 * 5), a('y', Date.now() + 30 * 60_000 + 30_000)] })} />);
    const box = screen.getByTestId('empty-out-of-credits');
    expect(box.textContent).toContain('2 accounts are out of credits');
    expect(box.textContent).toMatch(/resets in 30m/);
    expect(screen.getAllByTestId('status').map((e) => e.getAttribute('data-kind'))).toEqual(['out_of_credits', 'out_of_credits']);
  });
});

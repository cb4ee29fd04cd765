/**
 * Desktop notifications (src-main/electron/notify.ts) with Electron's Notification injected: once
 * per change into "needs a person" or "out of credits", none when turned off, no replay when
 * turned on again, a click opens that account's login (or the password edit).
 */
import { describe, expect, it } from 'vitest';
import { statusDisplay } from '../../src-main/core/pool/status';
import type { AvailabilityStatus, LoginState, StatusDisplay } from '../../src-main/core/state-types';
import { StatusNotifier } from '../../src-main/electron/notify';
import type { TrayInstanceStatus } from '../../src-main/electron/tray';

const NOW = Date.UTC(2026, 11, 4, 12);
const st = (name: string, status: AvailabilityStatus, login: LoginState = { state: 'logged_in' }, until?: number): TrayInstanceStatus => ({
  name, display: statusDisplay({ status, state: 'ready', login, until, now: NOW }),
});

function harness(enabled = { on: true }) {
  const shown: Array<{ title: string; body: string }> = [];
  const handlers: Array<() => void> = [];
  const clicks: Array<[string, StatusDisplay['action']]> = [];
  const n = new StatusNotifier({
    create: (o) => ({
      show: () => shown.push({ title: o.title, body: o.body }),
      on: (_e: 'click', l: () => void) => handlers.push(l),
    }),
    enabled: () => enabled.on,
    onClick: (name, d) => clicks.push([name, d.action]),
    now: () => NOW,
  });
  return { n, shown, handlers, clicks, enabled };
}

describe('desktop notifications', () => {
  it('once per change into needing a person or out of credits', () => {
    const h = harness();
    h.n.update([st('ann', 'serving'), st('bob', 'serving')]);
    expect(h.shown).toEqual([]);
    h.n.update([st('ann', 'needs_person', { state: 'needs_manual', url: 'https://login.example/t', reason: 'captcha' }), st('bob', 'out_of_credits', { state: 'logged_in' }, NOW + 2 * 3_600_000)]);
    expect(h.shown).toEqual([
      { title: 'ann needs you', body: 'A captcha or verification page waits. Click to finish the sign-in as ann.' },
      { title: 'bob is out of credits', body: 'Requests go to the other accounts meanwhile. Credits reset in 2h 0m.' },
    ]);
    // The same states again (every tray refresh): nothing new.
    h.n.update([st('ann', 'needs_person', { state: 'needs_manual', url: 'https://login.example/t', reason: 'captcha' }), st('bob', 'out_of_credits', { state: 'logged_in' }, NOW + 3_600_000)]);
    expect(h.shown.length).toBe(2);
    // A different need (the password is now refused) is a change.
    h.n.update([st('ann', 'needs_person', { state: 'failed', reason: 'refused', rejected: true }), st('bob', 'out_of_credits')]);
    expect(h.shown[2]).toEqual({ title: 'ann needs you', body: 'The password was refused. Click to fix it.' });
    // Serving again, then out again: notified again.
    h.n.update([st('ann', 'serving'), st('bob', 'serving')]);
    h.n.update([st('ann', 'serving'), st('bob', 'out_of_credits')]);
    expect(h.shown.length).toBe(4);
    // Cooling down, starting, stopped: the tray shows them, no notification.
    h.n.update([st('ann', 'cooling_down'), st('bob', 'stopped')]);
    expect(h.shown.length).toBe(4);
    expect(JSON.stringify(h.shown)).not.toContain('login.example');
  });

  it('a click opens the login for that account (or the password edit)', () => {
    const h = harness();
    h.n.update([st('ann', 'needs_person', { state: 'logged_out' }), st('cat', 'needs_person', { state: 'failed', reason: 'x', rejected: true })]);
    h.handlers.forEach((f) => f());
    expect(h.clicks).toEqual([['ann', 'sign_in'], ['cat', 'fix_password']]);
  });

  it('can be turned off; turning it on again does not replay what happened meanwhile', () => {
    const h = harness({ on: false });
    h.n.update([st('ann', 'needs_person', { state: 'logged_out' })]);
    expect(h.shown).toEqual([]);
    h.enabled.on = true;
    h.n.update([st('ann', 'needs_person', { state: 'logged_out' })]);
    expect(h.shown).toEqual([]);
    h.n.update([st('ann', 'out_of_credits')]);
    expect(h.shown.map((s) => s.title)).toEqual(['ann is out of credits']);
  });

  it('an account removed and added again is a new change; no Notification support shows nothing', () => {
    const h = harness();
    h.n.update([st('ann', 'out_of_credits')]);
    h.n.update([]);
    h.n.update([st('ann', 'out_of_credits')]);
    expect(h.shown.length).toBe(2);
    const none = new StatusNotifier({ enabled: () => true, onClick: () => undefined });
    expect(none.update([st('ann', 'out_of_credits')]).map((x) => x.title)).toEqual(['ann is out of credits']);
  });
});

import { describe, expect, it, vi } from 'vitest';
import type { InstanceSnapshot, LoginState } from '../../src-main/core/backends/types';
import type { AvailabilityView } from '../../src-main/core/state-types';
import { statusDisplay } from '../../src-main/core/pool/status';
import { buildTrayModel, toMenuTemplate, TrayBinder, trayState, type TrayInput } from '../../src-main/electron/tray';

const snap = (name: string, state: InstanceSnapshot['state'], login: LoginState = { state: 'logged_in' }): InstanceSnapshot => ({
  name,
  provider: 'lingma',
  kind: 'lingma',
  state,
  login,
  restarts: 0,
});

const input = (over: Partial<TrayInput> = {}): TrayInput => ({
  instances: [snap('a', 'ready'), snap('b', 'ready')],
  paused: false,
  startAtLogin: false,
  endpointUrl: 'http://127.0.0.1:8420/v1',
  hasApiKey: true,
  ...over,
});

describe('tray state', () => {
  it('ready / degraded / down / login / paused', () => {
    expect(trayState([snap('a', 'ready'), snap('b', 'ready')], false)).toBe('ready');
    expect(trayState([snap('a', 'ready'), snap('b', 'failed')], false)).toBe('degraded');
    expect(trayState([snap('a', 'failed'), snap('b', 'reconnecting')], false)).toBe('down');
    expect(trayState([], false)).toBe('down');
    expect(trayState([snap('a', 'ready'), snap('b', 'ready', { state: 'logged_out' })], false)).toBe('login');
    expect(trayState([snap('a', 'ready', { state: 'needs_manual', url: 'https://x', reason: 'captcha' })], false)).toBe('login');
    expect(trayState([snap('a', 'ready')], true)).toBe('paused');
    const http = { ...snap('o', 'ready'), provider: 'ollama', kind: 'openai', login: { state: 'not_applicable' as const } };
    expect(trayState([http], false)).toBe('ready');
  });
});

describe('tray out-of-credits state (the relay\'s one availability answer)', () => {
  const view = (status: AvailabilityView['status'], until?: number): AvailabilityView => ({
    serving: status === 'serving', status, reason: `x ${status}`, clearable: status === 'out_of_credits', ...(until ? { until } : {}),
    display: statusDisplay({ status, state: 'ready', login: { state: 'logged_in' }, until, now: Date.now() }),
  });

  it('credits when an account is out of credits; serving counts come from the same answer', () => {
    const instances = [snap('a', 'ready'), snap('b', 'ready')];
    const avail: Record<string, AvailabilityView> = { a: view('serving'), b: view('out_of_credits', Date.now() + 2 * 3_600_000 + 10 * 60_000) };
    expect(trayState(instances, false, (n) => avail[n])).toBe('credits');
    const m = buildTrayModel(input({ instances, availability: (n) => avail[n] }));
    expect(m.icon).toBe('tray-credits');
    expect(m.tooltip).toContain('an account is out of credits');
    expect(m.tooltip).toContain('1/2 serving');
    expect(m.tooltip).toMatch(/1 out of credits, resets in 2h (9|10)m/);
    expect(m.tooltip.length).toBeLessThanOrEqual(127);
    // Sign-in still comes first; paused above all.
    // (The relay's answer is the one truth: the tray does not second-guess it from the snapshot.)
    const person: Record<string, AvailabilityView> = { a: view('needs_person'), b: avail.b };
    expect(trayState([snap('a', 'ready', { state: 'logged_out' }), snap('b', 'ready')], false, (n) => person[n])).toBe('login');
    expect(trayState(instances, true, (n) => avail[n])).toBe('paused');
    // A ready process that is cooling down is not counted as serving.
    const cooling: Record<string, AvailabilityView> = { a: view('serving'), b: view('cooling_down') };
    expect(trayState(instances, false, (n) => cooling[n])).toBe('degraded');
    expect(trayState(instances, false, () => view('serving'))).toBe('ready');
  });
});

describe('tray model', () => {
  it('says when it serves through an app that was already running', () => {
    const app = { ...snap('lingma-app', 'ready'), extra: { attached: true, appName: 'Qoder CN' } };
    const m = buildTrayModel(input({ instances: [app] }));
    expect(m.state).toBe('ready');
    expect(m.tooltip).toContain('attached to the Qoder CN app');
    expect(buildTrayModel(input({ instances: [snap('a', 'ready')] })).tooltip).not.toContain('attached');
  });

  it('icon and tooltip follow the state', () => {
    const m = buildTrayModel(input({ instances: [snap('a', 'ready'), snap('b', 'failed')] }));
    expect(m.state).toBe('degraded');
    expect(m.icon).toBe('tray-degraded');
    expect(m.tooltip).toContain('some backends unavailable');
    expect(m.tooltip).toContain('1/2 serving');
    expect(m.tooltip).toContain('http://127.0.0.1:8420/v1');
    expect(m.tooltip.length).toBeLessThanOrEqual(127);
    const l = buildTrayModel(input({ instances: [snap('a', 'ready', { state: 'failed', reason: 'x' })] }));
    expect(l.tooltip).toContain('1 needs a person');
  });

  it('menu has every action, pause label and start-at-login checkbox', () => {
    const m = buildTrayModel(input({ startAtLogin: true }));
    const ids = m.menu.filter((i) => i.type !== 'separator').map((i) => i.id);
    expect(ids).toEqual(['status', 'open-dashboard', 'copy-endpoint', 'copy-api-key', 'login-all', 'toggle-pause', 'toggle-start-at-login', 'toggle-notifications', 'quit']);
    expect(m.menu.find((i) => i.id === 'login-all')!.label).toBe('Sign In All Accounts');
    expect(m.menu.find((i) => i.id === 'toggle-notifications')).toMatchObject({ type: 'checkbox', checked: true });
    expect(buildTrayModel(input({ notifications: false })).menu.find((i) => i.id === 'toggle-notifications')!.checked).toBe(false);
    expect(m.menu.find((i) => i.id === 'toggle-pause')!.label).toBe('Pause Gateway');
    expect(m.menu.find((i) => i.id === 'toggle-start-at-login')).toMatchObject({ type: 'checkbox', checked: true });
    const p = buildTrayModel(input({ paused: true }));
    expect(p.menu.find((i) => i.id === 'toggle-pause')!.label).toBe('Resume Gateway');
    expect(p.menu.find((i) => i.id === 'copy-endpoint')!.enabled).toBe(false);
    expect(p.menu.find((i) => i.id === 'login-all')!.enabled).toBe(false);
    expect(buildTrayModel(input({ hasApiKey: false })).menu.find((i) => i.id === 'copy-api-key')!.enabled).toBe(false);
  });

  it('a gateway that failed to start shows down, the reason and a retry', () => {
    const m = buildTrayModel(input({ gatewayError: 'port 8420 is already in use; choose another port in the settings' }));
    expect(m.state).toBe('down');
    expect(m.tooltip).toContain('gateway not running');
    expect(m.tooltip).toContain('port 8420 is already in use');
    expect(m.menu.find((i) => i.id === 'toggle-pause')!.label).toBe('Start Gateway Again');
    expect(m.menu.find((i) => i.id === 'copy-endpoint')!.enabled).toBe(false);
  });

  it('menu template routes clicks to actions', () => {
    const onAction = vi.fn();
    const t = toMenuTemplate(buildTrayModel(input()).menu, onAction);
    const quit = t.find((i) => i.label === 'Quit Lingma Relay')!;
    (quit.click as () => void)();
    expect(onAction).toHaveBeenCalledWith('quit');
    expect(t.filter((i) => i.type === 'separator').length).toBe(3);
    expect(t[0].enabled).toBe(false);
    expect(t[0].click).toBeUndefined();
  });
});

describe('TrayBinder', () => {
  it('applies the model and collapses bursts of events', async () => {
    let cur = input();
    const tray = { setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn() };
    const binder = new TrayBinder({
      tray,
      buildMenu: (t) => ({ items: t }) as never,
      image: (n) => `/assets/tray/${n}.png`,
      input: () => cur,
      onAction: () => undefined,
      throttleMs: 20,
    });
    binder.refresh();
    expect(tray.setImage).toHaveBeenCalledWith('/assets/tray/tray-ready.png');
    cur = input({ instances: [snap('a', 'failed')] });
    for (let i = 0; i < 50; i++) binder.schedule();
    await vi.waitFor(() => expect(tray.setToolTip).toHaveBeenCalledTimes(2), { timeout: 2000 });
    expect(tray.setImage).toHaveBeenLastCalledWith('/assets/tray/tray-down.png');
    // Same icon again: not re-set.
    binder.refresh();
    expect(tray.setImage).toHaveBeenCalledTimes(2);
    binder.dispose();
    binder.schedule();
    expect(tray.setToolTip).toHaveBeenCalledTimes(3);
  });
});

describe('tray: one truthful state from the relay\'s status per instance', () => {
  const NOW = Date.UTC(2026, 11, 4, 12);
  const at = (status: AvailabilityView['status'], login: LoginState, until?: number): AvailabilityView => ({
    serving: status === 'serving', status, reason: 'x', clearable: false, ...(until ? { until } : {}),
    display: statusDisplay({ status, state: 'ready', login, until, now: NOW }),
  });
  const names = ['ann', 'bob', 'cat', 'dan'];
  const many = (views: AvailabilityView[]) => input({ now: NOW, instances: names.slice(0, views.length).map((n) => snap(n, 'ready')), availability: (n) => views[names.indexOf(n)] });

  it('names each account that needs a person with the action that opens its login; credits with the earliest reset', () => {
    const m = buildTrayModel(many([
      at('serving', { state: 'logged_in' }),
      at('needs_person', { state: 'needs_manual', url: 'https://login.example/x', reason: 'captcha' }),
      at('needs_person', { state: 'failed', reason: 'refused', rejected: true }),
      at('out_of_credits', { state: 'logged_in' }, NOW + 3 * 3_600_000),
    ]));
    expect(m.state).toBe('login');
    expect(m.icon).toBe('tray-login');
    expect(m.tooltip).toContain('an account needs a person');
    expect(m.tooltip).toContain('1/4 serving');
    expect(m.menu.find((i) => i.instance === 'bob')).toMatchObject({ id: 'sign-in', label: 'Finish Sign-in as bob…' });
    expect(m.menu.find((i) => i.instance === 'cat')).toMatchObject({ id: 'fix-password', label: 'Fix Password of cat…' });
    expect(m.menu.find((i) => i.instance === 'dan')).toMatchObject({ id: 'instance-status', label: 'dan: out of credits, resets in 3h 0m', enabled: false });
    // The serving account is not listed; the URL never appears.
    expect(m.menu.find((i) => i.instance === 'ann')).toBeUndefined();
    expect(JSON.stringify(m)).not.toContain('login.example');
    // Clicking the item opens that account's login.
    const onAction = vi.fn();
    const t = toMenuTemplate(m.menu, onAction);
    (t.find((i) => i.label === 'Finish Sign-in as bob…')!.click as () => void)();
    expect(onAction).toHaveBeenCalledWith('sign-in', 'bob');
    (t.find((i) => i.label === 'Fix Password of cat…')!.click as () => void)();
    expect(onAction).toHaveBeenCalledWith('fix-password', 'cat');
    expect(t.find((i) => i.label?.startsWith('dan:'))!.click).toBeUndefined();
  });

  it('out of credits (earliest reset), degraded when some cannot serve, ready, down, paused', () => {
    const credits = buildTrayModel(many([at('serving', { state: 'logged_in' }), at('out_of_credits', { state: 'logged_in' }, NOW + 90 * 60_000), at('out_of_credits', { state: 'logged_in' }, NOW + 30 * 60_000)]));
    expect(credits.state).toBe('credits');
    expect(credits.tooltip).toContain('2 out of credits, resets in 30m');
    const cooling = buildTrayModel(many([at('serving', { state: 'logged_in' }), at('cooling_down', { state: 'logged_in' }, NOW + 45_000)]));
    expect(cooling.state).toBe('degraded');
    expect(cooling.menu.find((i) => i.instance === 'bob')!.label).toBe('bob: cooling down, retry in 45s');
    expect(buildTrayModel(many([at('serving', { state: 'logged_in' }), at('serving', { state: 'logged_in' })])).state).toBe('ready');
    expect(buildTrayModel(many([at('cooling_down', { state: 'logged_in' }), at('stopped', { state: 'logged_in' })])).state).toBe('down');
    const paused = buildTrayModel({ ...many([at('needs_person', { state: 'logged_out' })]), paused: true });
    expect(paused.state).toBe('paused');
    expect(paused.menu.some((i) => i.instance)).toBe(false);
  });

  it('the binder hands every refresh\'s statuses on (for the notifications)', () => {
    const seen: string[][] = [];
    const binder = new TrayBinder({
      tray: { setImage: vi.fn(), setToolTip: vi.fn(), setContextMenu: vi.fn() },
      buildMenu: (t) => ({ items: t }) as never,
      image: (n) => n,
      input: () => many([at('serving', { state: 'logged_in' }), at('needs_person', { state: 'logged_out' })]),
      onAction: () => undefined,
      onStatuses: (s) => seen.push(s.map((x) => `${x.name}:${x.display.kind}`)),
    });
    binder.refresh();
    expect(seen).toEqual([['ann:serving', 'bob:needs_person']]);
    binder.dispose();
  });
});

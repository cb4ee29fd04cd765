// @vitest-environment happy-dom
/**
 * The dashboard tells the truth: a broken stream is an amber "200 · stream broken" in Live and
 * Usage, Live keeps finished requests across a reload, log search reads structured fields, the
 * connection banner, tabs on arrow keys, the command palette, the theme switch, named nav links.
 */
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdminLiveRequest } from '../../src-main/core/admin/api-types';
import { Shell } from '../../src-renderer/App';
import { CommandPalette, filterCommands, type PaletteCommand } from '../../src-renderer/components/CommandPalette';
import { isOffline } from '../../src-renderer/components/ConnectionBanner';
import { OutcomeBadge } from '../../src-renderer/components/OutcomeBadge';
import { nextTab, TabList } from '../../src-renderer/components/TabList';
import { resolveTheme, setTheme, storedTheme } from '../../src-renderer/lib/theme';
import { Live } from '../../src-renderer/screens/Live';
import { filterLogs, searchText } from '../../src-renderer/screens/Logs';
import { mergeFinished, reduce, useDash } from '../../src-renderer/store';
import { snapshot } from './fixtures';

afterEach(() => {
  cleanup();
  act(() => useDash.setState({ socket: 'open' }));
});

const done = (over: Partial<AdminLiveRequest> = {}): AdminLiveRequest => ({
  id: 'id-1', requestId: 'req-broken-000001', protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'coder',
  stream: true, apiKeyId: 'k', startedAt: Date.now() - 3000, firstByteAt: Date.now() - 2500, finishedAt: Date.now() - 1000,
  instance: 'alice', status: 200, ...over,
});

describe('a broken stream is amber, not green', () => {
  it('OutcomeBadge: ok green, stream broken amber, failed red', () => {
    const { container } = render(<><OutcomeBadge status={200} /><OutcomeBadge status={200} errorCode="upstream_error" /><OutcomeBadge status={502} errorCode="upstream_error" /></>);
    const kinds = [...container.querySelectorAll('[data-testid="outcome"]')].map((e) => [e.getAttribute('data-kind'), e.querySelector('.badge')!.className, e.textContent]);
    expect(kinds).toEqual([
      ['ok', 'badge badge-ok', '200'],
      ['stream_broken', 'badge badge-warn', '200 · stream broken'],
      ['failed', 'badge badge-bad', '502 upstream_error'],
    ]);
  });

  it('Live shows a finished broken stream as "200 · stream broken"', () => {
    render(<Live snap={snapshot()} finished={[done({ errorCode: 'upstream_error' })]} />);
    const b = screen.getByText('200 · stream broken');
    expect(b.className).toContain('badge-warn');
    expect(screen.queryByText('Nothing in flight')).toBeNull();
  });
});

describe('Live after a reload', () => {
  it("a snapshot's finished requests fill the list, merged with what the page saw, newest first, no duplicates", () => {
    const a = done({ id: 'a', finishedAt: 1000 });
    const b = done({ id: 'b', finishedAt: 3000 });
    const c = done({ id: 'c', finishedAt: 2000 });
    expect(mergeFinished([a], [b, a, c]).map((r) => r.id)).toEqual(['b', 'c', 'a']);
    const next = reduce({ finished: [], stale: false }, { type: 'snapshot', snapshot: snapshot({ finished: [b, c] }) });
    expect(next.finished.map((r) => r.id)).toEqual(['b', 'c']);
  });
});

describe('log search reads the structured fields', () => {
  const lines = [
    { time: 1, level: 'info' as const, msg: 'request', requestId: 'abcdef123456-rest', fields: { status: 502, model: 'coder', url: '/v1/chat/completions' } },
    { time: 2, level: 'warn' as const, msg: 'stream failed after first byte', instance: 'alice', fields: { code: 'upstream_error', status: 502 } },
    { time: 3, level: 'info' as const, msg: 'request', fields: { status: 200, model: 'other', url: '/v1/models' } },
  ];
  const f = (text: string, requestId = '') => filterLogs(lines, { level: 'trace', instance: '', requestId, text }).map((l) => l.time);
  it('finds status, error type, instance and model, not only the message', () => {
    expect(searchText(lines[0])).toContain('model=coder');
    expect(f('status=502')).toEqual([1, 2]);
    expect(f('upstream_error')).toEqual([2]);
    expect(f('alice')).toEqual([2]);
    expect(f('model=coder')).toEqual([1]);
    expect(f('coder 502')).toEqual([]); // one phrase, not words
  });
  it('request id: the 12 characters the table shows find the line', () => {
    expect(f('', 'abcdef123456')).toEqual([1]);
  });
});

describe('connection banner', () => {
  it('shows when the socket is down, disables actions and goes when it is back', () => {
    expect(isOffline('open')).toBe(false);
    expect(isOffline('connecting')).toBe(false);
    expect(isOffline('reconnecting')).toBe(true);
    act(() => useDash.setState({ socket: 'open' }));
    render(<Shell snap={snapshot()} route="settings" />);
    expect(screen.queryByTestId('conn-banner')).toBeNull();
    expect((screen.getByTestId('content') as HTMLFieldSetElement).disabled).toBe(false);
    act(() => useDash.setState({ socket: 'reconnecting' }));
    expect(screen.getByTestId('conn-banner').textContent).toMatch(/Lost the connection/);
    expect((screen.getByTestId('content') as HTMLFieldSetElement).disabled).toBe(true);
    act(() => useDash.setState({ socket: 'open' }));
    expect(screen.queryByTestId('conn-banner')).toBeNull();
  });

  it('every sidebar link has an accessible name (the collapsed sidebar shows icons only)', () => {
    render(<Shell snap={snapshot()} route="overview" />);
    for (const a of screen.getByRole('navigation', { name: 'Sections' }).querySelectorAll('a')) {
      expect(a.getAttribute('aria-label')).toBeTruthy();
    }
  });

  it("a sidebar badge is in the link's name in words, and the name still contains the visible label (axe: label-content-name-mismatch)", () => {
    const live = [done({ id: 'a', finishedAt: undefined, status: undefined }), done({ id: 'b', finishedAt: undefined, status: undefined })];
    render(<Shell snap={snapshot({ live })} route="overview" />);
    const link = screen.getByRole('link', { name: 'Live requests, 2 in flight' });
    // The digits are drawn, not read: the name says them.
    expect(link.querySelector('.nav-count')!.getAttribute('aria-hidden')).toBe('true');
    const visible = [...link.querySelectorAll('span:not([aria-hidden])')].map((e) => e.textContent).join(' ');
    expect(link.getAttribute('aria-label')).toContain(visible);
  });
});

describe('tabs follow the arrow-key pattern', () => {
  it('nextTab wraps and jumps', () => {
    expect(nextTab('ArrowRight', 2, 3)).toBe(0);
    expect(nextTab('ArrowLeft', 0, 3)).toBe(2);
    expect(nextTab('Home', 2, 3)).toBe(0);
    expect(nextTab('End', 0, 3)).toBe(2);
    expect(nextTab('a', 0, 3)).toBeUndefined();
  });
  it('one tab in the Tab order; arrows select and move focus', () => {
    let current = 'a';
    const items = [{ id: 'a', title: 'A' }, { id: 'b', title: 'B' }];
    const { rerender } = render(<TabList label="Things" items={items} current={current} onSelect={(id) => { current = id; }} />);
    const tabs = screen.getAllByRole('tab');
    expect(tabs.map((t) => t.tabIndex)).toEqual([0, -1]);
    fireEvent.keyDown(tabs[0], { key: 'ArrowRight' });
    expect(current).toBe('b');
    expect(document.activeElement).toBe(tabs[1]);
    rerender(<TabList label="Things" items={items} current={current} onSelect={(id) => { current = id; }} />);
    expect(screen.getAllByRole('tab').map((t) => t.getAttribute('aria-selected'))).toEqual(['false', 'true']);
  });
});

describe('command palette', () => {
  it('filters by words, moves with arrows and runs on Enter, closes on Escape', () => {
    const ran: string[] = [];
    let closed = 0;
    const cmds: PaletteCommand[] = ['Go to Usage', 'Go to Logs', 'Theme: dark'].map((t) => ({ id: t.replace(/\W+/g, '-'), title: t, run: () => ran.push(t) }));
    expect(filterCommands(cmds, 'go lo').map((c) => c.title)).toEqual(['Go to Logs']);
    render(<CommandPalette commands={cmds} onClose={() => closed++} />);
    const box = screen.getByRole('combobox');
    expect(document.activeElement).toBe(box);
    fireEvent.change(box, { target: { value: 'go' } });
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(ran).toEqual(['Go to Logs']);
    expect(closed).toBe(1);
    fireEvent.keyDown(box, { key: 'Escape' });
    expect(closed).toBe(2);
  });

  it('Ctrl+K opens it from anywhere in the dashboard', () => {
    render(<Shell snap={snapshot()} route="overview" />);
    expect(screen.queryByTestId('palette')).toBeNull();
    fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    expect(screen.getByTestId('palette')).toBeTruthy();
    expect(screen.getByText('Go to Usage')).toBeTruthy();
  });
});

describe('theme', () => {
  it('follows the system unless a person chose, and the choice is kept', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    setTheme('dark');
    expect(document.documentElement.dataset.theme).toBe('dark');
    expect(storedTheme()).toBe('dark');
    setTheme('system');
    expect(storedTheme()).toBe('system');
  });
});

describe('Settings: desktop notifications', () => {
  it('in the desktop app: a switch that reads and writes the setting', async () => {
    const { DesktopNotifications } = await import('../../src-renderer/components/DesktopNotifications');
    let on = true;
    const sets: boolean[] = [];
    window.relayDesktop = { admin: () => ({ url: 'http://127.0.0.1:1', token: 't' }), notifications: async () => on, setNotifications: async (v: boolean) => { sets.push(v); on = v; return on; } };
    try {
      render(<DesktopNotifications />);
      const box = await screen.findByTestId('notifications-toggle') as HTMLInputElement;
      await act(async () => { await Promise.resolve(); });
      expect(box.checked).toBe(true);
      await act(async () => { fireEvent.click(box); await Promise.resolve(); });
      expect(sets).toEqual([false]);
      expect(box.checked).toBe(false);
    } finally {
      delete window.relayDesktop;
    }
  });
  it('in a browser: says there are none, no switch', async () => {
    const { DesktopNotifications } = await import('../../src-renderer/components/DesktopNotifications');
    render(<DesktopNotifications />);
    expect(screen.queryByTestId('notifications-toggle')).toBeNull();
    expect(screen.getByTestId('notifications-card').textContent).toMatch(/desktop app/);
  });
});

// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { Connect } from '../../src-renderer/screens/Connect';
import { useDash } from '../../src-renderer/store';
import type { ClientsView } from '../../src-main/core/admin/api-types';
import { snapshot } from './fixtures';

type Call = { method: string; url: string; body?: unknown };

function fakeApi(view: ClientsView) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    let body: unknown = view;
    if (url.endsWith('/plan')) body = { id: 'claude', title: 'Claude Code', path: '/home/me/.claude/settings.json', format: 'json', exists: true, changed: true, diff: '--- ~/.claude/settings.json\n+++ ~/.claude/settings.json\n@@ -1,2 +1,4 @@\n {\n+  "env": {}\n-  "x": 1\n }\n' };
    if (url.endsWith('/apply')) body = { id: 'claude', title: 'Claude Code', path: '/home/me/.claude/settings.json', format: 'json', exists: true, changed: true, diff: '', written: true };
    if (url.endsWith('/restore')) body = { id: 'claude', path: '/home/me/.claude/settings.json', action: 'restored', diff: '' };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  useDash.setState({ client: new AdminClient({ url: 'http://127.0.0.1:8420', token: 'tok' }, fn as unknown as typeof fetch), toasts: [] });
  return calls;
}

const status = (over: Partial<ClientsView['clients'][number]> = {}) => ({
  id: 'claude', title: 'Claude Code', path: '/home/me/.claude/settings.json', format: 'json' as const, exists: true, configured: false, hasBackup: false, ...over,
});

beforeEach(() => useDash.setState({ client: undefined, toasts: [] }));
afterEach(() => cleanup());

describe('Connect a client', () => {
  it('previews the diff, writes only after "Write these changes", with the chosen model', async () => {
    const calls = fakeApi({ model: 'coder', clients: [status()] });
    render(<Connect snap={snapshot()} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Preview changes' }));
    const diff = await screen.findByTestId('diff-claude');
    expect(diff.querySelector('.diff-add')?.textContent).toContain('"env": {}');
    expect(diff.querySelector('.diff-del')?.textContent).toContain('"x": 1');
    expect(calls.some((c) => c.url.endsWith('/apply'))).toBe(false);
    fireEvent.click(screen.getByTestId('apply-claude'));
    await waitFor(() => expect(calls.find((c) => c.url.endsWith('/apply'))?.body).toEqual({ model: 'coder' }));
    await waitFor(() => expect(useDash.getState().toasts.map((t) => t.text)).toContain('Claude Code settings written (backup kept)'));
  });

  it('offers "Restore previous" when a backup exists, after a confirmation', async () => {
    const calls = fakeApi({ model: 'coder', clients: [status({ configured: true, hasBackup: true })] });
    render(<Connect snap={snapshot()} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Restore previous' }));
    expect(calls.some((c) => c.url.endsWith('/restore'))).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Put the old file back' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.url.endsWith('/admin/clients/claude/restore'))).toBe(true));
  });

  it('says what to do when nothing can be written', async () => {
    fakeApi({ problem: 'No API key can be written: create one in Settings first.', clients: [] });
    render(<Connect snap={snapshot()} />);
    expect(await screen.findByTestId('empty-clients')).toHaveProperty('textContent', expect.stringContaining('create one in Settings'));
  });
});

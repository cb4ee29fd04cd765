// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { Shell } from '../../src-renderer/App';
import { Aliases } from '../../src-renderer/screens/Aliases';
import { Overview } from '../../src-renderer/screens/Overview';
import { KeysCard } from '../../src-renderer/components/Manage/KeysCard';
import { ProvidersManager } from '../../src-renderer/components/Manage/ProvidersManager';
import { useDash } from '../../src-renderer/store';
import { snapshot } from './fixtures';

type Call = { method: string; url: string; body?: any };

function fakeFetch(answer: (c: Call) => { status?: number; body?: unknown } = () => ({ body: { ok: true } })) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const a = answer(c);
    return new Response(JSON.stringify(a.body ?? {}), { status: a.status ?? 200, headers: { 'content-type': 'application/json' } });
  });
  useDash.setState({ client: new AdminClient({ url: 'http://127.0.0.1:8420', token: 'tok' }, fn as unknown as typeof fetch), toasts: [] });
  return calls;
}

const FULL_KEY = 'sk-relay-test-key-0123456789abcdef';

beforeEach(() => {
  useDash.setState({ client: undefined, snap: undefined, finished: [], stale: false, auth: 'checking', toasts: [] });
});
afterEach(() => cleanup());

describe('Overview key and snippet', () => {
  it('never prints the key in the snippet while the card above shows it masked; the model is selectable', () => {
    render(<Overview snap={snapshot({ providers: [{ name: 'lingma', kind: 'lingma', models: ['lingma/qwen3-coder', 'lingma/qwen3-max'] }] })} />);
    expect(screen.getByTestId('api-key').textContent).not.toContain(FULL_KEY);
    expect(screen.getByTestId('snippet').textContent).not.toContain(FULL_KEY);
    expect(screen.getByTestId('snippet').textContent).toContain('sk-relay-te');
    fireEvent.change(screen.getByTestId('snippet-model'), { target: { value: 'lingma/qwen3-max' } });
    expect(screen.getByTestId('snippet').textContent).toContain('model="lingma/qwen3-max"');
    fireEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(screen.getByTestId('snippet').textContent).toContain(FULL_KEY);
  });
});

describe('app-wide aliases banner', () => {
  it('shows on other screens when the aliases file is broken, linking to Aliases; not when it is fine', () => {
    const broken = snapshot({ aliasesReload: { at: 1, ok: false, source: '/x/aliases.yaml', error: 'aliases file /x/aliases.yaml is not valid YAML/JSON: bad', aliases: 1 } });
    const { unmount } = render(<Shell snap={broken} route="settings" />);
    const banner = screen.getByTestId('aliases-broken');
    expect(banner.textContent).toContain('not valid YAML');
    expect(within(banner).getByRole('link', { name: 'Open Aliases' }).getAttribute('href')).toBe('#/aliases');
    unmount();
    render(<Shell snap={snapshot()} route="settings" />);
    expect(screen.queryByTestId('aliases-broken')).toBeNull();
  });
});

describe('Aliases', () => {
  const snap = () => snapshot({
    aliases: [
      { name: 'default', chain: ['lingma/qwen3-coder'], expanded: ['lingma/qwen3-coder'], pattern: false, targets: [{ label: 'lingma/qwen3-coder', provider: 'lingma', ready: 1, total: 1, status: 'ok' }] },
      { name: 'odd', chain: ['lingma/ghost'], expanded: ['lingma/ghost'], pattern: false, targets: [{ label: 'lingma/ghost', provider: 'lingma', ready: 1, total: 1, status: 'ok', unknownModel: true }] },
    ],
    aliasesRaw: { default: 'lingma/qwen3-coder', odd: { chain: ['lingma/ghost'] } },
  });

  it('labels default as the catch-all and flags unknown models red', () => {
    render(<Aliases snap={snap()} />);
    expect(screen.getByTestId('alias-default').textContent).toContain('catch-all');
    expect(screen.getByTestId('alias-odd').textContent).toContain('unknown model');
    expect(screen.getByTestId('alias-default').textContent).not.toContain('unknown model');
  });

  it('shows each hop\'s options under the chain', () => {
    render(<Aliases snap={snapshot({ ...snap(), aliasesRaw: { default: 'lingma/qwen3-coder', odd: { chain: [{ target: 'lingma/ghost', firstByteTimeoutMs: 4000, options: { toolEmulation: true } }] } } })} />);
    expect(screen.getByTestId('hop-notes').textContent).toBe('lingma/ghost: first byte within 4000 ms, tools emulated');
  });

  it('hop options are editable and saved on the hop', async () => {
    const calls = fakeFetch();
    render(<Aliases snap={snap()} />);
    fireEvent.click(within(screen.getByTestId('alias-odd')).getByRole('button', { name: 'Edit' }));
    fireEvent.change(screen.getByLabelText(/Chain/), { target: { value: 'lingma/ghost\nlingma/qwen3-coder' } });
    expect(within(screen.getByTestId('alias-odd-hops')).getAllByTestId('unknown-model')).toHaveLength(1);
    fireEvent.change(screen.getByLabelText('First-byte timeout for lingma/qwen3-coder'), { target: { value: '50' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save alias' }));
    expect(await screen.findByText(/at least 100/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('First-byte timeout for lingma/qwen3-coder'), { target: { value: '5000' } });
    fireEvent.click(screen.getByLabelText('Tool emulation for lingma/qwen3-coder'));
    fireEvent.click(screen.getByRole('button', { name: 'Save alias' }));
    await waitFor(() => expect(calls.at(-1)).toMatchObject({
      method: 'PUT',
      body: { aliases: { default: 'lingma/qwen3-coder', odd: { chain: ['lingma/ghost', { target: 'lingma/qwen3-coder', firstByteTimeoutMs: 5000, options: { toolEmulation: true } }] } } },
    }));
  });

  it('saving over a broken file shows the diff and sends confirm only when the person agrees', async () => {
    const calls = fakeFetch((c) => (c.body?.confirm
      ? { body: { ok: true, warnings: [] } }
      : { status: 409, body: { error: { message: 'broken', type: 'invalid_request_error', code: 'aliases_file_broken', param: 'confirm' }, problem: 'not valid YAML', diff: '--- a\n+++ a\n-fast: [x\n+odd: lingma/ghost\n' } }));
    render(<Aliases snap={snap()} />);
    fireEvent.click(within(screen.getByTestId('alias-default')).getByRole('button', { name: 'Delete' }));
    fireEvent.click(screen.getByRole('button', { name: 'Delete default' }));
    const dialog = await screen.findByTestId('aliases-overwrite');
    expect(within(dialog).getByTestId('aliases-overwrite-diff').textContent).toContain('-fast: [x');
    expect(calls).toHaveLength(1);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Overwrite the broken file' }));
    await waitFor(() => expect(calls.at(-1)?.body).toMatchObject({ confirm: true, aliases: { odd: { chain: ['lingma/ghost'] } } }));
    await waitFor(() => expect(screen.queryByTestId('aliases-overwrite')).toBeNull());
  });

  it('the YAML tab shows parse errors inline with line and column and will not save them', async () => {
    const calls = fakeFetch((c) => (c.method === 'GET' ? { body: { text: 'fast: lingma/qwen3-coder\n', warnings: [] } } : { body: { ok: true, warnings: [] } }));
    render(<Aliases snap={snap()} />);
    fireEvent.click(screen.getByRole('tab', { name: 'YAML' }));
    const area = await screen.findByLabelText(/Aliases file/);
    expect((area as HTMLTextAreaElement).value).toBe('fast: lingma/qwen3-coder\n');
    fireEvent.change(area, { target: { value: 'fast: lingma/qwen3-coder\nbad: [x\n' } });
    expect(screen.getByTestId('yaml-errors').textContent).toMatch(/Line \d+, column \d+/);
    expect((screen.getByRole('button', { name: 'Save file' }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(area, { target: { value: '# mine\nfast: lingma/qwen3-coder\n' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save file' }));
    await waitFor(() => expect(calls.at(-1)).toMatchObject({ method: 'PUT', body: { text: '# mine\nfast: lingma/qwen3-coder\n' } }));
  });

  it('Test sends a tiny request and shows the path it took', async () => {
    fakeFetch(() => ({ body: { ok: true, status: 200, model: 'default', resolved: 'lingma/qwen3-coder', path: [{ target: 'lingma/qwen3-coder', instance: 'alice', outcome: 'first_byte' }], requestId: 'r' } }));
    render(<Aliases snap={snap()} />);
    fireEvent.click(within(screen.getByTestId('alias-default')).getByRole('button', { name: 'Test' }));
    expect((await screen.findByTestId('test-default')).textContent).toContain('answered by lingma/qwen3-coder');
    expect(screen.getByTestId('test-default').textContent).toContain('(alice)');
  });
});

describe('API keys', () => {
  const keys = [
    { id: 'dash00000001', name: 'generated', prefix: 'sk-relay-ab…', source: 'generated', revocable: true, dashboard: true, editable: false, limits: {}, requestsToday: 12, tokensToday: 3400, lastUsed: Date.UTC(2026, 0, 2, 3, 4) },
    { id: 'lapt00000002', name: 'laptop', prefix: 'sk-relay-cd…', source: 'created', revocable: true, editable: true, limits: { rpm: 30 }, requestsToday: 0, tokensToday: 0 },
  ];

  it('shows usage today and limits; the dashboard key asks for a replacement instead of a one-click revoke', async () => {
    const calls = fakeFetch((c) => (c.url.endsWith('/replace') ? { body: { ok: true, revoked: 'dash00000001', id: 'new000000003', key: 'sk-relay-brand-new-key-000000' } } : { body: { ok: true } }));
    render(<KeysCard snap={snapshot({ keys })} />);
    expect(screen.getByTestId('key-usage-dash00000001').textContent).toContain('12 requests');
    expect(screen.getByTestId('key-usage-lapt00000002').textContent).toContain('30 rpm');
    const dash = screen.getByTestId('key-dash00000001');
    expect(within(dash).queryByRole('button', { name: 'Revoke' })).toBeNull();
    fireEvent.click(within(dash).getByRole('button', { name: 'Revoke…' }));
    const panel = screen.getByTestId('replace-key');
    fireEvent.click(within(panel).getByRole('button', { name: 'Revoke and replace' }));
    await waitFor(() => expect(calls.at(-1)).toMatchObject({ method: 'POST', url: expect.stringContaining('/admin/keys/dash00000001/replace'), body: { create: true } }));
    expect((await screen.findByTestId('new-key')).textContent).toContain('sk-relay-brand-new-key-000000');
    // Another key keeps the one-click confirm.
    expect(within(screen.getByTestId('key-lapt00000002')).getByRole('button', { name: 'Revoke' })).toBeTruthy();
  });

  it('limits are edited with the shared schema; empty clears', async () => {
    const calls = fakeFetch();
    render(<KeysCard snap={snapshot({ keys })} />);
    fireEvent.click(within(screen.getByTestId('key-lapt00000002')).getByRole('button', { name: 'Limits' }));
    fireEvent.change(screen.getByLabelText('Requests / minute'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save limits' }));
    expect(await screen.findByText(/whole number from 1/)).toBeTruthy();
    expect(calls).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Requests / minute'), { target: { value: '' } });
    fireEvent.change(screen.getByLabelText('Tokens / day'), { target: { value: '5000' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save limits' }));
    await waitFor(() => expect(calls.at(-1)).toMatchObject({ method: 'PATCH', body: { tokensPerDay: 5000, clear: ['rpm'] } }));
  });
});

describe('Providers', () => {
  it('lists keys only as set, validates the form with the shared schema, and adds', async () => {
    const managedProviders = [{ name: 'router', baseUrl: 'https://openrouter.ai/api/v1', hasApiKey: true, headerNames: ['HTTP-Referer'], source: 'dashboard' as const }];
    const calls = fakeFetch(() => ({ status: 201, body: { ok: true, providers: [] } }));
    render(<ProvidersManager snap={snapshot({ managedProviders })} />);
    const row = screen.getByTestId('managed-provider-router');
    expect(row.textContent).toContain('key set');
    fireEvent.click(screen.getByRole('button', { name: 'Add provider' }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'vllm' } });
    fireEvent.change(screen.getByLabelText('Base URL'), { target: { value: 'ftp://x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add provider' }));
    expect(await screen.findByText(/base URL, e.g./)).toBeTruthy();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Base URL'), { target: { value: 'http://10.0.0.5:8000/v1' } });
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'sk-secret-value-1' } });
    fireEvent.change(screen.getByLabelText(/Models/), { target: { value: 'qwen\nllama' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add provider' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'POST')?.body).toMatchObject({ name: 'vllm', baseUrl: 'http://10.0.0.5:8000/v1', apiKey: 'sk-secret-value-1', models: ['qwen', 'llama'] }));
    await waitFor(() => expect(screen.queryByTestId('prov-new-form')).toBeNull());
    expect(document.body.textContent).not.toContain('sk-secret-value-1');
  });
});

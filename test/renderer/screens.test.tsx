// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { App, TokenGate } from '../../src-renderer/App';
import { TOKEN_KEY } from '../../src-renderer/api/connection';
import { Aliases } from '../../src-renderer/screens/Aliases';
import { Instances } from '../../src-renderer/screens/Instances';
import { Live } from '../../src-renderer/screens/Live';
import { Logs } from '../../src-renderer/screens/Logs';
import { Overview } from '../../src-renderer/screens/Overview';
import { Settings } from '../../src-renderer/screens/Settings';
import { Usage } from '../../src-renderer/screens/Usage';
import { signIn, signInOutcome, useDash } from '../../src-renderer/store';
import type { LoginState } from '../../src-main/core/admin/api-types';
import { instance, snapshot } from './fixtures';

type Call = { method: string; url: string; body?: unknown; headers: Record<string, string> };

/** A fetch that records calls and answers from a table (status, body). */
function fakeFetch(answer: (c: Call) => { status?: number; body?: unknown } = () => ({ body: { ok: true } })) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined, headers: (init.headers ?? {}) as Record<string, string> };
    calls.push(c);
    const a = answer(c);
    return new Response(JSON.stringify(a.body ?? {}), { status: a.status ?? 200, headers: { 'content-type': 'application/json' } });
  });
  return { calls, fn: fn as unknown as typeof fetch };
}

function useClient(f: ReturnType<typeof fakeFetch>) {
  useDash.setState({ client: new AdminClient({ url: 'http://127.0.0.1:8420', token: 'tok-123' }, f.fn), toasts: [] });
}

beforeEach(() => {
  useDash.setState({ client: undefined, snap: undefined, finished: [], stale: false, auth: 'checking', toasts: [] });
});
afterEach(() => {
  cleanup();
  window.sessionStorage.clear();
  delete window.relayDesktop;
});

describe('Overview', () => {
  it('tells a new user to add an account when nothing is configured', () => {
    render(<Overview snap={snapshot({ instances: [], accounts: [], aliases: [] })} />);
    expect(screen.getByTestId('empty-no-backends').textContent).toMatch(/Add your first account/);
    expect(screen.getByRole('link', { name: 'Add a Lingma account' }).getAttribute('href')).toBe('#/instances');
  });

  it('asks for a person when an account is logged out, naming it and why', () => {
    render(<Overview snap={snapshot({ instances: [instance({ login: { state: 'logged_out' } })] })} />);
    expect(screen.getByTestId('empty-login-needed').textContent).toMatch(/alice needs you/);
    expect(screen.getByTestId('empty-login-needed').textContent).toMatch(/alice: not signed in/);
  });

  it('says why when nothing serves', () => {
    render(<Overview snap={snapshot({ instances: [instance({ state: 'failed', reason: 'Lingma binary not found' })] })} />);
    expect(screen.getByTestId('empty-none-ready').textContent).toMatch(/alice: stopped \(the process failed\)/);
  });

  it('the Serving card names what is not serving and why, not every name', () => {
    const NOW = Date.now();
    const snap = snapshot({ instances: [
      instance({ name: 'ann' }),
      instance({ name: 'bob', login: { state: 'failed', reason: 'refused', rejected: true } }),
      instance({ name: 'cat', health: { instance: 'cat', healthy: false, consecutiveFailures: 3, lastError: 'Upstream 500', lastErrorAt: NOW - 1000, unhealthyUntil: NOW + 30_000 } }),
      instance({ name: 'dan' }),
    ] });
    render(<Overview snap={snap} />);
    const stat = screen.getByTestId('stat-ready').textContent!;
    expect(stat).toContain('2 / 4');
    expect(stat).toContain('1 needs a person · 1 cooling down');
    const glance = screen.getByTestId('backends-glance');
    expect(glance.textContent).toContain('Not serving');
    expect(screen.getByTestId('not-serving-bob').textContent).toContain('the password was refused');
    expect(screen.getByTestId('not-serving-cat').textContent).toContain('Upstream 500');
    expect(screen.queryByTestId('not-serving-ann')).toBeNull();
  });

  it('shows endpoint, masked key, stats and client setup with the real values', () => {
    const snap = snapshot({ counters: [{ time: 1, rps: 3, errors: 1, inFlight: 2, queued: 0 }] });
    render(<Overview snap={snap} />);
    expect(screen.getByTestId('endpoint-url').textContent).toBe('http://127.0.0.1:8420/v1');
    expect(screen.getByTestId('api-key').textContent).not.toContain('0123456789abcdef');
    fireEvent.click(screen.getByRole('button', { name: 'Show' }));
    expect(screen.getByTestId('api-key').textContent).toBe('sk-relay-test-key-0123456789abcdef');
    expect(screen.getByTestId('stat-ready').textContent).toContain('1 / 1');
    expect(screen.getByText('75%')).toBeTruthy();
    fireEvent.click(screen.getByRole('tab', { name: 'Codex CLI' }));
    expect(screen.getByTestId('snippet').textContent).toContain('wire_api = "responses"');
    expect(screen.getByTestId('snippet').textContent).toContain('http://127.0.0.1:8420/v1');
  });

  it('offers what discovery found, and uses a server only when the person presses Use it', async () => {
    const f = fakeFetch();
    useClient(f);
    const discovery = {
      scanning: false, scannedAt: 1, probed: [{ id: 'ollama' as const, port: 11434 }],
      servers: [
        { id: 'ollama' as const, label: 'Ollama', port: 11434, baseUrl: 'http://127.0.0.1:11434/v1', models: ['qwen3:8b', 'llama3.2:3b', 'nomic-embed-text'], status: 'offered' as const },
        { id: 'vllm' as const, label: 'vLLM', port: 8000, baseUrl: 'http://127.0.0.1:8000/v1', models: ['m'], status: 'in_use' as const },
      ],
      lingma: { installed: true as const, label: 'ide-plugin', version: '2.5.1', inUse: false },
    };
    render(<Overview snap={snapshot({ instances: [], accounts: [], aliases: [], discovery, accountsEditable: false })} />);
    expect(screen.getByTestId('discovered-ollama').textContent).toContain('Found Ollama on :11434 with 3 models');
    expect(screen.queryByTestId('discovered-vllm')).toBeNull();
    expect(screen.getByTestId('discovered-lingma').textContent).toMatch(/Lingma is installed \(ide-plugin 2\.5\.1\)/);
    expect(f.calls).toHaveLength(0);
    fireEvent.click(screen.getByRole('button', { name: 'Use it' }));
    await waitFor(() => expect(f.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST http://127.0.0.1:8420/admin/discovery/ollama/use']));
    fireEvent.click(screen.getByRole('button', { name: 'Scan again' }));
    await waitFor(() => expect(f.calls.at(-1)?.url).toBe('http://127.0.0.1:8420/admin/discovery/scan'));
  });

  it('shows no discovery card when nothing is left to offer', () => {
    const discovery = { scanning: false, scannedAt: 1, probed: [], servers: [] };
    render(<Overview snap={snapshot({ discovery })} />);
    expect(screen.queryByTestId('discovery-card')).toBeNull();
  });
});

describe('Accounts and instances: one table', () => {
  const accounts = [
    { name: 'alice', username: 'alice@example.com', hasPassword: true, source: 'runtime' },
    { name: 'bob', username: 'bob@example.com', hasPassword: true, source: 'runtime' },
    { name: 'carol', username: 'carol@example.com', hasPassword: true, source: 'runtime' },
  ];

  it('one row per account with the one status, the process as secondary text, and the action that matches', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Instances snap={snapshot({ accounts, instances: [
      instance({ inFlight: 1, limit: 2 }),
      instance({ name: 'bob', login: { state: 'needs_manual', url: 'https://lingma.example/login?x=1', reason: 'A captcha needs a person.' } }),
      instance({ name: 'carol', login: { state: 'logged_out' } }),
    ] })} />);
    const alice = screen.getByTestId('instance-alice');
    expect(alice.querySelectorAll('[data-testid=status]')).toHaveLength(1);
    expect(alice.querySelector('[data-testid=status]')!.getAttribute('data-kind')).toBe('serving');
    expect(alice.querySelector('[data-testid=process]')!.textContent).toBe('process ready · signed in as alice');
    expect(alice.textContent).toContain('1/2');
    const bob = screen.getByTestId('instance-bob');
    expect(bob.querySelector('[data-testid=status]')!.textContent).toContain('Needs a person');
    // The action says which account to sign in as, and opens the login page.
    const link = screen.getByRole('link', { name: 'Finish sign-in as bob@example.com' });
    expect(link.getAttribute('href')).toBe('https://lingma.example/login?x=1');
    expect(link.getAttribute('rel')).toContain('noopener');
    // Serving: no sign-in, but Log out and Test.
    expect(alice.textContent).not.toContain('Sign in');
    expect(alice.textContent).toContain('Log out');
    expect(alice.textContent).toContain('Test');
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(f.calls.some((c) => c.method === 'POST' && c.url.endsWith('/admin/instances/carol/login'))).toBe(true));
    expect(f.calls[0].headers.authorization).toBe('Bearer tok-123');
    fireEvent.click(screen.getByRole('button', { name: 'Sign in all' }));
    await waitFor(() => expect(f.calls.some((c) => c.url.endsWith('/admin/instances/login-all'))).toBe(true));
  });

  it('Fix password opens the edit with the password field focused, then signs in again after saving', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Instances snap={snapshot({ accounts, instances: [instance({ name: 'bob', login: { state: 'failed', reason: 'The sign-in page did not accept the user name or password.', rejected: true } })] })} />);
    expect(screen.getByTestId('instance-bob').textContent).toContain('the password was refused');
    fireEvent.click(screen.getByRole('button', { name: 'Fix password' }));
    const pw = screen.getByLabelText('Password');
    expect(document.activeElement).toBe(pw);
    fireEvent.change(pw, { target: { value: 'new-pw-1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(f.calls.some((c) => c.method === 'PATCH' && c.url.endsWith('/admin/accounts/bob'))).toBe(true));
    await waitFor(() => expect(f.calls.some((c) => c.method === 'POST' && c.url.endsWith('/admin/instances/bob/login'))).toBe(true));
  });

  it('#/instances?fix=<account> (the tray, a notification) opens that edit', () => {
    window.location.hash = '#/instances?fix=bob';
    render(<Instances snap={snapshot({ accounts, instances: [instance({ name: 'bob', login: { state: 'failed', reason: 'x', rejected: true } })] })} />);
    expect(screen.getByTestId('account-form-bob')).toBeTruthy();
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));
    window.location.hash = '';
  });

  it('a cooling-down row shows time left and the last error with its time; Clear cool-down and Test call the API', async () => {
    const NOW = Date.now();
    const f = fakeFetch((c) => (c.url.endsWith('/check') ? { body: { ok: false, message: 'alice did not answer: Upstream failed.', ms: 12 } } : { body: { ok: true } }));
    useClient(f);
    render(<Instances snap={snapshot({ instances: [instance({ health: { instance: 'alice', healthy: false, consecutiveFailures: 2, lastError: 'Upstream failed (500).', lastErrorAt: NOW - 5000, unhealthyUntil: NOW + 95_000 } })] })} />);
    const row = screen.getByTestId('instance-alice');
    expect(row.querySelector('[data-testid=status]')!.textContent).toContain('Cooling down');
    expect(row.querySelector('[data-testid=countdown]')!.textContent).toMatch(/^retry in 1m 3\ds$/);
    expect(row.querySelector('[data-testid=last-error]')!.textContent).toContain('Upstream failed (500).');
    expect(row.querySelector('[data-testid=last-error] time')!.getAttribute('datetime')).toBe(new Date(NOW - 5000).toISOString());
    fireEvent.click(screen.getByRole('button', { name: 'Clear cool-down' }));
    await waitFor(() => expect(f.calls.some((c) => c.url.endsWith('/admin/instances/alice/clear-cooldown'))).toBe(true));
    fireEvent.click(screen.getByRole('button', { name: 'Test' }));
    await waitFor(() => expect(useDash.getState().toasts.map((t) => t.text)).toContain('alice did not answer: Upstream failed.'));
  });

  it('a stopped or failed process offers Restart; an account without an instance is listed', async () => {
    render(<Instances snap={snapshot({ accounts: [...accounts.slice(0, 1), { name: 'zed', username: 'zed', hasPassword: false, source: 'runtime', disabled: true }], instances: [instance({ state: 'failed', reason: 'crashed' })] })} />);
    const row = screen.getByTestId('instance-alice');
    expect(row.querySelector('[data-testid=status]')!.textContent).toContain('Stopped');
    expect(row.querySelector('[data-testid=process]')!.textContent).toBe('process failed');
    expect(screen.getAllByRole('button', { name: 'Restart' })).toHaveLength(1);
    expect(screen.getByTestId('instance-zed').textContent).toContain('the account is disabled');
  });

  it('uses the desktop bridge to open the manual sign-in page', () => {
    const openExternal = vi.fn();
    window.relayDesktop = { admin: () => ({ url: 'x', token: 'y' }), openExternal };
    render(<Instances snap={snapshot({ instances: [instance({ login: { state: 'needs_manual', url: 'https://lingma.example/login', reason: 'captcha' } })] })} />);
    fireEvent.click(screen.getByRole('button', { name: 'Finish sign-in as alice' }));
    expect(openExternal).toHaveBeenCalledWith('https://lingma.example/login');
  });

  it('"Sign in all" with no accounts says there is nothing to sign in, and calls nothing', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Instances snap={snapshot({ instances: [], accounts: [] })} />);
    expect(screen.getByTestId('empty-instances')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Sign in all' }));
    await waitFor(() => expect(useDash.getState().toasts.map((t) => t.text)).toEqual(['There is nothing to sign in: add a Lingma account first.']));
    expect(f.calls).toHaveLength(0);
  });

  it('every sign-in outcome ends in a toast', async () => {
    const f = fakeFetch();
    useClient(f);
    const snap = snapshot({ accounts, instances: [instance({ name: 'carol', login: { state: 'logged_out' } })] });
    useDash.getState().setSnapshot(snap);
    render(<Instances snap={snap} />);
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(useDash.getState().toasts.map((t) => t.text)).toContain('Signing in carol…'));
    const ev = (login: LoginState) => useDash.getState().apply({ type: 'instance', instance: instance({ name: 'carol', login }) });
    ev({ state: 'logged_out' });
    ev({ state: 'logging_in' });
    ev({ state: 'failed', reason: 'The sign-in page did not accept the user name or password.', rejected: true });
    expect(useDash.getState().toasts.at(-1)).toMatchObject({ kind: 'error', text: 'carol: the password was refused. Use Fix password, then sign in again.' });
    // Settled: later events do not toast again.
    const n = useDash.getState().toasts.length;
    ev({ state: 'logged_in', user: 'carol' });
    expect(useDash.getState().toasts.length).toBe(n);
    // The outcomes, each one sentence.
    expect(signInOutcome('carol', { state: 'logged_in', user: 'carol' }, true)).toEqual({ kind: 'ok', text: 'carol is signed in' });
    expect(signInOutcome('carol', { state: 'needs_manual', url: 'https://x', reason: 'A captcha needs a person.' }, false)).toEqual({ kind: 'info', text: 'carol: finish the sign-in by hand (A captcha needs a person.)' });
    expect(signInOutcome('carol', { state: 'failed', reason: 'The login did not finish in time.' }, true)!.kind).toBe('error');
    expect(signInOutcome('carol', { state: 'logged_out' }, false)).toBeUndefined();
    expect(signInOutcome('carol', { state: 'logged_out' }, true)!.text).toBe('carol: the sign-in stopped before it finished');
  });

  it('a refused password, fixed and signed in again: an event older than the new sign-in does not end it as refused', async () => {
    const f = fakeFetch();
    useClient(f);
    const refused: LoginState = { state: 'failed', reason: 'The sign-in page did not accept the user name or password.', rejected: true };
    const snap = snapshot({ accounts, instances: [instance({ name: 'bob', login: refused })] });
    useDash.getState().setSnapshot(snap);
    useDash.setState({ toasts: [] }); // what an earlier test's sign-ins left to settle
    // What saving the fixed password does (Instances: Fix password, then save).
    expect(await signIn('bob')).toBe(true);
    expect(useDash.getState().toasts.map((t) => t.text)).toContain('Signing in bob…');
    const ev = (login: LoginState) => useDash.getState().apply({ type: 'instance', instance: instance({ name: 'bob', login }) });
    // The account edit's event, sent before the sign-in began, arrives now: still the old refusal.
    ev(refused);
    expect(useDash.getState().toasts.map((t) => t.text).filter((t) => t.includes('refused'))).toEqual([]);
    // The new sign-in ends (its "logging in" event coalesced away): signed in.
    ev({ state: 'logged_in', user: 'bob' });
    expect(useDash.getState().toasts.at(-1)).toMatchObject({ kind: 'ok', text: 'bob is signed in' });
  });
});

describe('Account form', () => {
  it('validates before sending and shows server errors on the right field', async () => {
    const f = fakeFetch((c) => (c.body && (c.body as { username: string }).username === 'taken'
      ? { status: 400, body: { error: { message: "An account named 'taken' exists already.", type: 'invalid_request_error', code: 'invalid_request', param: 'name' } } }
      : { status: 201, body: { ok: true, accounts: [] } }));
    useClient(f);
    render(<Instances snap={snapshot({ accounts: [], instances: [] })} />);
    fireEvent.click(screen.getByRole('button', { name: 'Add your first account' }));
    fireEvent.click(screen.getByRole('button', { name: 'Add account' }));
    expect(await screen.findByText(/Enter the account user name/)).toBeTruthy();
    expect(screen.getByText(/Enter the password for a new account/)).toBeTruthy();
    expect(f.calls).toHaveLength(0);

    fireEvent.change(screen.getByLabelText('User name'), { target: { value: 'taken' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'pw-1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add account' }));
    expect(await screen.findByText(/exists already/)).toBeTruthy();

    fireEvent.change(screen.getByLabelText('User name'), { target: { value: 'carol' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add account' }));
    await waitFor(() => expect(f.calls.at(-1)!.body).toEqual({ username: 'carol', password: 'pw-1' }));
  });

  it('edits without resending an unchanged password; config accounts are read-only', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Instances snap={snapshot({ instances: [instance()], accounts: [
      { name: 'alice', username: 'alice', hasPassword: true, source: 'runtime' },
      { name: 'cfg', username: 'cfg', hasPassword: true, source: 'config' },
    ] })} />);
    expect(screen.getByTestId('instance-cfg').textContent).toContain('from config');
    expect(screen.getAllByRole('button', { name: 'Edit' })).toHaveLength(1);
    fireEvent.click(screen.getByRole('button', { name: 'Edit' }));
    fireEvent.change(screen.getByLabelText('User name'), { target: { value: 'alice2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(f.calls.at(-1)).toMatchObject({ method: 'PATCH', body: { username: 'alice2' } }));
    expect(f.calls.at(-1)!.url).toMatch(/\/admin\/accounts\/alice$/);
  });

  it('explains when Lingma is not set up', () => {
    render(<Instances snap={snapshot({ accountsEditable: false, instances: [], accounts: [] })} />);
    expect(screen.getByTestId('empty-instances').textContent).toContain('Accounts need the Lingma backend');
  });
});

describe('Aliases', () => {
  it('shows chains with health and saves a validated new alias', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Aliases snap={snapshot()} />);
    expect(screen.getByTestId('alias-coder').textContent).toContain('lingma/qwen3-coder');
    fireEvent.click(screen.getByRole('button', { name: 'New alias' }));
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'coder' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save alias' }));
    expect(await screen.findByText(/exists already/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'claude-*' } });
    fireEvent.change(screen.getByLabelText(/Chain/), { target: { value: 'coder' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save alias' }));
    await waitFor(() => expect(f.calls.at(-1)).toMatchObject({ method: 'PUT', body: { aliases: { coder: { chain: ['lingma/qwen3-coder'] }, 'claude-*': { chain: ['coder'] } } } }));
  });

  it('warns when the last reload failed, and has an empty state', () => {
    render(<Aliases snap={snapshot({ aliases: [], aliasesReload: { at: 1, ok: false, source: 'file', error: "alias 'x': cycle", aliases: 0 } })} />);
    expect(screen.getByRole('alert').textContent).toContain("alias 'x': cycle");
    expect(screen.getByTestId('empty-aliases')).toBeTruthy();
  });
});

describe('Live and Logs', () => {
  it('lists requests in flight with model, instance and TTFT', () => {
    const now = Date.now(); // one reading: two calls may straddle a millisecond tick
    render(<Live snap={snapshot({ live: [{ id: 'live-abc', requestId: 'req-abc', protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'coder', stream: true, apiKeyId: 'k', startedAt: now - 1500, instance: 'alice', firstByteAt: now - 1200 }] })} finished={[]} />);
    const t = screen.getByTestId('live-table').textContent!;
    expect(t).toContain('coder');
    expect(t).toContain('alice');
    expect(t).toContain('300 ms');
    expect(t).toContain('stream');
  });

  it('logs: filters and pauses following when scrolled up', () => {
    const logs = Array.from({ length: 30 }, (_, i) => ({ time: i, level: (i % 2 ? 'info' : 'warn') as 'info' | 'warn', msg: `line ${i}`, instance: i % 3 ? 'alice' : 'bob', requestId: `r${i}` }));
    render(<Logs snap={snapshot({ logs })} />);
    expect(screen.getAllByText(/^line /)).toHaveLength(30);
    fireEvent.change(screen.getByLabelText('Level'), { target: { value: 'warn' } });
    expect(screen.getAllByText(/^line /)).toHaveLength(15);
    fireEvent.change(screen.getByLabelText('Instance'), { target: { value: 'bob' } });
    expect(screen.getAllByText(/^line /).map((e) => e.textContent)).toEqual(['line 0', 'line 6', 'line 12', 'line 18', 'line 24']);
    const box = screen.getByTestId('log-lines');
    Object.defineProperty(box, 'scrollHeight', { value: 1000, configurable: true });
    Object.defineProperty(box, 'clientHeight', { value: 200, configurable: true });
    box.scrollTop = 100;
    fireEvent.scroll(box);
    expect(screen.getByTestId('logs-resume')).toBeTruthy();
    fireEvent.click(screen.getByTestId('logs-resume'));
    expect(screen.queryByTestId('logs-resume')).toBeNull();
  });
});

describe('Settings', () => {
  it('warns about weak secret protection and validates live settings', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Settings snap={snapshot({ secretProtection: 'basic' })} />);
    expect(screen.getByTestId('secret-warning').textContent).toMatch(/obfuscated/);
    fireEvent.change(screen.getByLabelText('Max requests in flight'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    expect(await screen.findByText(/at least 1/)).toBeTruthy();
    expect(f.calls).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('Max requests in flight'), { target: { value: '8' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    await waitFor(() => expect(f.calls.at(-1)).toMatchObject({ method: 'PATCH', body: { maxInFlight: 8, logLevel: 'info', loginAuto: true } }));
  });

  it('shows a created key once', async () => {
    const f = fakeFetch((c) => (c.method === 'POST' ? { status: 201, body: { id: 'newid', key: 'sk-relay-brand-new-key' } } : { body: {} }));
    useClient(f);
    render(<Settings snap={snapshot()} />);
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    expect(await screen.findByText(/Name the key/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('New key'), { target: { value: 'laptop' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    expect((await screen.findByTestId('new-key')).textContent).toContain('sk-relay-brand-new-key');
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByText('sk-relay-brand-new-key')).toBeNull();
  });
});

describe('App', () => {
  it('asks for a token in a browser, explains where it is, and stores it for the tab', async () => {
    const onToken = vi.fn();
    render(<TokenGate onToken={onToken} />);
    expect(screen.getByTestId('token-gate').textContent).toMatch(/admin-token/);
    fireEvent.change(screen.getByLabelText('Admin token'), { target: { value: ' secret-token ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open dashboard' }));
    expect(onToken).toHaveBeenCalledWith('secret-token');
  });

  it('a refused token sends the user back to the gate with a clear message', async () => {
    window.sessionStorage.setItem(TOKEN_KEY, 'wrong');
    const f = fakeFetch(() => ({ status: 401, body: { error: { message: 'Invalid admin token.', type: 'authentication_error', code: 'invalid_api_key', param: null } } }));
    vi.stubGlobal('fetch', f.fn);
    try {
      render(<App />);
      expect(await screen.findByText(/That token was not accepted/)).toBeTruthy();
      expect(window.sessionStorage.getItem(TOKEN_KEY)).toBeNull();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('in the desktop app uses the bridge, loads the snapshot and opens the event socket with the token as subprotocol', async () => {
    const sockets: { url: string; protocols: string[] }[] = [];
    class FakeWS {
      onopen?: () => void; onmessage?: (m: { data: string }) => void; onclose?: (e: { code: number }) => void; onerror?: () => void;
      constructor(url: string, protocols: string[]) {
        sockets.push({ url, protocols });
        setTimeout(() => {
          this.onopen?.();
          this.onmessage?.({ data: JSON.stringify({ type: 'log', line: { time: 1, level: 'info', msg: 'hello' } }) });
        }, 0);
      }
      close() {}
    }
    vi.stubGlobal('WebSocket', FakeWS);
    const f = fakeFetch(() => ({ body: snapshot() }));
    vi.stubGlobal('fetch', f.fn);
    window.relayDesktop = { admin: async () => ({ url: 'http://127.0.0.1:9999/', token: 'desk-token' }) };
    try {
      render(<App />);
      expect(await screen.findByTestId('screen-overview')).toBeTruthy();
      expect(f.calls[0].url).toBe('http://127.0.0.1:9999/admin/state');
      expect(f.calls[0].headers.authorization).toBe('Bearer desk-token');
      await waitFor(() => expect(sockets).toHaveLength(1));
      expect(sockets[0]).toEqual({ url: 'ws://127.0.0.1:9999/admin/events', protocols: ['relay-admin', 'bearer.desk-token'] });
      await waitFor(() => expect(useDash.getState().snap!.logs.at(-1)?.msg).toBe('hello'));
      await waitFor(() => expect(screen.getByTestId('conn').textContent).toBe('Live'));
      await act(async () => { window.location.hash = '#/instances'; window.dispatchEvent(new HashChangeEvent('hashchange')); });
      expect(await screen.findByTestId('screen-instances')).toBeTruthy();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('Usage', () => {
  it('refreshes a second after a request finishes: one refresh however many finish meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const f = fakeFetch(() => ({ status: 503, body: { error: { message: 'not now' } } }));
      useClient(f);
      render(<Usage snap={snapshot()} />);
      const loads = () => f.calls.filter((c) => c.url.includes('/admin/usage/recent')).length;
      const tick = (ms: number) => act(async () => void (await vi.advanceTimersByTimeAsync(ms)));
      await tick(0);
      expect(loads()).toBe(1);
      const done = (id: string) => ({ id, requestId: id, protocol: 'openai' as const, endpoint: '/v1/chat/completions', model: 'm', stream: false, apiKeyId: 'k', startedAt: 1, finishedAt: 2, status: 200 });
      act(() => useDash.setState({ finished: [done('a')] }));
      await tick(500);
      for (const id of ['b', 'c', 'd']) act(() => useDash.setState({ finished: [done(id), ...useDash.getState().finished] }));
      await tick(499);
      expect(loads()).toBe(1);
      await tick(1);
      expect(loads()).toBe(2);
      // Nothing more finished: no more refreshes until the 10 s one.
      await tick(8_000);
      expect(loads()).toBe(2);
      act(() => useDash.setState({ finished: [done('e'), ...useDash.getState().finished] }));
      await tick(1_000);
      expect(loads()).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});

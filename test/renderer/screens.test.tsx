// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { App, TokenGate } from '../../src-renderer/App';
import { TOKEN_KEY } from '../../src-renderer/api/connection';
import { Accounts } from '../../src-renderer/screens/Accounts';
import { Aliases } from '../../src-renderer/screens/Aliases';
import { Instances } from '../../src-renderer/screens/Instances';
import { Live } from '../../src-renderer/screens/Live';
import { Logs } from '../../src-renderer/screens/Logs';
import { Overview } from '../../src-renderer/screens/Overview';
import { Settings } from '../../src-renderer/screens/Settings';
import { useDash } from '../../src-renderer/store';
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
    expect(screen.getByRole('link', { name: 'Add a Lingma account' }).getAttribute('href')).toBe('#/accounts');
  });

  it('asks for a sign-in when an account is logged out', () => {
    render(<Overview snap={snapshot({ instances: [instance({ login: { state: 'logged_out' } })] })} />);
    expect(screen.getByTestId('empty-login-needed').textContent).toMatch(/alice needs to sign in/);
  });

  it('says why when no backend is ready', () => {
    render(<Overview snap={snapshot({ instances: [instance({ state: 'failed', reason: 'Lingma binary not found' })] })} />);
    expect(screen.getByTestId('empty-none-ready').textContent).toMatch(/Lingma binary not found/);
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

describe('Instances', () => {
  it('shows state, login, load and a manual sign-in link; actions call the API', async () => {
    const f = fakeFetch();
    useClient(f);
    render(<Instances snap={snapshot({ instances: [
      instance({ inFlight: 1, limit: 2 }),
      instance({ name: 'bob', login: { state: 'needs_manual', url: 'https://lingma.example/login?x=1', reason: 'A captcha needs a person.' } }),
    ] })} />);
    const bob = screen.getByTestId('instance-bob');
    expect(bob.textContent).toContain('needs you to sign in');
    expect(bob.textContent).toContain('A captcha needs a person.');
    const link = screen.getByRole('link', { name: 'Finish sign-in' });
    expect(link.getAttribute('href')).toBe('https://lingma.example/login?x=1');
    expect(link.getAttribute('rel')).toContain('noopener');
    expect(screen.getByTestId('instance-alice').textContent).toContain('1/2');
    fireEvent.click(screen.getAllByRole('button', { name: 'Log in' })[0]);
    await waitFor(() => expect(f.calls.some((c) => c.method === 'POST' && c.url.endsWith('/admin/instances/bob/login'))).toBe(true));
    expect(f.calls[0].headers.authorization).toBe('Bearer tok-123');
    fireEvent.click(screen.getByRole('button', { name: 'Log in all' }));
    await waitFor(() => expect(f.calls.some((c) => c.url.endsWith('/admin/instances/login-all'))).toBe(true));
  });

  it('uses the desktop bridge to open the manual sign-in page', () => {
    const openExternal = vi.fn();
    window.relayDesktop = { admin: () => ({ url: 'x', token: 'y' }), openExternal };
    render(<Instances snap={snapshot({ instances: [instance({ login: { state: 'needs_manual', url: 'https://lingma.example/login', reason: 'captcha' } })] })} />);
    fireEvent.click(screen.getByRole('button', { name: 'Finish sign-in' }));
    expect(openExternal).toHaveBeenCalledWith('https://lingma.example/login');
  });

  it('has an empty state', () => {
    render(<Instances snap={snapshot({ instances: [] })} />);
    expect(screen.getByTestId('empty-instances')).toBeTruthy();
  });
});

describe('Accounts', () => {
  it('validates before sending and shows server errors on the right field', async () => {
    const f = fakeFetch((c) => (c.body && (c.body as { username: string }).username === 'taken'
      ? { status: 400, body: { error: { message: "An account named 'taken' exists already.", type: 'invalid_request_error', code: 'invalid_request', param: 'name' } } }
      : { status: 201, body: { ok: true, accounts: [] } }));
    useClient(f);
    render(<Accounts snap={snapshot({ accounts: [] })} />);
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
    render(<Accounts snap={snapshot({ accounts: [
      { name: 'alice', username: 'alice', hasPassword: true, source: 'runtime' },
      { name: 'cfg', username: 'cfg', hasPassword: true, source: 'config' },
    ] })} />);
    expect(screen.getByTestId('account-cfg').textContent).toContain('from config');
    fireEvent.click(screen.getByRole('button', { name: 'Edit' }));
    fireEvent.change(screen.getByLabelText('User name'), { target: { value: 'alice2' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => expect(f.calls.at(-1)).toMatchObject({ method: 'PATCH', body: { username: 'alice2' } }));
    expect(f.calls.at(-1)!.url).toMatch(/\/admin\/accounts\/alice$/);
  });

  it('explains when Lingma is not set up', () => {
    render(<Accounts snap={snapshot({ accountsEditable: false })} />);
    expect(screen.getByText('Lingma is not set up')).toBeTruthy();
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

import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import type { App } from 'electron';
import { validateConfig } from '../../src-main/core/config/validate';
import { EventHub } from '../../src-main/core/events';
import type { SecretStore } from '../../src-main/core/ports';
import { describeStartError, GatewayHost, loginAll, signIn, type RelayLike } from '../../src-main/electron/host';
import { installQuitHandler } from '../../src-main/electron/quit';
import { buildDesktopConfig, ensureDesktopSecrets, firstApiKey, readSettings, SECRET_KEYS, SETTINGS_DEFAULTS } from '../../src-main/electron/settings';

class MemorySecrets implements SecretStore {
  readonly protection = 'os' as const;
  readonly map = new Map<string, string>();
  async get(k: string) {
    return this.map.get(k);
  }
  async set(k: string, v: string) {
    this.map.set(k, v);
  }
  async delete(k: string) {
    this.map.delete(k);
  }
}

function fakeRelay(opts: { listenError?: NodeJS.ErrnoException } = {}) {
  const ledger = { flushed: 0, flush: async () => void ledger.flushed++ };
  const backend = { stopped: 0 };
  const calls: string[] = [];
  const relay: RelayLike & { providers: unknown[]; ledger: typeof ledger; backend: typeof backend; calls: string[] } = {
    hub: new EventHub(),
    calls,
    ledger,
    backend,
    providers: [],
    start: async () => void calls.push('start'),
    listen: async () => {
      calls.push('listen');
      if (opts.listenError) throw opts.listenError;
    },
    url: () => 'http://127.0.0.1:8420',
    stop: vi.fn(async () => {
      calls.push('stop');
      await ledger.flush();
      backend.stopped++;
    }),
  };
  return relay;
}

const config = () => validateConfig({});

describe('settings', () => {
  it('defaults and tolerance of hand-edited values', () => {
    expect(readSettings(undefined)).toEqual(SETTINGS_DEFAULTS);
    const warns: string[] = [];
    const s = readSettings({ port: 'x', startAtLogin: true, paused: 'yes', loginOrigins: ['https://*.example.com'] }, (m) => warns.push(m));
    expect(s.port).toBeUndefined();
    expect(s.startAtLogin).toBe(true);
    expect(s.paused).toBe(false);
    expect(s).not.toHaveProperty('loginOrigins');
    expect(warns).toEqual([
      'settings: ignoring invalid port',
      'settings: ignoring invalid paused',
      'settings: loginOrigins is no longer used; list extra sign-in origins in lingma.login.allowedOrigins',
    ]);
    expect(readSettings({ port: 9000 })).toMatchObject({ port: 9000 });
  });

  it('desktop secrets are generated once and kept in the secret store', async () => {
    const secrets = new MemorySecrets();
    const a = await ensureDesktopSecrets(secrets);
    expect(a.adminToken).toMatch(/^relay-admin-[A-Za-z0-9]{32}$/);
    expect(a.apiKey).toMatch(/^sk-relay-[A-Za-z0-9]{32}$/);
    expect(await ensureDesktopSecrets(secrets)).toEqual(a);
    expect(secrets.map.get(SECRET_KEYS.adminToken)).toBe(a.adminToken);
  });

  it('config: port from settings, app origin allowed, admin token and key filled in', () => {
    const c = buildDesktopConfig(config(), { ...SETTINGS_DEFAULTS, port: 9123 }, { adminToken: 'relay-admin-0123456789abcdef', apiKey: 'sk-relay-abcdefgh' });
    expect(c.server.port).toBe(9123);
    expect(c.server.corsOrigins).toEqual(['app://relay']);
    expect(c.server.adminToken).toBe('relay-admin-0123456789abcdef');
    expect(firstApiKey(c)).toBe('sk-relay-abcdefgh');
    const own = validateConfig({ server: { apiKeys: ['sk-mine-123456'], adminToken: 'mine-admin-token-123456', corsOrigins: ['app://relay'] } });
    const c2 = buildDesktopConfig(own, SETTINGS_DEFAULTS, { adminToken: 'relay-admin-0123456789abcdef', apiKey: 'sk-relay-abcdefgh' });
    expect(c2.server.adminToken).toBe('mine-admin-token-123456');
    expect(firstApiKey(c2)).toBe('sk-mine-123456');
    expect(c2.server.corsOrigins).toEqual(['app://relay']);
  });
});

describe('GatewayHost', () => {
  it('starts, tracks instance snapshots, stops; pause/resume builds a fresh relay', async () => {
    const relays: ReturnType<typeof fakeRelay>[] = [];
    const onChange = vi.fn();
    const host = new GatewayHost({
      create: async () => {
        const r = fakeRelay();
        relays.push(r);
        return { relay: r, config: config() };
      },
      log: () => undefined,
      onChange,
    });
    await host.start();
    expect(host.status).toBe('running');
    expect(host.url()).toBe('http://127.0.0.1:8420');
    expect(relays[0].calls).toEqual(['start', 'listen']);
    relays[0].hub.emit('instance', { name: 'a', provider: 'lingma', kind: 'lingma', state: 'ready', login: { state: 'logged_in' }, restarts: 0 });
    expect(host.snapshots().map((s) => s.name)).toEqual(['a']);
    expect(onChange).toHaveBeenCalled();
    await Promise.all([host.stop(), host.stop()]);
    expect(relays[0].stop).toHaveBeenCalledTimes(1);
    expect(host.url()).toBeUndefined();
    expect(host.snapshots()).toEqual([]);
    expect(relays[0].hub.listenerCount('instance')).toBe(0);
    await host.start();
    expect(relays.length).toBe(2);
    await host.stop();
  });

  it('a port in use is reported in words and leaves the host stopped', async () => {
    const err = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    const r = fakeRelay({ listenError: err });
    const host = new GatewayHost({ create: async () => ({ relay: r, config: config() }), log: () => undefined });
    await expect(host.start()).rejects.toThrow(/port 8420 is already in use/);
    expect(host.status).toBe('stopped');
    expect(host.lastError).toMatch(/already in use/);
    expect(r.stop).toHaveBeenCalledTimes(1);
    expect(describeStartError(new Error('boom\nstack'))).toBe('boom');
  });

  it('log in all accounts uses the provider accounts.loginAll or each instance', async () => {
    const r = fakeRelay();
    const loginAllFn = vi.fn(async () => []);
    const instLogin = vi.fn(async () => undefined);
    r.providers.push({ accounts: { loginAll: loginAllFn } }, { instances: () => [{ login: instLogin }, {}] });
    const logs: string[] = [];
    await loginAll(r, (_l, m) => logs.push(m));
    expect(loginAllFn).toHaveBeenCalledTimes(1);
    expect(instLogin).toHaveBeenCalledTimes(1);
    expect(logs[0]).toMatch(/2\/2/);
  });

  it('signs one account in (the tray\'s "Finish Sign-in as …"): accounts.login(name), else the instance\'s login', async () => {
    const r = fakeRelay();
    const accountsLogin = vi.fn(async () => undefined);
    const instLogin = vi.fn(async () => undefined);
    r.providers.push({ accounts: { login: accountsLogin }, instances: () => [{ name: 'ann' }] }, { instances: () => [{ name: 'oll', login: instLogin }, { name: 'http' }] });
    const log = () => undefined;
    expect(await signIn(r, 'ann', log)).toBe(true);
    expect(accountsLogin).toHaveBeenCalledWith('ann');
    expect(await signIn(r, 'oll', log)).toBe(true);
    expect(instLogin).toHaveBeenCalledTimes(1);
    expect(await signIn(r, 'http', log)).toBe(false);
    expect(await signIn(r, 'nobody', log)).toBe(false);
    const logs: string[] = [];
    accountsLogin.mockRejectedValueOnce(new Error('boom'));
    expect(await signIn(r, 'ann', (_l, m) => logs.push(m))).toBe(false);
    expect(logs).toEqual(['sign in ann: boom']);
  });
});

describe('quit sequence', () => {
  function fakeApp() {
    const em = new EventEmitter();
    const app = Object.assign(em, { exit: vi.fn() }) as unknown as Pick<App, 'on' | 'exit'> & EventEmitter & { exit: ReturnType<typeof vi.fn> };
    const quit = () => {
      const ev = { defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
      em.emit('before-quit', ev);
      return ev;
    };
    return { app, quit };
  }

  it('holds the quit until the relay stopped (ledger flushed, backends stopped), once, then exits', async () => {
    const r = fakeRelay();
    const host = new GatewayHost({ create: async () => ({ relay: r, config: config() }), log: () => undefined });
    await host.start();
    const { app, quit } = fakeApp();
    const handle = installQuitHandler({ app, shutdown: () => host.stop(), timeoutMs: 10_000, log: () => undefined });
    expect(quit().defaultPrevented).toBe(true);
    expect(handle.quitting).toBe(true);
    expect(quit().defaultPrevented).toBe(true);
    await handle.done;
    expect(r.stop).toHaveBeenCalledTimes(1);
    expect(r.ledger.flushed).toBe(1);
    expect(r.backend.stopped).toBe(1);
    expect(app.exit).toHaveBeenCalledWith(0);
    expect(app.exit).toHaveBeenCalledTimes(1);
    // After exit was requested, quitting is no longer held.
    expect(quit().defaultPrevented).toBe(false);
  });

  it('a hung or failing shutdown still exits (bounded wait)', async () => {
    const { app, quit } = fakeApp();
    const logs: string[] = [];
    const h = installQuitHandler({ app, shutdown: () => new Promise(() => undefined), timeoutMs: 50, log: (_l, m) => logs.push(m) });
    quit();
    await h.done;
    expect(app.exit).toHaveBeenCalledWith(0);
    expect(logs[0]).toMatch(/did not finish/);
    const b = fakeApp();
    const h2 = installQuitHandler({ app: b.app, shutdown: async () => Promise.reject(new Error('disk full')), timeoutMs: 1000, log: (_l, m) => logs.push(m) });
    b.quit();
    await h2.done;
    expect(b.app.exit).toHaveBeenCalledWith(0);
    expect(logs[1]).toMatch(/disk full/);
  });
});

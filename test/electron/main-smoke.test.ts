/**
 * Runs the real main process (src-main/electron/main.ts, bundled like `npm run build:main`) in
 * Node against a fake `electron` module: security setup, the app protocol, the gateway on a real
 * loopback port, IPC, the tray, closing to the tray and the quit sequence.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { electronModule, fake, FakeBrowserWindow, FakeEvent, FakeTray } from './fake-electron';
import { loadMain, root, type Harness } from './main-harness';

let h: Harness;
let userData: string;

beforeAll(async () => {
  process.env.XDG_CONFIG_HOME = '';
  h = await loadMain();
  userData = h.userData;
}, 120_000);

afterAll(async () => {
  if (fake.app.exitCode === undefined) {
    fake.app.quit();
    await vi.waitFor(() => expect(fake.app.exitCode).toBe(0), { timeout: 30_000 });
  }
  h.cleanup();
}, 60_000);

const tray = () => FakeTray.all[0];
const mainWindow = () => FakeBrowserWindow.all.find((w) => w.options.webPreferences?.preload)!;

describe('desktop main process (fake electron)', () => {
  it('registers the app scheme before ready, then starts the gateway and the tray', async () => {
    expect(fake.calls.indexOf('registerSchemesAsPrivileged')).toBeLessThan(fake.calls.indexOf('ready'));
    expect(fake.privileged).toEqual([expect.objectContaining({ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) })]);
    expect(electronModule.app.switches.get('js-flags')).toBe('--max-semi-space-size=2 --heap-growing-percent=50');
    await vi.waitFor(() => expect(tray()?.tooltip ?? '').toMatch(/http:\/\/127\.0\.0\.1:\d+\/v1/), { timeout: 60_000, interval: 100 });
    expect(electronModule.session.defaultSession.handlers.request).toBeTypeOf('function');
    // electron-store's sync IPC channel is removed.
    expect(fake.ipcMain.listenerCount('electron-store-get-data')).toBe(0);
  }, 90_000);

  it('opens the dashboard window from the app protocol with the security flags', async () => {
    await vi.waitFor(() => expect(mainWindow()?.visible).toBe(true), { timeout: 10_000 });
    const w = mainWindow();
    expect(w.webContents.mainFrame.url).toBe('app://relay/index.html');
    expect(w.options.webPreferences).toMatchObject({ sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(w.options.webPreferences.preload).toBe(path.join(root, 'dist', 'electron', 'preload.cjs'));
    expect(w.options.webPreferences.devTools).toBe(false);
    w.webContents.emit('render-process-gone', new FakeEvent(), { reason: 'crashed', exitCode: 1 });
    expect(w.webContents.reloads).toBe(1);
    // Navigation away is blocked; window.open is denied (the link goes to the browser).
    const nav = Object.assign(new FakeEvent(), { url: 'https://evil.example/' });
    w.webContents.emit('will-navigate', nav);
    expect(nav.defaultPrevented).toBe(true);
    expect(w.webContents.openHandler!({ url: 'https://docs.example.com/' })).toEqual({ action: 'deny' });
    expect(fake.opened).toContain('https://docs.example.com/');
  });

  it('serves the renderer with a CSP naming the gateway', async () => {
    const handler = fake.protocolHandlers.get('app')!;
    const res = await handler(new Request('app://relay/index.html'));
    expect(res.status).toBe(200);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(tray().tooltip)![0];
    expect(res.headers.get('content-security-policy')).toContain(`connect-src 'self' ${url} ${url.replace('http', 'ws')}`);
    expect((await handler(new Request('app://relay/..%2f..%2fsecrets.json'))).status).toBe(403);
  });

  it('IPC gives our window the admin endpoint and refuses others', async () => {
    const w = mainWindow();
    const admin = fake.ipcMain.handlers.get('relay:admin')!;
    const info = (await admin({ sender: w.webContents, senderFrame: w.webContents.mainFrame })) as { url: string; token: string };
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.token.length).toBeGreaterThanOrEqual(16);
    const res = await fetch(`${info.url}/healthz`, { headers: { Origin: 'app://relay' } });
    expect([200, 503]).toContain(res.status);
    const other = new FakeBrowserWindow({});
    await expect(Promise.resolve().then(() => admin({ sender: other.webContents, senderFrame: { url: 'app://relay/index.html', parent: null } }))).rejects.toThrow(
      /unexpected sender/,
    );
    other.destroy();
    expect(await fake.ipcMain.handlers.get('relay:secret-protection')!({ sender: w.webContents, senderFrame: w.webContents.mainFrame })).toBe('os');
  });

  it('tray: copy API key works against the gateway; the key is encrypted at rest', async () => {
    tray().click('Copy API Key');
    const key = fake.clipboardText;
    expect(key).toMatch(/^sk-relay-/);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(tray().tooltip)![0];
    const ok = await fetch(`${url}/v1/models`, { headers: { Authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${url}/v1/models`, { headers: { Authorization: 'Bearer sk-wrong-key-123' } });
    expect(bad.status).toBe(401);
    const stored = readFileSync(path.join(userData, 'secrets.json'), 'utf8');
    expect(stored).not.toContain(key);
    tray().click('Copy Endpoint URL');
    expect(fake.clipboardText).toBe(`${url}/v1`);
  });

  it('an account password added in the dashboard is stored encrypted by safeStorage', async () => {
    const w = mainWindow();
    const info = (await fake.ipcMain.handlers.get('relay:admin')!({ sender: w.webContents, senderFrame: w.webContents.mainFrame })) as { url: string; token: string };
    const res = await fetch(`${info.url}/admin/accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${info.token}`, 'Content-Type': 'application/json', Origin: 'app://relay' },
      body: JSON.stringify({ username: 'alice@example.com', password: 'Very-Secret-Pa55', name: 'alice' }),
    });
    expect(res.status).toBe(201);
    const stored = JSON.parse(readFileSync(path.join(userData, 'secrets.json'), 'utf8'));
    expect(Object.keys(stored.entries)).toContain('lingma:alice:password');
    expect(stored.entries['lingma:alice:password']).toMatchObject({ f: 'safeStorage', level: 'os' });
    expect(JSON.stringify(stored)).not.toContain('Very-Secret-Pa55');
    const state = await fetch(`${info.url}/admin/accounts`, { headers: { Authorization: `Bearer ${info.token}` } });
    expect(await state.text()).not.toContain('Very-Secret-Pa55');
  });

  it('closing the window keeps the app in the tray', () => {
    const w = mainWindow();
    w.close();
    expect(w.destroyed).toBe(false);
    expect(w.visible).toBe(false);
    expect(fake.app.exitCode).toBeUndefined();
    tray().click('Open Dashboard');
    expect(w.visible).toBe(true);
  });

  it('a second launch shows the window', () => {
    const w = mainWindow();
    w.hide();
    fake.app.emit('second-instance', new FakeEvent(), ['lingma-relay'], '/');
    expect(w.visible).toBe(true);
  });

  it('start at login (Linux: XDG autostart entry), toggled from the tray', async () => {
    const file = path.join(h.base, '.config', 'autostart', 'lingma-relay.desktop');
    tray().click('Start at Login');
    await vi.waitFor(() => expect(existsSync(file)).toBe(process.platform === 'linux'));
    expect(tray().menu!.items.find((i) => i.label === 'Start at Login')!.checked).toBe(true);
    tray().click('Start at Login');
    await vi.waitFor(() => expect(existsSync(file)).toBe(false));
    expect(JSON.parse(readFileSync(path.join(userData, 'settings.json'), 'utf8')).startAtLogin).toBe(false);
  });

  it('desktop notifications can be turned off from the tray; the setting is saved', () => {
    const item = () => tray().menu!.items.find((i) => i.label === 'Notify When an Account Needs Me')!;
    expect(item().checked).toBe(true);
    tray().click('Notify When an Account Needs Me');
    expect(item().checked).toBe(false);
    expect(JSON.parse(readFileSync(path.join(userData, 'settings.json'), 'utf8')).notifications).toBe(false);
    tray().click('Notify When an Account Needs Me');
    expect(JSON.parse(readFileSync(path.join(userData, 'settings.json'), 'utf8')).notifications).toBe(true);
  });

  it('pause stops the gateway, resume starts it again', async () => {
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(tray().tooltip)![0];
    tray().click('Pause Gateway');
    await vi.waitFor(() => expect(tray().tooltip).toContain('gateway paused'), { timeout: 30_000 });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    tray().click('Resume Gateway');
    await vi.waitFor(() => expect(tray().tooltip).toMatch(/http:\/\/127\.0\.0\.1:\d+\/v1/), { timeout: 60_000, interval: 100 });
  }, 90_000);

  it('quit: held until the gateway stopped, then exits 0', async () => {
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(tray().tooltip)![0];
    tray().click('Quit Lingma Relay');
    await vi.waitFor(() => expect(fake.app.exitCode).toBe(0), { timeout: 30_000 });
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    expect(tray().destroyed).toBe(true);
    expect(fake.ipcMain.handlers.size).toBe(0);
  }, 60_000);
});

import { describe, expect, it, vi } from 'vitest';
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { isTrustedSender, registerIpc, type IpcDeps } from '../../src-main/electron/ipc';
import { IPC, isAdminInfo, validateArgs } from '../../src-main/electron/ipc-contract';

type Handler = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;

function setup(over: Partial<IpcDeps> = {}) {
  const handlers = new Map<string, Handler>();
  const ipcMain = {
    handle: (ch: string, fn: Handler) => handlers.set(ch, fn),
    removeHandler: (ch: string) => handlers.delete(ch),
  } as unknown as IpcMain;
  const main = { id: 1 } as unknown as WebContents;
  const mainFrame = { url: 'app://relay/index.html', parent: null };
  const deps: IpcDeps = {
    mainWebContents: () => main,
    admin: () => ({ url: 'http://127.0.0.1:8420', token: 'relay-admin-xyz' }),
    openExternal: vi.fn(async () => undefined),
    copyText: vi.fn(),
    revealDataFolder: vi.fn(),
    secretProtection: () => 'basic',
    notifications: () => true,
    setNotifications: (on) => on,
    ...over,
  };
  const dispose = registerIpc(ipcMain, deps);
  const ev = (sender: unknown, frame: unknown) => ({ sender, senderFrame: frame }) as unknown as IpcMainInvokeEvent;
  const call = (ch: string, event: IpcMainInvokeEvent, ...args: unknown[]) => Promise.resolve(handlers.get(ch)!(event, ...args));
  return { handlers, deps, main, mainFrame, ev, call, dispose, good: ev(main, mainFrame) };
}

describe('IPC sender checks', () => {
  it('answers our main window', async () => {
    const s = setup();
    await expect(s.call(IPC.admin, s.good)).resolves.toEqual({ url: 'http://127.0.0.1:8420', token: 'relay-admin-xyz' });
    await expect(s.call(IPC.secretProtection, s.good)).resolves.toBe('basic');
  });
  it('refuses another window', async () => {
    const s = setup();
    await expect(s.call(IPC.admin, s.ev({ id: 2 }, s.mainFrame))).rejects.toThrow(/unexpected sender/);
  });
  it('refuses a sub-frame of our window', async () => {
    const s = setup();
    const sub = { url: 'app://relay/index.html', parent: s.mainFrame };
    await expect(s.call(IPC.admin, s.ev(s.main, sub))).rejects.toThrow(/unexpected sender/);
  });
  it('refuses a foreign origin in our window', async () => {
    const s = setup();
    for (const url of ['https://evil.com/', 'file:///index.html', 'app://other/index.html', 'http://127.0.0.1:8420/ui/']) {
      await expect(s.call(IPC.admin, s.ev(s.main, { url, parent: null }))).rejects.toThrow(/unexpected sender/);
    }
  });
  it('refuses a destroyed frame and a missing window', async () => {
    const s = setup();
    await expect(s.call(IPC.admin, s.ev(s.main, null))).rejects.toThrow(/unexpected sender/);
    expect(isTrustedSender(s.good, undefined)).toBe(false);
  });
  it('dispose removes every handler', () => {
    const s = setup();
    expect(s.handlers.size).toBe(7);
    s.dispose();
    expect(s.handlers.size).toBe(0);
  });
});

describe('IPC arguments', () => {
  it('open-external: valid link opened, others refused', async () => {
    const s = setup();
    await expect(s.call(IPC.openExternal, s.good, 'https://github.com/')).resolves.toBe(true);
    await expect(s.call(IPC.openExternal, s.good, 'file:///etc/passwd')).resolves.toBe(false);
    await expect(s.call(IPC.openExternal, s.good, 'javascript:alert(1)')).resolves.toBe(false);
    await expect(s.call(IPC.openExternal, s.good, 42)).rejects.toThrow(/must be a string/);
    await expect(s.call(IPC.openExternal, s.good)).rejects.toThrow(/takes 1 argument/);
    await expect(s.call(IPC.openExternal, s.good, 'https://a', 'b')).rejects.toThrow(/takes 1 argument/);
    expect(s.deps.openExternal).toHaveBeenCalledTimes(1);
    expect(s.deps.openExternal).toHaveBeenCalledWith('https://github.com/');
  });
  it('copy-text: strings only, bounded', async () => {
    const s = setup();
    await s.call(IPC.copyText, s.good, 'sk-relay-abc');
    expect(s.deps.copyText).toHaveBeenCalledWith('sk-relay-abc');
    await expect(s.call(IPC.copyText, s.good, { toString: () => 'x' })).rejects.toThrow(/must be a string/);
    await expect(s.call(IPC.copyText, s.good, 'x'.repeat(70000))).rejects.toThrow(/longer than/);
  });
  it('notifications: read and set, booleans only, from our window only', async () => {
    let on = true;
    const s = setup({ notifications: () => on, setNotifications: (v) => (on = v) });
    await expect(s.call(IPC.notifications, s.good)).resolves.toBe(true);
    await expect(s.call(IPC.setNotifications, s.good, false)).resolves.toBe(false);
    expect(on).toBe(false);
    await expect(s.call(IPC.setNotifications, s.good, 'yes')).rejects.toThrow(/must be a boolean/);
    await expect(s.call(IPC.setNotifications, s.good)).rejects.toThrow(/takes 1 argument/);
    await expect(s.call(IPC.setNotifications, s.ev({ id: 2 }, s.mainFrame), true)).rejects.toThrow(/unexpected sender/);
    expect(on).toBe(false);
  });
  it('no-argument channels refuse arguments', async () => {
    const s = setup();
    await expect(s.call(IPC.revealDataFolder, s.good, '/etc')).rejects.toThrow(/takes 0 arguments/);
    expect(s.deps.revealDataFolder).not.toHaveBeenCalled();
    await s.call(IPC.revealDataFolder, s.good);
    expect(s.deps.revealDataFolder).toHaveBeenCalledTimes(1);
  });
  it('the shared validator (used by the preload too) names the problem', () => {
    expect(() => validateArgs(IPC.openExternal, [''])).toThrow(/1\.\.2048/);
    expect(() => validateArgs('relay:nope' as never, [])).toThrow(/unknown channel/);
    expect(isAdminInfo({ url: 'http://127.0.0.1:1', token: 't' })).toBe(true);
    expect(isAdminInfo({ url: 'javascript:x', token: 't' })).toBe(false);
    expect(isAdminInfo(null)).toBe(false);
  });
});

/** The BrowserWindow adapter of the login window, against the fake electron objects. */
import { describe, expect, it } from 'vitest';
import type { BrowserWindow, Session } from 'electron';
import { PageLoadError, type NavigationAttempt } from '../../src-main/electron/login-window';
import { clearLoginPartition, electronLoginPageFactory } from '../../src-main/electron/login-page';
import { electronModule, FakeBrowserWindow, FakeEvent, FakeSession } from './fake-electron';

function make() {
  const sessions = new Map<string, FakeSession>();
  const fromPartition = (p: string) => {
    let s = sessions.get(p);
    if (!s) sessions.set(p, (s = new FakeSession(p)));
    return s as unknown as Session;
  };
  const factory = electronLoginPageFactory({ BrowserWindow: FakeBrowserWindow as unknown as typeof BrowserWindow, fromPartition });
  const page = factory({ instance: 'a', partition: 'persist:login-a' });
  const win = FakeBrowserWindow.all[FakeBrowserWindow.all.length - 1];
  return { page, win, sessions };
}

describe('electronLoginPageFactory', () => {
  it('hidden, sandboxed, no preload, own partition; permissions and downloads denied', () => {
    const { win, sessions } = make();
    expect(win.options.show).toBe(false);
    expect(win.options.webPreferences).toMatchObject({ partition: 'persist:login-a', sandbox: true, contextIsolation: true, nodeIntegration: false });
    expect(win.options.webPreferences.preload).toBeUndefined();
    const ses = sessions.get('persist:login-a')!;
    const granted: boolean[] = [];
    (ses.handlers.request as (w: unknown, p: string, cb: (g: boolean) => void) => void)({}, 'media', (g) => granted.push(g));
    expect(granted).toEqual([false]);
    const dl = new FakeEvent();
    ses.emit('will-download', dl, {}, {});
    expect(dl.defaultPrevented).toBe(true);
    expect(win.webContents.openHandler!({ url: 'https://lingma.alibabacloud.com/' })).toEqual({ action: 'deny' });
  });

  it('maps navigation events; only sub-frames from will-frame-navigate', () => {
    const { page, win } = make();
    const seen: NavigationAttempt[] = [];
    page.onNavigate((n) => {
      seen.push(n);
      n.prevent();
    });
    const e1 = Object.assign(new FakeEvent(), { url: 'https://a.example/', isMainFrame: true });
    win.webContents.emit('will-navigate', e1);
    const e2 = Object.assign(new FakeEvent(), { url: 'https://b.example/', isMainFrame: true });
    win.webContents.emit('will-redirect', e2);
    win.webContents.emit('will-frame-navigate', Object.assign(new FakeEvent(), { url: 'https://a.example/', isMainFrame: true }));
    const e3 = Object.assign(new FakeEvent(), { url: 'javascript:x', isMainFrame: false });
    win.webContents.emit('will-frame-navigate', e3);
    expect(seen.map((s) => s.url)).toEqual(['https://a.example/', 'https://b.example/', 'javascript:x']);
    expect([e1, e2, e3].every((e) => e.defaultPrevented)).toBe(true);
  });

  it('reports commits with status, real load failures, and closing', () => {
    const { page, win } = make();
    const nav: Array<[string, number]> = [];
    const failed: string[] = [];
    let closed = 0;
    page.onNavigated((u, s) => nav.push([u, s]));
    page.onLoadFailed((u) => failed.push(u));
    page.onClosed(() => closed++);
    win.webContents.emit('did-navigate', new FakeEvent(), 'http://127.0.0.1:1/auth/callback', 200, 'OK');
    win.webContents.emit('did-fail-load', new FakeEvent(), -3, 'ERR_ABORTED', 'https://x/', true);
    win.webContents.emit('did-fail-load', new FakeEvent(), -102, 'ERR_CONNECTION_REFUSED', 'http://127.0.0.1:1/auth/callback', true);
    win.webContents.emit('did-fail-load', new FakeEvent(), -102, 'ERR_CONNECTION_REFUSED', 'https://sub/', false);
    expect(nav).toEqual([['http://127.0.0.1:1/auth/callback', 200]]);
    expect(failed).toEqual(['http://127.0.0.1:1/auth/callback']);
    win.close();
    expect(closed).toBe(1);
  });

  it('shows the window with a banner that survives page loads and title changes', async () => {
    const { page, win } = make();
    const css: string[] = [];
    win.webContents.insertCSS = async (c: string) => {
      css.push(c);
      return 'k';
    };
    page.showWithBanner('Lingma Relay needs you: please complete the security check to finish signing in.', 'work (alice@example.com)');
    expect(win.visible).toBe(true);
    // Which account: in the title and in the banner.
    expect(win.title).toBe('Lingma Relay: sign in work (alice@example.com)');
    expect(css[0]).toContain('html::before');
    expect(css[0]).toContain('Account: work (alice@example.com).');
    win.webContents.emit('did-finish-load');
    expect(css.length).toBe(2);
    const t = new FakeEvent();
    win.emit('page-title-updated', t, 'Alibaba Cloud');
    expect(t.defaultPrevented).toBe(true);
    page.destroy();
    expect(win.destroyed).toBe(true);
    expect(page.mainFrame()).toBeUndefined();
    expect(page.frames()).toEqual([]);
  });

  it('load: aborted first loads are fine, real failures are PageLoadError', async () => {
    const { page, win } = make();
    win.webContents.loadURL = async () => {
      throw Object.assign(new Error('aborted'), { code: 'ERR_ABORTED' });
    };
    await expect(page.load('https://lingma.alibabacloud.com/')).resolves.toBeUndefined();
    win.webContents.loadURL = async () => {
      throw Object.assign(new Error('nope'), { code: 'ERR_NAME_NOT_RESOLVED' });
    };
    await expect(page.load('https://lingma.alibabacloud.com/')).rejects.toBeInstanceOf(PageLoadError);
  });

  it('logout clears the partition', async () => {
    const ses = new FakeSession('persist:login-a');
    await clearLoginPartition(() => ses as unknown as Session, 'persist:login-a');
    expect(ses.cleared).toBe(1);
    expect(electronModule.session).toBeDefined();
  });
});

/**
 * SECURITY: the real BrowserWindow behind the login window's `LoginPage` port (the decisions are
 * in `login-window.ts`). Hidden, sandboxed, no preload, on the instance's own partition;
 * permissions and downloads denied; pop-ups refused; navigations reported to the controller,
 * which may block them.
 */
import type { BrowserWindow as BrowserWindowT, Session } from 'electron';
import { PageLoadError, type LoginPageFactory, type NavigationAttempt } from './login-window';
import { denyAllPermissions, denyDownloads, loginWindowWebPreferences, type Log } from './security';

/** CSS that paints a one-line banner over the page (no script needed: the page stays untouched). */
export function bannerCss(message: string): string {
  const text = message.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
  return (
    `html::before{content:"${text}";position:fixed;z-index:2147483647;top:0;left:0;right:0;` +
    'padding:10px 14px;background:#1d4ed8;color:#fff;font:600 13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;' +
    'box-shadow:0 2px 6px rgba(0,0,0,.25);pointer-events:none}html{padding-top:40px!important}'
  );
}

export interface ElectronLoginPageDeps {
  BrowserWindow: typeof BrowserWindowT;
  fromPartition(partition: string): Session;
  log?: Log;
  icon?: string;
}

/** Adapts a real BrowserWindow to `LoginPage`. Thin on purpose: decisions live in the controller. */
export function electronLoginPageFactory(deps: ElectronLoginPageDeps): LoginPageFactory {
  const hardened = new WeakSet<Session>();
  return ({ partition }) => {
    const ses = deps.fromPartition(partition);
    if (!hardened.has(ses)) {
      denyAllPermissions(ses);
      denyDownloads(ses, deps.log);
      hardened.add(ses);
    }
    const win = new deps.BrowserWindow({
      show: false,
      width: 960,
      height: 760,
      title: 'Lingma Relay: sign in',
      autoHideMenuBar: true,
      icon: deps.icon,
      webPreferences: loginWindowWebPreferences(partition),
    });
    const wc = win.webContents;
    let banner: string | undefined;
    const navListeners: Array<(n: NavigationAttempt) => void> = [];
    const emitNav = (e: { url: string; isMainFrame: boolean; preventDefault(): void }) => {
      for (const l of navListeners) l({ url: e.url, isMainFrame: e.isMainFrame, prevent: () => e.preventDefault() });
    };
    wc.setWindowOpenHandler(() => ({ action: 'deny' }));
    wc.on('will-navigate', (e) => emitNav(e));
    wc.on('will-redirect', (e) => emitNav(e));
    wc.on('will-frame-navigate', (e) => {
      if (!e.isMainFrame) emitNav(e);
    });
    wc.on('did-finish-load', () => {
      if (banner) void wc.insertCSS(bannerCss(banner)).catch(() => undefined);
    });
    win.on('page-title-updated', (e) => {
      if (banner) e.preventDefault();
    });
    return {
      onNavigate: (l) => void navListeners.push(l),
      onNavigated: (l) => {
        wc.on('did-navigate', (_e, url, httpResponseCode) => l(url, httpResponseCode));
      },
      onLoadFailed: (l) => {
        wc.on('did-fail-load', (_e, errorCode, _desc, validatedURL, isMainFrame) => {
          // -3 = ERR_ABORTED: a navigation we (or the page) replaced, not a failure.
          if (isMainFrame && errorCode !== -3) l(validatedURL);
        });
      },
      onClosed: (l) => void win.on('closed', () => l()),
      load: async (url) => {
        try {
          await wc.loadURL(url);
        } catch (e) {
          // A redirect or our own navigation block aborts the first load; that is not a failure.
          if ((e as { code?: string }).code === 'ERR_ABORTED') return;
          throw new PageLoadError();
        }
      },
      mainFrame: () => (win.isDestroyed() ? undefined : wc.mainFrame),
      frames: () => (win.isDestroyed() ? [] : wc.mainFrame.framesInSubtree),
      showWithBanner: (message, account) => {
        banner = `${message} Account: ${account}.`;
        win.setTitle(`Lingma Relay: sign in ${account}`);
        void wc.insertCSS(bannerCss(banner)).catch(() => undefined);
        win.show();
        win.focus();
      },
      destroy: () => {
        if (!win.isDestroyed()) win.destroy();
      },
    };
  };
}

/** Clears a login partition (cookies, storage, cache). */
export async function clearLoginPartition(fromPartition: (p: string) => Session, partition: string): Promise<void> {
  const ses = fromPartition(partition);
  await ses.clearStorageData();
  await ses.clearCache();
  await ses.clearAuthCache();
}

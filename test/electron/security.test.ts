import { describe, expect, it, vi } from 'vitest';
import type { App, Session, WebContents } from 'electron';
import {
  APP_ORIGIN,
  appSchemePrivileges,
  buildCsp,
  denyAllPermissions,
  denyDownloads,
  gatewayOrigins,
  guardAppWebContents,
  installGlobalGuards,
  isAppUrl,
  loginWindowWebPreferences,
  mainWindowWebPreferences,
  validateExternalUrl,
} from '../../src-main/electron/security';
import { FakeEmitter } from './fakes';

describe('window options', () => {
  it('sets every security flag of the dashboard window', () => {
    const p = mainWindowWebPreferences('/app/preload.cjs');
    expect(p).toMatchObject({
      preload: '/app/preload.cjs',
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      experimentalFeatures: false,
      devTools: false,
    });
    expect(mainWindowWebPreferences('/p', { devTools: true }).devTools).toBe(true);
  });

  it('login windows are sandboxed, without preload, on their partition', () => {
    const p = loginWindowWebPreferences('persist:login-a');
    expect(p.preload).toBeUndefined();
    expect(p).toMatchObject({
      partition: 'persist:login-a',
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('registers the app scheme as standard and secure, without CSP bypass', () => {
    const s = appSchemePrivileges();
    expect(s.scheme).toBe('app');
    expect(s.privileges).toMatchObject({ standard: true, secure: true });
    expect(s.privileges?.bypassCSP).toBeFalsy();
    expect(s.privileges?.allowServiceWorkers).toBeFalsy();
  });
});

describe('CSP', () => {
  it('allows scripts from self only and network only to the gateway', () => {
    const csp = buildCsp('http://127.0.0.1:8420');
    const dirs = Object.fromEntries(csp.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1)]));
    expect(dirs['default-src']).toEqual(["'self'"]);
    expect(dirs['script-src']).toEqual(["'self'"]);
    expect(csp).not.toContain('unsafe-eval');
    expect(dirs['script-src']).not.toContain("'unsafe-inline'");
    expect(dirs['style-src']).toEqual(["'self'"]);
    expect(dirs['connect-src']).toEqual(["'self'", 'http://127.0.0.1:8420', 'ws://127.0.0.1:8420']);
    expect(dirs['object-src']).toEqual(["'none'"]);
    expect(dirs['frame-ancestors']).toEqual(["'none'"]);
    expect(dirs['base-uri']).toEqual(["'none'"]);
  });

  it('refuses a non-loopback or non-http gateway URL', () => {
    expect(() => gatewayOrigins('https://127.0.0.1:8420')).toThrow(/http/);
    expect(() => gatewayOrigins('http://example.com:8420')).toThrow(/loopback/);
    expect(() => gatewayOrigins('nonsense')).toThrow(/valid URL/);
    expect(gatewayOrigins('http://[::1]:9000/v1')).toEqual({ http: 'http://[::1]:9000', ws: 'ws://[::1]:9000' });
  });
});

describe('external links', () => {
  it('accepts https and loopback http', () => {
    expect(validateExternalUrl('https://github.com/x')).toBe('https://github.com/x');
    expect(validateExternalUrl('http://127.0.0.1:8420/ui/')).toBe('http://127.0.0.1:8420/ui/');
    expect(validateExternalUrl('http://localhost:3000')).toBe('http://localhost:3000/');
  });
  it.each([
    'http://example.com',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,hi',
    'smb://host/share',
    'ms-settings:',
    'https://user:pw@example.com/',
    '',
    'not a url',
    `https://example.com/${'a'.repeat(3000)}`,
  ])('refuses %s', (u) => {
    expect(validateExternalUrl(u)).toBeNull();
  });
  it('refuses non-strings', () => {
    expect(validateExternalUrl(42)).toBeNull();
    expect(validateExternalUrl({ href: 'https://x' })).toBeNull();
  });
});

describe('app URL', () => {
  it('only app://relay', () => {
    expect(isAppUrl(`${APP_ORIGIN}/index.html`)).toBe(true);
    expect(isAppUrl('app://other/index.html')).toBe(false);
    expect(isAppUrl('file:///index.html')).toBe(false);
    expect(isAppUrl('https://relay/')).toBe(false);
  });
});

describe('guards', () => {
  function fakeContents() {
    const em = new FakeEmitter();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const wc = Object.assign(em, {
      setWindowOpenHandler: (h: typeof openHandler) => {
        openHandler = h;
      },
    });
    return { wc: wc as unknown as WebContents, em, open: (url: string) => openHandler!({ url }) };
  }
  const nav = (url: string) => {
    const e = { url, isMainFrame: true, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; } };
    return e;
  };

  it('dashboard window: stays on the app protocol, opens valid links outside', () => {
    const { wc, em, open } = fakeContents();
    const opened: string[] = [];
    guardAppWebContents(wc, { openExternal: (u) => opened.push(u) });
    const inside = nav('app://relay/index.html#/keys');
    em.emit('will-navigate', inside);
    expect(inside.defaultPrevented).toBe(false);
    const out = nav('https://github.com/');
    em.emit('will-navigate', out);
    expect(out.defaultPrevented).toBe(true);
    const redirect = nav('https://evil.com/');
    em.emit('will-redirect', redirect);
    expect(redirect.defaultPrevented).toBe(true);
    const frame = nav('file:///etc/passwd');
    em.emit('will-frame-navigate', frame);
    expect(frame.defaultPrevented).toBe(true);
    expect(open('https://docs.example.com/')).toEqual({ action: 'deny' });
    expect(open('file:///etc/passwd')).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://github.com/', 'https://docs.example.com/']);
  });

  it('denies every permission and download', () => {
    const calls: Record<string, unknown> = {};
    const em = new FakeEmitter();
    const ses = Object.assign(em, {
      setPermissionRequestHandler: (h: unknown) => (calls.req = h),
      setPermissionCheckHandler: (h: unknown) => (calls.check = h),
      setDevicePermissionHandler: (h: unknown) => (calls.device = h),
      setDisplayMediaRequestHandler: (h: unknown) => (calls.display = h),
    }) as unknown as Session;
    denyAllPermissions(ses);
    denyDownloads(ses);
    const granted: boolean[] = [];
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      (calls.req as (wc: unknown, p: string, cb: (g: boolean) => void) => void)({}, p, (g) => granted.push(g));
    }
    expect(granted).toEqual([false, false, false, false, false]);
    expect((calls.check as () => boolean)()).toBe(false);
    expect((calls.device as () => boolean)()).toBe(false);
    const dl = { preventDefault: vi.fn() };
    em.emit('will-download', dl, {}, {});
    expect(dl.preventDefault).toHaveBeenCalled();
  });

  it('global guards: no webview, no window.open, certificate errors never trusted', () => {
    const app = new FakeEmitter();
    installGlobalGuards(app as unknown as App);
    const { wc, em, open } = fakeContents();
    app.emit('web-contents-created', {}, wc);
    const attach = { preventDefault: vi.fn() };
    em.emit('will-attach-webview', attach, {}, {});
    expect(attach.preventDefault).toHaveBeenCalled();
    expect(open('https://x.com')).toEqual({ action: 'deny' });
    const cb = vi.fn();
    const ev = { preventDefault: vi.fn() };
    app.emit('certificate-error', ev, wc, 'https://x.com/secret?token=1', 'net::ERR_CERT_AUTHORITY_INVALID', {}, cb, true);
    expect(ev.preventDefault).not.toHaveBeenCalled();
    expect(cb).not.toHaveBeenCalledWith(true);
  });
});
